package airflow

import (
	"strings"
	"testing"
)

func TestExtraObject(t *testing.T) {
	cases := []struct{ in, want string }{
		{`{"a":1,"b":{"c":[1,{"d":2}]}}`, ""},
		{"not json", "not valid JSON at line 1, column 2"},
		{"{\n  \"a\": 1,\n  \"b\": nope\n}", "not valid JSON at line 3, column 9"},
		{`{"a":1`, "unexpected end of JSON input"},
		{`[1,2]`, "got a JSON array"},
		{`"s"`, "got a JSON string"},
		{`{"a":1} {}`, "unexpected text after the JSON object"},
		{`{"token":"x","token":"y"}`, `the key "token" appears more than once`},
		{`{"n":{"k":1,"k":2}}`, `the key "k" appears more than once in "n"`},
	}
	for _, tc := range cases {
		_, err := ExtraObject(tc.in)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("ExtraObject(%q): %v", tc.in, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("ExtraObject(%q) = %v, want an error with %q", tc.in, err, tc.want)
		}
		if err != nil && (strings.Contains(err.Error(), `"x"`) || strings.Contains(err.Error(), `"y"`)) {
			t.Errorf("ExtraObject(%q) echoes a value: %v", tc.in, err)
		}
	}
}

func TestMergeAndStripExtra(t *testing.T) {
	merged, err := MergeExtra(`{"region_name":"eu-west-1","n":1}`, `{"api_key":"k","x":{"y":2}}`)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"region_name":"eu-west-1","n":1,"api_key":"k","x":{"y":2}}`; merged != want {
		t.Fatalf("MergeExtra = %s, want %s", merged, want)
	}
	if m, err := MergeExtra("", `{"api_key":"k"}`); err != nil || m != `{"api_key":"k"}` {
		t.Fatalf("MergeExtra into nothing = %s, %v", m, err)
	}
	stripped, missing, err := WithoutExtraKeys(merged, []string{"api_key", "x"})
	if err != nil || missing || stripped != `{"region_name":"eu-west-1","n":1}` {
		t.Fatalf("WithoutExtraKeys = %s, %v, %v", stripped, missing, err)
	}
	stripped, missing, err = WithoutExtraKeys(`{"region_name":"eu-west-1"}`, []string{"api_key"})
	if err != nil || !missing || stripped != `{"region_name":"eu-west-1"}` {
		t.Fatalf("WithoutExtraKeys of a removed key = %s, %v, %v", stripped, missing, err)
	}
}
