package provider

import (
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
)

// Fixtures the acceptance tests of both secret-connection resources use.

// importedConnectionFields are the connection fields of the import tests:
// every field a secret holds, written in the JSON form, so that importing
// reads each one back.
const importedConnectionFields = `
  conn_type     = "mysql"
  host          = "db.internal"
  login         = "reader"
  password      = "imported-password"
  port          = 3306
  format        = "json"
  extra         = jsonencode({ charset = "utf8" })
`

// refusedPlan is a configuration that must fail at plan time with want.
type refusedPlan struct {
	name, attrs string
	want        *regexp.Regexp
}

// testRefusedPlans plans config(attrs) for each case, in parallel, and
// expects its error.
func testRefusedPlans(t *testing.T, config func(attrs string) string, cases []refusedPlan) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resource.ParallelTest(t, resource.TestCase{
				ProtoV6ProviderFactories: protoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config:      config(tc.attrs),
					PlanOnly:    true,
					ExpectError: tc.want,
				}},
			})
		})
	}
}
