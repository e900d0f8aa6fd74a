package awspolicy

import (
	"net/url"
	"reflect"
	"strings"
	"testing"
)

func TestParsePolicy(t *testing.T) {
	p, err := Parse(`{
		"Version": "2012-10-17",
		"Id": "trust",
		"Statement": [
			{
				"Sid": "GoogleFederation",
				"Effect": "Allow",
				"Principal": {"Federated": "accounts.google.com", "AWS": ["arn:aws:iam::123456789012:root", "arn:aws:iam::210987654321:root"]},
				"Action": ["sts:AssumeRoleWithWebIdentity", "sts:TagSession"],
				"Condition": {
					"StringEquals": {"accounts.google.com:aud": ["1", "a@p.iam.gserviceaccount.com"], "accounts.google.com:oaud": "x"},
					"NumericLessThan": {"aws:MultiFactorAuthAge": 3600},
					"Bool": {"aws:SecureTransport": true}
				}
			},
			{"Effect": "Deny", "Principal": "*", "NotAction": "sts:*", "Resource": "*"}
		]
	}`)
	if err != nil {
		t.Fatal(err)
	}
	want := &Document{
		Version: "2012-10-17",
		Statements: []Statement{
			{
				Sid:    "GoogleFederation",
				Effect: "Allow",
				Principal: map[string][]string{
					"Federated": {"accounts.google.com"},
					"AWS":       {"arn:aws:iam::123456789012:root", "arn:aws:iam::210987654321:root"},
				},
				Action: []string{"sts:AssumeRoleWithWebIdentity", "sts:TagSession"},
				Condition: map[string]map[string][]string{
					"StringEquals":    {"accounts.google.com:aud": {"1", "a@p.iam.gserviceaccount.com"}, "accounts.google.com:oaud": {"x"}},
					"NumericLessThan": {"aws:MultiFactorAuthAge": {"3600"}},
					"Bool":            {"aws:SecureTransport": {"true"}},
				},
			},
			{Effect: "Deny", Principal: map[string][]string{"*": {"*"}}, NotAction: []string{"sts:*"}, Resource: []string{"*"}},
		},
	}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("Parse =\n%#v\nwant\n%#v", p, want)
	}
}

func TestParsePolicyURLEncoded(t *testing.T) {
	plain := GoogleTrust("1234567890", "a@p.iam.gserviceaccount.com", "aud").JSON()
	for _, encoded := range []string{
		url.QueryEscape(plain),
		strings.ReplaceAll(url.QueryEscape(plain), "+", "%20"),
		url.PathEscape(plain),
		"  " + url.QueryEscape(plain) + "\n",
	} {
		p, err := Parse(encoded)
		if err != nil {
			t.Fatalf("Parse(%q): %v", encoded, err)
		}
		if got := p.JSON(); got != plain {
			t.Errorf("decoded %q to\n%s\nwant\n%s", encoded, got, plain)
		}
	}
}

