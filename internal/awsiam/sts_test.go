package awsiam

import (
	"strings"
	"testing"
)

func TestRoleNameFromARN(t *testing.T) {
	for in, want := range map[string]string{
		"arn:aws:iam::123456789012:role/etl":              "etl",
		"arn:aws:iam::123456789012:role/airflow/prod/etl": "etl",
		"arn:aws-cn:iam::123456789012:role/etl":           "etl",
	} {
		if got, err := RoleNameFromARN(in); err != nil || got != want {
			t.Errorf("RoleNameFromARN(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "etl", "arn:aws:iam::123456789012", "arn:aws:iam::123456789012:user/etl",
		"arn:aws:sts::123456789012:assumed-role/etl/session", "aws:iam::123456789012:role/etl:x"} {
		if _, err := RoleNameFromARN(bad); err == nil || !strings.Contains(err.Error(), "is not an IAM role ARN") {
			t.Errorf("RoleNameFromARN(%q) = %v, want an error", bad, err)
		}
	}
}
