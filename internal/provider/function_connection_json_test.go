package provider

import (
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"
)

func TestConnectionJSONFunction(t *testing.T) {
	resource.UnitTest(t, resource.TestCase{
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_8_0)},
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: `
locals {
  decoded = jsondecode(provider::airflowiam::connection_json({
    conn_type = "postgres"
    host      = "db.example.com"
    login     = "user"
    password  = "p@ss:w/rd"
    port      = 5432
    schema    = "analytics"
    extra     = jsonencode({ sslmode = "require", options = { statement_timeout = 30 } })
  }))
}

output "conn_type" { value = local.decoded.conn_type }
output "password" {
  value     = local.decoded.password
  sensitive = true
}
output "port" { value = local.decoded.port }
# The extra stays a nested object in the JSON form.
output "timeout" { value = local.decoded.extra.options.statement_timeout }
`,
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownOutputValue("conn_type", knownvalue.StringExact("postgres")),
				statecheck.ExpectKnownOutputValue("password", knownvalue.StringExact("p@ss:w/rd")),
				statecheck.ExpectKnownOutputValue("port", knownvalue.Int64Exact(5432)),
				statecheck.ExpectKnownOutputValue("timeout", knownvalue.Int64Exact(30)),
			},
		}},
	})
}