func TestParsePolicyErrors(t *testing.T) {
	valid := `"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},"Action":"sts:AssumeRoleWithWebIdentity"`
	tests := []struct {
		name, doc, want string
	}{
		{"empty", "  ", "empty"},
		{"malformed JSON", `{"Version":"2012-10-17","Statement":[{` + valid + `}]`, "not valid JSON"},
		{"malformed JSON trailing comma", `{"Version":"2012-10-17","Statement":[{` + valid + `},]}`, "not valid JSON"},
		{"trailing data", `{"Statement":[{` + valid + `}]} {}`, "after its top-level object"},
		{"not an object", `["Statement"]`, "must be a JSON object"},
		{"bad URL encoding", `%7B%ZZ`, "neither a JSON object nor URL-encoded JSON"},
		{"bad Effect", `{"Version":"2012-10-17","Statement":[{` + valid + `},{"Effect":"Permit","Principal":"*","Action":"sts:AssumeRole"}]}`,
			`Statement[1].Effect must be Allow or Deny, got "Permit"`},
		{"lower-case Effect", `{"Statement":{"Effect":"allow","Principal":"*","Action":"*"}}`, `Statement[0].Effect must be Allow or Deny, got "allow"`},
		{"Effect not a string", `{"Statement":{"Effect":true,"Principal":"*","Action":"*"}}`, "Statement[0].Effect must be a string, got boolean"},
		{"missing Effect", `{"Statement":{"Principal":"*","Action":"*"}}`, "Statement[0].Effect is missing"},
		{"missing Statement", `{"Version":"2012-10-17"}`, "Statement is missing"},
		{"null Statement", `{"Version":"2012-10-17","Statement":null}`, "Statement is missing"},
		{"empty Statement", `{"Version":"2012-10-17","Statement":[]}`, "Statement must not be an empty list"},
		{"Statement a string", `{"Version":"2012-10-17","Statement":"Allow"}`, "Statement must be an object or a list of objects, got string"},
		{"Statement a number", `{"Version":"2012-10-17","Statement":1}`, "Statement must be an object or a list of objects, got number"},
		{"Statement element not an object", `{"Statement":[{` + valid + `},"x"]}`, "Statement[1] must be an object, got string"},
		{"bad Version", `{"Version":"2012-10-18","Statement":{` + valid + `}}`, `Version must be "2012-10-17" or "2008-10-17", got "2012-10-18"`},
		{"Version a number", `{"Version":2012,"Statement":{` + valid + `}}`, "Version must be a string, got number"},
		{"unknown top-level element", `{"Version":"2012-10-17","Statements":[{` + valid + `}]}`, `unknown element "Statements"`},
		{"misspelt statement element", `{"Statement":[{` + valid + `,"condition":{}}]}`, `Statement[0] has the element "condition": element names are case-sensitive, did you mean "Condition"?`},
		{"unknown statement element", `{"Statement":[{` + valid + `,"Principals":"*"}]}`, `Statement[0] has the unknown element "Principals"`},
		{"Principal string other than star", `{"Statement":{"Effect":"Allow","Principal":"accounts.google.com","Action":"*"}}`, `Statement[0].Principal must be "*" or an object`},
		{"Principal value a number", `{"Statement":{"Effect":"Allow","Principal":{"AWS":123456789012},"Action":"*"}}`, "Statement[0].Principal.AWS must be a string or a list of strings, got number"},
		{"Principal list element", `{"Statement":{"Effect":"Allow","Principal":{"AWS":["a",{}]},"Action":"*"}}`, "Statement[0].Principal.AWS[1] must be a string, got object"},
		{"Principal and NotPrincipal", `{"Statement":{"Effect":"Deny","Principal":"*","NotPrincipal":{"AWS":"x"},"Action":"*"}}`, "Statement[0] has both Principal and NotPrincipal"},
		{"missing Action", `{"Statement":{"Effect":"Allow","Principal":"*"}}`, "Statement[0].Action is missing"},
		{"Action and NotAction", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","NotAction":"s3:*"}}`, "Statement[0] has both Action and NotAction"},
		{"Action a number", `{"Statement":{"Effect":"Allow","Principal":"*","Action":1}}`, "Statement[0].Action must be a string or a list of strings, got number"},
		{"empty Action list", `{"Statement":{"Effect":"Allow","Principal":"*","Action":[]}}`, "Statement[0].Action must not be an empty list"},
		{"Sid a number", `{"Statement":{"Sid":1,` + valid + `}}`, "Statement[0].Sid must be a string, got number"},
		{"Condition a list", `{"Statement":{` + valid + `,"Condition":[]}}`, "Statement[0].Condition must be an object of operators, got array"},
		{"Condition operator a string", `{"Statement":{` + valid + `,"Condition":{"StringEquals":"x"}}}`, "Statement[0].Condition.StringEquals must be an object of condition keys, got string"},
		{"Condition value an object", `{"Statement":{` + valid + `,"Condition":{"StringEquals":{"accounts.google.com:aud":{"x":1}}}}}`, "Statement[0].Condition.StringEquals.accounts.google.com:aud must be a string, number, boolean or a list of them, got object"},
		{"Condition keys differing in case", `{"Statement":{` + valid + `,"Condition":{"StringEquals":{"accounts.google.com:aud":"1","Accounts.Google.Com:Aud":"2"}}}}`, "differ only in case"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse(tc.doc)
			if err == nil {
				t.Fatalf("no error; parsed %s", p.JSON())
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestGoogleTrustPolicyGolden(t *testing.T) {
	got := GoogleTrust("112233445566778899000", "airflow@proj.iam.gserviceaccount.com", "https://airflow.example.com").JSON()
	want := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},` +
		`"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{` +
		`"accounts.google.com:aud":["112233445566778899000","airflow@proj.iam.gserviceaccount.com"],` +
		`"accounts.google.com:oaud":"https://airflow.example.com",` +
		`"accounts.google.com:sub":"112233445566778899000"}}}]}`
	if got != want {
		t.Errorf("GoogleTrust JSON =\n%s\nwant\n%s", got, want)
	}
	// It round-trips.
	p, err := Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	if again := p.JSON(); again != got {
		t.Errorf("round trip =\n%s\nwant\n%s", again, got)
	}
}

func TestJSONRendering(t *testing.T) {
	p := &Document{
		Version: "2012-10-17",
		Statements: []Statement{
			{
				Effect:    "Allow",
				Principal: map[string][]string{"*": {"*"}},
				Action:    []string{"sts:b", "sts:a", "sts:b"},
				Condition: map[string]map[string][]string{
					"StringLike":   {"k:b": {"x<y&z"}, "K:a": {"2", "1"}},
					"StringEquals": {},
				},
			},
			{
				Sid:          "Second",
				Effect:       "Deny",
				NotPrincipal: map[string][]string{"Service": {"z.amazonaws.com", "a.amazonaws.com"}, "AWS": {"arn"}},
				NotAction:    []string{"iam:*"},
				NotResource:  []string{"arn:aws:s3:::b/*"},
			},
		},
	}
	want := `{"Version":"2012-10-17","Statement":[` +
		`{"Effect":"Allow","Principal":"*","Action":["sts:a","sts:b"],"Condition":{"StringLike":{"K:a":["1","2"],"k:b":"x<y&z"}}},` +
		`{"Sid":"Second","Effect":"Deny","NotPrincipal":{"AWS":"arn","Service":["a.amazonaws.com","z.amazonaws.com"]},"NotAction":"iam:*","NotResource":"arn:aws:s3:::b/*"}]}`
	for range 20 { // map iteration order varies between runs
		if got := p.JSON(); got != want {
			t.Fatalf("JSON =\n%s\nwant\n%s", got, want)
		}
	}
	if p.Statements[0].Action[0] != "sts:b" {
		t.Error("JSON modified the document")
	}
	var nilDoc *Document
	if got := nilDoc.JSON(); got != "null" {
		t.Errorf("nil JSON = %q", got)
	}
}

// Documents that mean the same, written differently.
const (
	testPolicyA = `{"Version":"2012-10-17","Statement":[
		{"Sid":"Google","Effect":"Allow","Principal":{"Federated":"accounts.google.com"},"Action":"sts:AssumeRoleWithWebIdentity",
		 "Condition":{"StringEquals":{"accounts.google.com:aud":["123","a@p.iam.gserviceaccount.com"],"accounts.google.com:sub":"123","accounts.google.com:oaud":"aud"}}},
		{"Effect":"Allow","Principal":{"Service":["ec2.amazonaws.com","lambda.amazonaws.com"]},"Action":"sts:AssumeRole"}]}`
	testPolicyB = `{
  "Statement": [
    {
      "Action": ["sts:AssumeRole"],
      "Effect": "Allow",
      "Principal": {"Service": ["lambda.amazonaws.com", "ec2.amazonaws.com"]},
      "Sid": ""
    },
    {
      "Condition": {
        "StringEquals": {
          "Accounts.Google.Com:OAUD": ["aud"],
          "accounts.google.com:SUB": "123",
          "ACCOUNTS.GOOGLE.COM:aud": ["a@p.iam.gserviceaccount.com", "123", "123"]
        }
      },
      "Principal": {"Federated": ["accounts.google.com"]},
      "Action": "sts:AssumeRoleWithWebIdentity",
      "Effect": "Allow",
      "Sid": "Google"
    }
  ],
  "Version": "2012-10-17"
}`
)

func TestPoliciesEqual(t *testing.T) {
	equal := []struct{ name, a, b string }{
		{"reordered statements, members, keys, case, whitespace, single vs list, empty Sid", testPolicyA, testPolicyB},
		{"URL-encoded vs plain", testPolicyA, url.QueryEscape(testPolicyB)},
		{"URL-encoded both", url.PathEscape(testPolicyA), url.QueryEscape(testPolicyA)},
		{"single Statement object vs list",
			`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}}`,
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":["sts:AssumeRole"]}]}`},
		{"missing Sid vs empty Sid",
			`{"Statement":{"Effect":"Allow","Principal":"*","Action":"x"}}`,
			`{"Statement":{"Sid":"","Effect":"Allow","Principal":"*","Action":"x"}}`},
		{"provider policy vs hand-written",
			GoogleTrust("123", "a@p.iam.gserviceaccount.com", "aud").JSON(),
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},"Action":["sts:AssumeRoleWithWebIdentity"],
			  "Condition":{"StringEquals":{"accounts.google.com:sub":["123"],"accounts.google.com:aud":["a@p.iam.gserviceaccount.com","123"],"accounts.google.com:oaud":"aud"}}}]}`},
	}
	for _, tc := range equal {
		t.Run(tc.name, func(t *testing.T) {
			for _, pair := range [][2]string{{tc.a, tc.b}, {tc.b, tc.a}} {
				eq, err := Equal(pair[0], pair[1])
				if err != nil {
					t.Fatal(err)
				}
				if !eq {
					t.Errorf("not equal:\n%s\n%s", pair[0], pair[1])
				}
			}
		})
	}

	notEqual := []struct{ name, a, b string }{
		{"changed condition value", testPolicyA, strings.Replace(testPolicyB, `"accounts.google.com:SUB": "123"`, `"accounts.google.com:SUB": "124"`, 1)},
		{"changed audience", GoogleTrust("1", "e@p", "aud").JSON(), GoogleTrust("1", "e@p", "aud2").JSON()},
		{"dropped email", GoogleTrust("1", "e@p", "aud").JSON(), GoogleTrust("1", "", "aud").JSON()},
		{"condition value case", GoogleTrust("1", "e@p", "aud").JSON(), GoogleTrust("1", "e@p", "AUD").JSON()},
		{"operator name case",
			`{"Statement":{"Effect":"Allow","Principal":"*","Action":"x","Condition":{"StringEquals":{"k":"v"}}}}`,
			`{"Statement":{"Effect":"Allow","Principal":"*","Action":"x","Condition":{"stringequals":{"k":"v"}}}}`},
		{"changed Sid", `{"Statement":{"Sid":"a","Effect":"Allow","Principal":"*","Action":"x"}}`, `{"Statement":{"Sid":"b","Effect":"Allow","Principal":"*","Action":"x"}}`},
		{"changed Effect", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"x"}}`, `{"Statement":{"Effect":"Deny","Principal":"*","Action":"x"}}`},
		{"Action vs NotAction", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"x"}}`, `{"Statement":{"Effect":"Allow","Principal":"*","NotAction":"x"}}`},
		{"extra statement", testPolicyA, strings.Replace(testPolicyA, `"Action":"sts:AssumeRole"}]}`, `"Action":"sts:AssumeRole"},{"Effect":"Deny","Principal":"*","Action":"*"}]}`, 1)},
		{"missing Version", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"x"}}`, `{"Statement":{"Effect":"Allow","Principal":"*","Action":"x"}}`},
	}
	for _, tc := range notEqual {
		t.Run(tc.name, func(t *testing.T) {
			eq, err := Equal(tc.a, tc.b)
			if err != nil {
				t.Fatal(err)
			}
			if eq {
				t.Errorf("equal:\n%s\n%s", tc.a, tc.b)
			}
		})
	}

	if _, err := Equal(testPolicyA, `{"Statement":`); err == nil || !strings.Contains(err.Error(), "second policy") {
		t.Errorf("error = %v, want one naming the second policy", err)
	}
	if _, err := Equal(`nope`, testPolicyA); err == nil || !strings.Contains(err.Error(), "first policy") {
		t.Errorf("error = %v, want one naming the first policy", err)
	}
}

