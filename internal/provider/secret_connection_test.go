package provider

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	tfacctest "github.com/hashicorp/terraform-plugin-testing/helper/acctest"
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

// testSecretExtraWO writes a connection with extra_wo and password_wo into
// a secret (resource typ, its backend's provider block in head, its own
// attributes in attrs), checks with value (the secret's current value) that
// the write-only keys are there, that no write-only value is in state or a
// saved plan, and that a refresh shows no drift; then, after put has
// written a value without the write-only key out of band, that the next
// plan writes it again.
func testSecretExtraWO(t *testing.T, typ, head, attrs string, value func() string, put func(string)) {
	t.Helper()
	addr := typ + ".test"
	apiKey1, apiKey2 := "wo-key-one-"+tfacctest.RandString(12), "wo-key-two-"+tfacctest.RandString(12)
	password := "wo-pw-" + tfacctest.RandString(12)
	scan := leakScan{secrets: []string{apiKey1, apiKey2, password}}
	workDir := t.TempDir()
	tfConfig := head + fmt.Sprintf(`
variable "api_key" {
  type      = string
  ephemeral = true
}
variable "password" {
  type      = string
  ephemeral = true
}
variable "wo_version" { type = number }

resource %q "test" {
%s
  conn_type           = "http"
  host                = "api.example.com"
  format              = "json"
  extra               = jsonencode({ region_name = "eu-west-1" })
  extra_wo            = jsonencode({ endpoint_ref = var.api_key })
  extra_wo_version    = var.wo_version
  password_wo         = var.password
  password_wo_version = 1
}
`, typ, strings.TrimSpace(attrs))
	vars := func(apiKey string, version int) config.Variables {
		return config.Variables{"api_key": config.StringVariable(apiKey), "password": config.StringVariable(password),
			"wo_version": config.IntegerVariable(version)}
	}
	holds := func(apiKey string) resource.TestCheckFunc {
		return func(*terraform.State) error {
			v := value()
			if !strings.Contains(v, `"endpoint_ref":"`+apiKey+`"`) || !strings.Contains(v, `"region_name":"eu-west-1"`) {
				return fmt.Errorf("the secret's extra lacks the configured or the write-only keys")
			}
			return nil
		}
	}
	step := func(apiKey string, version int, action plancheck.ResourceActionType) resource.TestStep {
		return resource.TestStep{
			Config:          tfConfig,
			ConfigVariables: vars(apiKey, version),
			Check:           resource.ComposeAggregateTestCheckFunc(holds(apiKey), scan.check(workDir)),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(addr, tfjsonpath.New("extra"), knownvalue.StringExact(`{"region_name":"eu-west-1"}`)),
				statecheck.ExpectKnownValue(addr, tfjsonpath.New("extra_wo"), knownvalue.Null()),
			},
			ConfigPlanChecks: resource.ConfigPlanChecks{
				PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, action), scan.plan(workDir)},
				PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
			},
		}
	}
	resource.ParallelTest(t, resource.TestCase{
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_11_0)},
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		WorkingDir:               workDir,
		Steps: []resource.TestStep{
			step(apiKey1, 1, plancheck.ResourceActionCreate),
			step(apiKey2, 2, plancheck.ResourceActionUpdate),
			func() resource.TestStep {
				s := step(apiKey2, 2, plancheck.ResourceActionUpdate)
				s.PreConfig = func() {
					put(`{"conn_type":"http","host":"api.example.com","password":"` + password + `","extra":{"region_name":"eu-west-1"}}`)
				}
				return s
			}(),
		},
	})
}
