package provider

import (
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"
)

// The expected URIs are what Airflow 3.3.2's Connection.get_uri() returns
// for the same fields.
func TestConnectionURIFunction(t *testing.T) {
	resource.UnitTest(t, resource.TestCase{
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_8_0)},
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: `
output "postgres" {
  value = provider::airflowiam::connection_uri({
    conn_type = "postgres"
    host      = "db.example.com"
    login     = "user"
    password  = "p@ss:w/rd"
    port      = 5432
    schema    = "analytics"
    extra     = jsonencode({ sslmode = "require" })
  })
}

output "nested_extra" {
  value = provider::airflowiam::connection_uri({
    conn_type = "google_cloud_platform"
    extra     = "{\"project\": \"p\", \"num_retries\": 5}"
  })
}

# A resource's own attributes (id, connection_id, the write-only password)
# are accepted and ignored, so a resource can be passed as it is.
output "resource_shaped" {
  value = provider::airflowiam::connection_uri({
    id                  = "warehouse"
    connection_id       = "warehouse"
    conn_type           = "http"
    host                = "api.example.com"
    password_wo         = null
    password_wo_version = 1
  })
}
`,
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownOutputValue("postgres", knownvalue.StringExact("postgres://user:p%40ss%3Aw%2Frd@db.example.com:5432/analytics?sslmode=require")),
				statecheck.ExpectKnownOutputValue("nested_extra", knownvalue.StringExact("google-cloud-platform:///?__extra__=%7B%22project%22%3A+%22p%22%2C+%22num_retries%22%3A+5%7D")),
				statecheck.ExpectKnownOutputValue("resource_shaped", knownvalue.StringExact("http://api.example.com")),
			},
		}},
	})
}

func TestConnectionURIFunction_invalid(t *testing.T) {
	cases := map[string]struct {
		arg  string
		want *regexp.Regexp
	}{
		"misspelt field":      {`{ conn_type = "http", hots = "x" }`, regexp.MustCompile(`(?s)unknown\s+field\s+"hots"`)},
		"no conn_type":        {`{ host = "x" }`, regexp.MustCompile(`(?s)connection.conn_type is required`)},
		"port out of range":   {`{ conn_type = "http", port = 70000 }`, regexp.MustCompile(`(?s)connection.port\s+must\s+be\s+a\s+whole\s+number\s+from\s+0\s+to\s+65535`)},
		"extra not an object": {`{ conn_type = "http", extra = "[1]" }`, regexp.MustCompile(`(?s)extra`)},
		"not an object":       {`"postgres://x"`, regexp.MustCompile(`(?s)connection must be an object`)},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			resource.UnitTest(t, resource.TestCase{
				TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_8_0)},
				ProtoV6ProviderFactories: protoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config:      `output "x" { value = provider::airflowiam::connection_uri(` + tc.arg + `) }`,
					ExpectError: tc.want,
				}},
			})
		})
	}
}