func TestCanonicalPolicy(t *testing.T) {
	a, err := Canonical(testPolicyA)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"Version":"2012-10-17","Statement":[` +
		`{"Effect":"Allow","Principal":{"Service":["ec2.amazonaws.com","lambda.amazonaws.com"]},"Action":"sts:AssumeRole"},` +
		`{"Sid":"Google","Effect":"Allow","Principal":{"Federated":"accounts.google.com"},"Action":"sts:AssumeRoleWithWebIdentity",` +
		`"Condition":{"StringEquals":{"accounts.google.com:aud":["123","a@p.iam.gserviceaccount.com"],"accounts.google.com:oaud":"aud","accounts.google.com:sub":"123"}}}]}`
	if a != want {
		t.Errorf("Canonical =\n%s\nwant\n%s", a, want)
	}
	// Statement order, encoding, list order and whitespace do not change it.
	reordered := `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"Service":["lambda.amazonaws.com","ec2.amazonaws.com"]},"Action":["sts:AssumeRole"]},
		{"Sid":"Google","Effect":"Allow","Principal":{"Federated":"accounts.google.com"},"Action":"sts:AssumeRoleWithWebIdentity",
		 "Condition":{"StringEquals":{"accounts.google.com:oaud":"aud","accounts.google.com:sub":"123","accounts.google.com:aud":["a@p.iam.gserviceaccount.com","123"]}}}]}`
	for _, doc := range []string{reordered, url.QueryEscape(reordered), testPolicyA, url.PathEscape(testPolicyA)} {
		for range 10 {
			got, err := Canonical(doc)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Fatalf("Canonical(%s) =\n%s\nwant\n%s", doc, got, want)
			}
		}
	}
	// The canonical form is a fixed point and means the same.
	again, err := Canonical(a)
	if err != nil || again != a {
		t.Errorf("Canonical is not idempotent: %q, %v", again, err)
	}
	if eq, err := Equal(a, testPolicyB); err != nil || !eq {
		t.Errorf("canonical form differs from the original: %v %v", eq, err)
	}
	if _, err := Canonical(`{"Statement":[{"Effect":"Permit"}]}`); err == nil || !strings.Contains(err.Error(), "Effect") {
		t.Errorf("error = %v", err)
	}
}

// TestJSONPreservesStatementOrder: JSON keeps the document's order (the
// evaluator reports statement indexes), Canonical sorts.
func TestJSONPreservesStatementOrder(t *testing.T) {
	doc := `{"Statement":[{"Sid":"Z","Effect":"Allow","Principal":"*","Action":"x"},{"Sid":"A","Effect":"Allow","Principal":"*","Action":"x"}]}`
	p, err := Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.JSON(); !strings.HasPrefix(got, `{"Statement":[{"Sid":"Z"`) {
		t.Errorf("JSON = %s", got)
	}
	if got, _ := Canonical(doc); !strings.HasPrefix(got, `{"Statement":[{"Sid":"A"`) {
		t.Errorf("Canonical = %s", got)
	}
}
