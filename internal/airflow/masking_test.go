package airflow

import (
	"reflect"
	"testing"
)

func TestUnmaskExtra(t *testing.T) {
	cases := []struct {
		name, returned, known, want string
	}{
		{
			name:     "masked top-level key takes the known value",
			returned: `{"api_token": "***", "region": "eu"}`,
			known:    `{"region":"eu","api_token":"s3cr3t"}`,
			want:     `{"api_token":"s3cr3t","region":"eu"}`,
		},
		{
			name:     "nested and list values",
			returned: `{"auth": {"password": "***", "user": "u"}, "keys": ["***", "b"]}`,
			known:    `{"auth": {"password": {"v": 1}, "user": "x"}, "keys": ["a", "b"]}`,
			want:     `{"auth": {"password": {"v": 1}, "user": "u"}, "keys": ["a", "b"]}`,
		},
		{
			name:     "changed non-masked value stays as returned (drift)",
			returned: `{"secret": "***", "host": "changed"}`,
			known:    `{"secret": "x", "host": "orig"}`,
			want:     `{"secret": "x", "host": "changed"}`,
		},
		{
			name:     "key added out of band keeps its mask (drift)",
			returned: `{"token": "***"}`,
			known:    `{}`,
			want:     `{"token": "***"}`,
		},
		{
			name:     "key removed out of band stays removed (drift)",
			returned: `{}`,
			known:    `{"token": "x"}`,
			want:     `{}`,
		},
		{
			name:     "list of another length is not matched by position",
			returned: `{"l": ["***"]}`,
			known:    `{"l": ["a", "b"]}`,
			want:     `{"l": ["***"]}`,
		},
		{
			name:     "large numbers keep their digits",
			returned: `{"n": 12345678901234567890, "password": "***"}`,
			known:    `{"n": 1, "password": "p"}`,
			want:     `{"n": 12345678901234567890, "password": "p"}`,
		},
		{
			name:     "no known value",
			returned: `{"password": "***"}`,
			known:    ``,
			want:     `{"password": "***"}`,
		},
		{
			name:     "known is not JSON",
			returned: `{"password": "***"}`,
			known:    `not json`,
			want:     `{"password": "***"}`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := UnmaskExtra(tc.returned, tc.known)
			if err != nil {
				t.Fatalf("UnmaskExtra: %v", err)
			}
			if !jsonEqual(t, got, tc.want) {
				t.Errorf("UnmaskExtra(%s, %s) = %s, want %s", tc.returned, tc.known, got, tc.want)
			}
		})
	}
}

func TestUnmaskExtraCanonicalForm(t *testing.T) {
	// The form Terraform's jsonencode writes: compact, sorted, HTML-escaped.
	got, err := UnmaskExtra(`{"z": 1, "a": {"y": "<&>", "b": 1.50}, "m": [3, 1]}`, ``)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"a":{"b":1.50,"y":"\u003c\u0026\u003e"},"m":[3,1],"z":1}`
	if got != want {
		t.Errorf("canonical form = %s, want %s", got, want)
	}
}

func TestUnmaskExtraEmptyAndInvalid(t *testing.T) {
	if got, err := UnmaskExtra("", `{"a":1}`); err != nil || got != "" {
		t.Errorf("empty returned: got %q, %v", got, err)
	}
	if _, err := UnmaskExtra("{broken", `{"a":1}`); err == nil {
		t.Error("returned that is not JSON: want an error, got none")
	}
}

func jsonEqual(t *testing.T, a, b string) bool {
	t.Helper()
	// Numbers are compared by their digits, so precision loss shows.
	va, err := decodeJSON(a)
	if err != nil {
		t.Fatalf("not JSON: %s: %v", a, err)
	}
	vb, err := decodeJSON(b)
	if err != nil {
		t.Fatalf("not JSON: %s: %v", b, err)
	}
	return reflect.DeepEqual(va, vb)
}
