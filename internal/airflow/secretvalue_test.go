package airflow

import (
	"strings"
	"testing"
)

func TestParseConnectionJSON(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     Connection
	}{
		{"all fields", `{"conn_type":"postgresql","host":"db","login":"u","password":"p","schema":"s","port":5432,"extra":{"a":1},"description":"d"}`,
			Connection{ConnType: "postgres", Host: ptr("db"), Login: ptr("u"), Password: ptr("p"), Schema: ptr("s"), Port: ptr(int64(5432)), Extra: ptr(`{"a":1}`), Description: ptr("d")}},
		{"port as string, extra as string", `{"conn_type":"my-type","port":"8080","extra":"{\"b\": true}"}`,
			Connection{ConnType: "my_type", Port: ptr(int64(8080)), Extra: ptr(`{"b": true}`)}},
		{"float port truncates like int()", `{"conn_type":"http","port":80.9}`, Connection{ConnType: "http", Port: ptr(int64(80))}},
		{"falsy values dropped", `{"conn_type":"","port":0,"extra":{},"password":""}`, Connection{}},
		{"nulls dropped", `{"conn_type":"http","host":null,"extra":null}`, Connection{ConnType: "http"}},
		{"repeated key keeps the last value", `{"conn_type":"http","host":"a","host":"b"}`, Connection{ConnType: "http", Host: ptr("b")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseConnectionJSON(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if f := DifferingField(got, &tc.want, true); f != "" || strOrEmpty(got.Description) != strOrEmpty(tc.want.Description) {
				t.Fatalf("field %q differs: got %+v, want %+v", f, got, tc.want)
			}
		})
	}
}

func TestParseConnectionJSONErrors(t *testing.T) {
	for in, want := range map[string]string{
		`[1]`:                                "not a JSON object",
		`{"conn_type":"http"} x`:             "not valid JSON",
		`{"conn_type":"http","uri":"x://"}`:  `unexpected key "uri"`,
		`{"conn_type":"http","port":"abc"}`:  "expected an integer port",
		`{"conn_type":"http","port":[1]}`:    "expected an integer port",
		`{"conn_type":1}`:                    "conn_type must be a string",
		`{"conn_type":"http","extra":[1]}`:   "extra must be a JSON object",
		`{"conn_type":"http","extra":"[1]"}`: "not a JSON object",
	} {
		_, err := ParseConnectionJSON(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseConnectionJSON(%s) = %v, want an error containing %q", in, err, want)
		}
	}
}

// TestSecretValueRoundTrip holds both forms to the conformance cases (which
// Airflow itself reads back in the conformance test): decoding what we
// encode gives the same fields, except where the URI form is lossy.
func TestSecretValueRoundTrip(t *testing.T) {
	for i, c := range conformanceCases() {
		value, err := EncodeSecretValue(c, FormatJSON)
		if err != nil {
			continue // refused inputs are covered by the codec tests
		}
		got, format, err := DecodeSecretValue(value)
		if err != nil || format != FormatJSON {
			t.Fatalf("case %d: DecodeSecretValue(%s) = %v, %q", i, value, err, format)
		}
		want := *c
		want.ConnType = normalizeConnType(want.ConnType)
		if f := DifferingField(got, &want, true); f != "" {
			t.Errorf("case %d: JSON round trip changes %s: %q -> %q", i, f, FieldValue(&want, f), FieldValue(got, f))
		}
		uri, err := EncodeSecretValue(c, FormatURI)
		if err != nil {
			continue
		}
		if format := SecretValueFormat("  " + uri + "\n"); format != FormatURI {
			t.Fatalf("case %d: SecretValueFormat(%s) = %q", i, uri, format)
		}
	}
}

func TestStandardizeAWSSecretJSON(t *testing.T) {
	got, err := StandardizeAWSSecretJSON(`{"user":"u","login":"l","engine":"mysql","database":"d","description":"x","other":1,"pass":"p"}`)
	if err != nil {
		t.Fatal(err)
	}
	// The first alias in the secret's order wins; unknown keys go.
	want := `{"login":"u","password":"p","schema":"d","conn_type":"mysql"}`
	if got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestDifferingField(t *testing.T) {
	base := Connection{ConnType: "http", Host: ptr("h"), Extra: ptr(`{"a":1,"b":[1,2]}`)}
	same := Connection{ConnType: "http", Host: ptr("h"), Login: ptr(""), Port: ptr(int64(0)), Extra: ptr(`{"b":[1,2.0],"a":1}`), Password: ptr("x")}
	if f := DifferingField(&base, &same, false); f != "" {
		t.Fatalf("equal connections differ in %s", f)
	}
	if f := DifferingField(&base, &same, true); f != FieldPassword {
		t.Fatalf("password difference: got %q", f)
	}
	noExtra := Connection{ConnType: "http", Extra: ptr("{}")}
	if f := DifferingField(&noExtra, &Connection{ConnType: "http"}, true); f != "" {
		t.Fatalf("an empty extra differs from none in %s", f)
	}
	other := same
	other.Extra = ptr(`{"a":2,"b":[1,2]}`)
	if f := DifferingField(&base, &other, false); f != FieldExtra {
		t.Fatalf("got %q, want extra", f)
	}
}
