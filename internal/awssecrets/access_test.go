package awssecrets

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

const testSecretARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:airflow/connections/db-AbCdEf"

func TestReadersPolicyKeepsForeignStatements(t *testing.T) {
	foreign := `{"Version":"2012-10-17","Statement":[{"Sid":"Audit","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/audit"},"Action":"secretsmanager:DescribeSecret","Resource":"*"}]}`
	r := &Readers{
		Readers:        []string{"arn:aws:iam::123456789012:role/task-b", "arn:aws:iam::123456789012:role/task-a"},
		Administrators: []string{"arn:aws:iam::123456789012:role/terraform"},
	}
	doc, err := ReadersPolicy(foreign, testSecretARN, r)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(doc, `"Sid":"Audit"`) {
		t.Fatalf("foreign statement dropped: %s", doc)
	}
	var p policyDoc
	if err := json.Unmarshal([]byte(doc), &p); err != nil || len(p.Statement) != 3 {
		t.Fatalf("policy %s: %v", doc, err)
	}
	deny := p.Statement[2]
	if deny["Effect"] != "Deny" || deny["Principal"] != "*" {
		t.Fatalf("deny statement %v", deny)
	}
	var shape struct {
		Condition struct {
			StringEquals map[string]string   `json:"StringEquals"`
			ArnNotEquals map[string][]string `json:"ArnNotEquals"`
		}
	}
	raw, _ := json.Marshal(deny)
	if err := json.Unmarshal(raw, &shape); err != nil {
		t.Fatal(err)
	}
	if shape.Condition.StringEquals["aws:PrincipalAccount"] != "123456789012" {
		t.Fatalf("deny is not limited to the secret's account: %s", raw)
	}
	if got := shape.Condition.ArnNotEquals["aws:PrincipalArn"]; len(got) != 3 {
		t.Fatalf("deny exceptions %v, want both readers and the administrator", got)
	}

	back, err := ParseReaders(doc)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(back.Readers)
	if !slices.Equal(back.Readers, []string{"arn:aws:iam::123456789012:role/task-a", "arn:aws:iam::123456789012:role/task-b"}) ||
		!slices.Equal(back.Administrators, r.Administrators) {
		t.Fatalf("ParseReaders = %+v", back)
	}

	// Removing the owned statements leaves the foreign one exactly.
	rest, err := ReadersPolicy(doc, testSecretARN, nil)
	if err != nil || !strings.Contains(rest, `"Sid":"Audit"`) || strings.Contains(rest, ReadersSid) || strings.Contains(rest, OthersDeniedSid) {
		t.Fatalf("after removal: %s, %v", rest, err)
	}
	if none, err := ReadersPolicy("", testSecretARN, nil); err != nil || none != "" {
		t.Fatalf("nothing to keep: %q, %v", none, err)
	}
}

func TestReadersPolicyNoReaders(t *testing.T) {
	// No reader: no allow statement (an empty principal list is invalid), and
	// the deny spares only the administrators.
	doc, err := ReadersPolicy("", testSecretARN, &Readers{Administrators: []string{"arn:aws:iam::123456789012:role/terraform"}})
	if err != nil || strings.Contains(doc, ReadersSid) || !strings.Contains(doc, OthersDeniedSid) {
		t.Fatalf("policy %s, %v", doc, err)
	}
	if r, _ := ParseReaders(doc); len(r.Readers) != 0 || len(r.Administrators) != 1 {
		t.Fatalf("ParseReaders = %+v", r)
	}
	if AccountOf("arn:aws:iam::210987654321:role/x") != "210987654321" || AccountOf("nope") != "" {
		t.Fatal("AccountOf")
	}
}
