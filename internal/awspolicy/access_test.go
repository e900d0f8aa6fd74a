package awspolicy

import (
	"strings"
	"testing"
)

const (
	testAccount = "123456789012"
	testSecret  = "arn:aws:secretsmanager:us-east-1:123456789012:secret:airflow/connections/db-AbCdEf"
	roleA       = "arn:aws:iam::123456789012:role/task-a"
	roleB       = "arn:aws:iam::123456789012:role/task-b"
)

// readersPolicy is the resource policy airflowiam_aws_secret_connection
// writes for the reader task-a.
const readersPolicy = `{"Version":"2012-10-17","Statement":[
 {"Sid":"AirflowIAMReaders","Effect":"Allow","Principal":{"AWS":["` + roleA + `"]},"Action":"secretsmanager:GetSecretValue","Resource":"*"},
 {"Sid":"AirflowIAMOthersDenied","Effect":"Deny","Principal":"*","Action":"secretsmanager:GetSecretValue","Resource":"*",
  "Condition":{"StringEquals":{"aws:PrincipalAccount":"123456789012"},"ArnNotEquals":{"aws:PrincipalArn":["` + roleA + `"]}}}]}`

const readAll = `{"Version":"2012-10-17","Statement":[{"Sid":"ReadAll","Effect":"Allow","Action":"secretsmanager:Get*","Resource":"arn:aws:secretsmanager:*:*:secret:*"}]}`

func mustParse(t *testing.T, doc string) *Document {
	t.Helper()
	p, err := Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestEvaluateAccess(t *testing.T) {
	res := NamedPolicy{Name: "the secret's resource policy", Resource: true, Doc: mustParse(t, readersPolicy)}
	all := NamedPolicy{Name: "inline policy all", Doc: mustParse(t, readAll)}
	rootOnly := NamedPolicy{Name: "root", Resource: true, Doc: mustParse(t,
		`{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"secretsmanager:*","Resource":"*"}}`)}
	notPrincipal := NamedPolicy{Name: "np", Resource: true, Doc: mustParse(t,
		`{"Statement":{"Sid":"OnlyA","Effect":"Deny","NotPrincipal":{"AWS":"`+roleA+`"},"NotAction":"secretsmanager:Describe*","Resource":"*"}}`)}
	conditional := NamedPolicy{Name: "ip", Doc: mustParse(t,
		`{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}}`)}
	req := func(role string) AccessRequest {
		return AccessRequest{PrincipalARN: role, Account: testAccount, Action: "secretsmanager:GetSecretValue", Resource: testSecret}
	}
	for _, tc := range []struct {
		name      string
		policies  []NamedPolicy
		role      string
		want      Verdict
		explain   string
		delegated bool
	}{
		{"reader by resource policy", []NamedPolicy{res}, roleA, VerdictAllowed, `allowed by statement 0 (Sid "AirflowIAMReaders") of the secret's resource policy`, false},
		{"non-reader implicitly", []NamedPolicy{res}, roleB, VerdictDenied, `denied explicitly by statement 1 (Sid "AirflowIAMOthersDenied")`, false},
		{"non-reader with identity allow still denied", []NamedPolicy{res, all}, roleB, VerdictDenied, `AirflowIAMOthersDenied`, false},
		{"identity allow without resource policy", []NamedPolicy{all}, roleB, VerdictAllowed, `allowed by statement 0 (Sid "ReadAll") of inline policy all`, false},
		{"nothing allows", nil, roleB, VerdictDenied, "implicitly denied", false},
		{"account principal delegates", []NamedPolicy{rootOnly}, roleB, VerdictDenied, "implicitly denied", true},
		{"account principal plus identity", []NamedPolicy{rootOnly, all}, roleB, VerdictAllowed, "ReadAll", true},
		{"NotPrincipal deny", []NamedPolicy{notPrincipal, all}, roleB, VerdictDenied, `Sid "OnlyA"`, false},
		{"NotPrincipal spares the named", []NamedPolicy{notPrincipal, all}, roleA, VerdictAllowed, "ReadAll", false},
		{"unknown condition", []NamedPolicy{conditional}, roleB, VerdictUnknown, "aws:SourceIp", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := EvaluateAccess(tc.policies, req(tc.role))
			if d.Verdict != tc.want || d.Delegated != tc.delegated {
				t.Fatalf("verdict %s delegated %v, want %s %v: %s", d.Verdict, d.Delegated, tc.want, tc.delegated, d.Explain())
			}
			if got := d.Explain(); !strings.Contains(got, tc.explain) {
				t.Errorf("explanation %q lacks %q", got, tc.explain)
			}
		})
	}
}

func TestEvaluateAccess_resourceAndAction(t *testing.T) {
	other := NamedPolicy{Name: "other", Doc: mustParse(t,
		`{"Statement":{"Effect":"Allow","Action":"secretsmanager:DescribeSecret","Resource":"arn:aws:secretsmanager:*:*:secret:other-*"}}`)}
	notRes := NamedPolicy{Name: "notres", Doc: mustParse(t,
		`{"Statement":{"Effect":"Allow","Action":"SecretsManager:getsecretvalue","NotResource":"arn:aws:secretsmanager:*:*:secret:other-*"}}`)}
	req := AccessRequest{PrincipalARN: roleB, Account: testAccount, Action: "secretsmanager:GetSecretValue", Resource: testSecret}
	if d := EvaluateAccess([]NamedPolicy{other}, req); d.Verdict != VerdictDenied {
		t.Errorf("another action on another secret allowed: %s", d.Explain())
	}
	if d := EvaluateAccess([]NamedPolicy{notRes}, req); d.Verdict != VerdictAllowed {
		t.Errorf("NotResource outside the secret, action in another case: %s", d.Explain())
	}
}
