package provider

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/acctest"
)

// Each way airflow.mwaa_environment can fail is one error during plan
// that names what is wrong and what to do.
func TestAccMWAA_planTimeErrors(t *testing.T) {
	af := acctest.MWAAFront(t, acctest.Airflow3(t))
	front := af.Front
	resourceConfig := "resource \"airflowiam_connection\" \"test\" {\n  connection_id = \"tfacc-mwaa-plan\"\n  conn_type = \"http\"\n}\n"
	dataConfig := "data \"airflowiam_connection\" \"test\" {\n  connection_id = \"tfacc-mwaa-plan\"\n}\n"
	airflowBlockFor := func(name string) string {
		return fmt.Sprintf("  airflow {\n    mwaa_environment = %q\n  }\n", name)
	}
	provider := func(blocks ...string) string {
		s := "\nprovider \"airflowiam\" {\n"
		for _, b := range blocks {
			s += b
		}
		return s + "}\n"
	}
	cases := []struct {
		name, config string
		before       func()
		want         *regexp.Regexp
	}{
		{
			name:   "invalid name",
			config: provider(airflowBlockFor("9-not-a-name"), mwaaAWSBlock(front, front.AccessKeyID)) + resourceConfig,
			want:   regexp.MustCompile(`(?s)mwaa_environment.*must be an MWAA environment name`),
		},
		{
			name: "with an endpoint",
			config: provider("  airflow {\n    mwaa_environment = \"env\"\n    endpoint = \"https://airflow.example.com\"\n  }\n",
				mwaaAWSBlock(front, front.AccessKeyID)) + resourceConfig,
			want: regexp.MustCompile(`(?s)Invalid Attribute Combination.*endpoint`),
		},
		{
			name:   "no aws block",
			config: provider(airflowBlockFor(front.Environment)) + dataConfig,
			want:   regexp.MustCompile(`(?s)Airflow Not Configured.*mwaa_environment\s+reaches\s+Airflow\s+through\s+AWS,\s+and\s+the\s+provider\s+has\s+no\s+aws\s+block:\s+add\s+one`),
		},
		{
			name:   "environment not found",
			config: provider(airflowBlockFor("tfacc-missing"), mwaaAWSBlock(front, front.AccessKeyID)) + resourceConfig,
			want: regexp.MustCompile(`(?s)MWAA Environment Not Usable.*"tfacc-missing"\s+was\s+not\s+found\s+in\s+region\s+` +
				front.Region + `.*check\s+airflow.mwaa_environment`),
		},
		{
			name:   "missing airflow:InvokeRestApi",
			config: provider(airflowBlockFor(front.Environment), mwaaAWSBlock(front, front.DeniedAccessKeyID)) + dataConfig,
			want: regexp.MustCompile(`(?s)MWAA\s+refused\s+InvokeRestApi\s+on\s+environment\s+` +
				regexp.QuoteMeta(front.ARN(front.Environment)) + `\s+to\s+arn:aws:[a-z]+::\d{12}:\S+.*airflow:InvokeRestApi.*` +
				regexp.QuoteMeta(fmt.Sprintf("arn:aws:airflow:%s:", front.Region)) + `\d{12}:role/` + front.Environment + `/Op.*Op\s+or\s+Admin`),
		},
		{
			// Reaches Airflow, which refuses the Viewer role.
			name:   "identity mapped to Viewer",
			config: provider(airflowBlockFor(front.Environment), mwaaAWSBlock(front, front.ViewerAccessKeyID)) + dataConfig,
			want: regexp.MustCompile(`(?s)403\s+Forbidden.*auth\s+method:\s+MWAA\s+InvokeRestApi\s+on\s+environment\s+` +
				front.Environment + `.*Op\s+or\s+Admin\s+role`),
		},
		{
			name:   "environment not available",
			config: provider(airflowBlockFor(front.Environment), mwaaAWSBlock(front, front.AccessKeyID)) + resourceConfig,
			before: func() { front.SetStatus(front.Environment, "UPDATING") },
			want:   regexp.MustCompile(`(?s)MWAA Environment Not Usable.*is\s+UPDATING,\s+not\s+AVAILABLE`),
		},
	}
	// Sequential: the last case changes the shared environment.
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.before != nil {
				tc.before()
			}
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: protoV6ProviderFactories,
				Steps:                    []resource.TestStep{{Config: tc.config, PlanOnly: true, ExpectError: tc.want}},
			})
		})
	}
}
