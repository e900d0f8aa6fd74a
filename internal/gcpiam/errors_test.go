package gcpiam

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/api/googleapi"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/denied"
)

func TestDeniedHint(t *testing.T) {
	info := func(meta map[string]any) []any {
		return []any{map[string]any{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "IAM_PERMISSION_DENIED", "metadata": meta}}
	}
	cases := []struct {
		name string
		err  error
		want []string
	}{
		{"need attached by the caller", fmt.Errorf("adding a version: %w", denied.Wrap(&googleapi.Error{Code: 403, Message: "Permission denied."},
			denied.Need{Service: "Secret Manager", Permission: "secretmanager.versions.add", Resource: "projects/p/secrets/s"})),
			[]string{"Secret Manager needs secretmanager.versions.add on projects/p/secrets/s", "roles/secretmanager.admin"}},
		{"IAM policy read, from ErrorInfo", &googleapi.Error{Code: 403, Message: "Permission 'iam.serviceAccounts.getIamPolicy' denied on resource (or it may not exist).",
			Details: info(map[string]any{"permission": "iam.serviceAccounts.getIamPolicy"})},
			[]string{"IAM needs iam.serviceAccounts.getIamPolicy on the resource named above", "roles/iam.serviceAccountAdmin"}},
		{"token, from the message", &googleapi.Error{Code: 403, Message: "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist)."},
			[]string{"IAM Service Account Credentials needs iam.serviceAccounts.getAccessToken", "roles/iam.serviceAccountTokenCreator"}},
		{"admin message with the resource", &googleapi.Error{Code: 403, Message: "Permission iam.serviceAccounts.get is required to perform this operation on service account projects/p/serviceAccounts/a@p.iam.gserviceaccount.com."},
			[]string{"IAM needs iam.serviceAccounts.get on projects/p/serviceAccounts/a@p.iam.gserviceaccount.com"}},
		{"project policy, with ErrorInfo resource", &googleapi.Error{Code: 403, Message: "denied",
			Details: info(map[string]any{"permission": "resourcemanager.projects.getIamPolicy", "resource": "projects/p"})},
			[]string{"Cloud Resource Manager needs resourcemanager.projects.getIamPolicy on projects/p"}},
		{"nothing to go on", &googleapi.Error{Code: 403, Message: "The caller does not have permission"},
			[]string{"lacks a permission on the resource named above"}},
	}
	for _, tc := range cases {
		got := DeniedHint(tc.err)
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: DeniedHint = %q, want it to contain %q", tc.name, got, w)
			}
		}
		if strings.Contains(got, "iam.serviceAccounts.getIamPolicy") && !strings.Contains(tc.name, "IAM policy") {
			t.Errorf("%s: the hint speaks of IAM policies: %q", tc.name, got)
		}
	}
}
