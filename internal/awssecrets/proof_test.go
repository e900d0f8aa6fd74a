package awssecrets

import (
	"testing"

	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
)

func TestCoversSecret(t *testing.T) {
	const arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:airflow/connections/db-AbCdEf"
	for _, tc := range []struct {
		name string
		c    *kmstypes.GrantConstraints
		want bool
	}{
		{"no constraint", nil, true},
		{"empty constraint", &kmstypes.GrantConstraints{}, true},
		{"this secret", &kmstypes.GrantConstraints{EncryptionContextSubset: map[string]string{"SecretARN": arn}}, true},
		{"another secret", &kmstypes.GrantConstraints{EncryptionContextSubset: map[string]string{"SecretARN": arn + "x"}}, false},
		{"one version only", &kmstypes.GrantConstraints{EncryptionContextSubset: map[string]string{"SecretARN": arn, "SecretVersionId": "v1"}}, false},
		{"exact context", &kmstypes.GrantConstraints{EncryptionContextEquals: map[string]string{"SecretARN": arn}}, false},
	} {
		if got := coversSecret(tc.c, arn); got != tc.want {
			t.Errorf("%s: covers = %v, want %v", tc.name, got, tc.want)
		}
	}
}
