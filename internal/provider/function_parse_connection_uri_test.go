package provider

import (
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"
)

// The expected fields are what Airflow 3.3.2's Connection(uri=...) parses.
func TestParseConnectionURIFunction(t *testing.T) {
	resource.UnitTest(t, resource.TestCase{
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_8_0)},
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: `
locals {
  c = provider::airflowiam::parse_connection_uri("mysql://admin:s%3Acret@db.internal:3306/app?charset=utf8")
}
output "conn_type" { value = local.c.conn_type }
output "host" { value = local.c.host }
output "login" { value = local.c.login }
output "password" {
  value     = local.c.password
  sensitive = true
}
output "port" { value = local.c.port }
output "schema" { value = local.c.schema }
output "charset" { value = jsondecode(local.c.extra).charset }
output "round_trip" {
  value = provider::airflowiam::connection_uri(local.c)
}
`,
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownOutputValue("conn_type", knownvalue.StringExact("mysql")),
				statecheck.ExpectKnownOutputValue("host", knownvalue.StringExact("db.internal")),
				statecheck.ExpectKnownOutputValue("login", knownvalue.StringExact("admin")),
				statecheck.ExpectKnownOutputValue("password", knownvalue.StringExact("s:cret")),
				statecheck.ExpectKnownOutputValue("port", knownvalue.Int64Exact(3306)),
				statecheck.ExpectKnownOutputValue("schema", knownvalue.StringExact("app")),
				statecheck.ExpectKnownOutputValue("charset", knownvalue.StringExact("utf8")),
				statecheck.ExpectKnownOutputValue("round_trip", knownvalue.StringExact("mysql://admin:s%3Acret@db.internal:3306/app?charset=utf8")),
			},
		}},
	})
}

func TestParseConnectionURIFunction_invalid(t *testing.T) {
	for _, tc := range []struct{ uri, want string }{
		// Airflow rejects a URI with more than two "://" as well.
		{"x://a://b://c", `more than two "://"`},
		{"not a uri", `does not start with a conn-type and "://"`},
		{"", "the URI is empty"},
	} {
		t.Run(tc.uri, func(t *testing.T) {
			resource.UnitTest(t, resource.TestCase{
				TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_8_0)},
				ProtoV6ProviderFactories: protoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config: fmt.Sprintf(`output "x" { value = provider::airflowiam::parse_connection_uri(%q) }`, tc.uri),
					ExpectError: flowRE(`Invalid value for "uri" parameter: uri is not an Airflow connection URI`, tc.want,
						"Expected conn-type://[login[:password]@][host][:port][/schema][?extra]"),
				}},
			})
		})
	}
}
