package provider

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	tfacctest "github.com/hashicorp/terraform-plugin-testing/helper/acctest"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/acctest"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/airflow"
)

const dataConnAddr = "data.airflowiam_connection.test"

func TestAccConnectionDataSource_basic(t *testing.T) {
	forEachTarget(t, func(t *testing.T, af *acctest.Airflow) {
		id := tfacctest.RandomWithPrefix("tfacc-ds")
		secret := "ds-secret-" + tfacctest.RandString(12)
		client := testClient(t, af)
		_, err := client.CreateConnection(context.Background(), &airflow.Connection{
			ConnectionID: id, ConnType: "google_cloud_platform", Description: strPtr("read by a data source"),
			Host: strPtr("ds.example.com"), Login: strPtr("ds-login"), Schema: strPtr("ds_schema"), Port: int64Ptr(443),
			Password: strPtr(secret),
			Extra:    strPtr(fmt.Sprintf(`{"project":"my-project","impersonation_chain":"a@p.iam.gserviceaccount.com","api_token":%q}`, secret)),
		})
		if err != nil {
			t.Fatalf("creating connection: %v", err)
		}
		t.Cleanup(func() { _ = client.DeleteConnection(context.Background(), id) })

		workDir := t.TempDir()
		resource.ParallelTest(t, resource.TestCase{
			ProtoV6ProviderFactories: protoV6ProviderFactories,
			WorkingDir:               workDir,
			Steps: []resource.TestStep{{
				Config: providerConfig(af) + fmt.Sprintf("data \"airflowiam_connection\" \"test\" {\n  connection_id = %q\n}\n", id),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(dataConnAddr, tfjsonpath.New("id"), knownvalue.StringExact(id)),
					statecheck.ExpectKnownValue(dataConnAddr, tfjsonpath.New("conn_type"), knownvalue.StringExact("google_cloud_platform")),
					statecheck.ExpectKnownValue(dataConnAddr, tfjsonpath.New("description"), knownvalue.StringExact("read by a data source")),
					statecheck.ExpectKnownValue(dataConnAddr, tfjsonpath.New("host"), knownvalue.StringExact("ds.example.com")),
					statecheck.ExpectKnownValue(dataConnAddr, tfjsonpath.New("login"), knownvalue.StringExact("ds-login")),
					statecheck.ExpectKnownValue(dataConnAddr, tfjsonpath.New("schema"), knownvalue.StringExact("ds_schema")),
					statecheck.ExpectKnownValue(dataConnAddr, tfjsonpath.New("port"), knownvalue.Int64Exact(443)),
					statecheck.ExpectKnownValue(dataConnAddr, tfjsonpath.New("extra"), knownvalue.StringFunc(func(v string) error {
						if !strings.Contains(v, `"project":"my-project"`) && !strings.Contains(v, `"project": "my-project"`) {
							return fmt.Errorf("extra lacks the project: %s", v)
						}
						if !strings.Contains(v, airflow.MaskedValue) {
							return fmt.Errorf("extra should show api_token masked: %s", v)
						}
						return nil
					})),
				},
				// Neither the password nor the masked extra value reaches state.
				Check: checkNoSecretInWorkingDir(workDir, secret),
			}},
		})
	})
}

func TestAccConnectionDataSource_notFound(t *testing.T) {
	forEachTarget(t, func(t *testing.T, af *acctest.Airflow) {
		resource.ParallelTest(t, resource.TestCase{
			ProtoV6ProviderFactories: protoV6ProviderFactories,
			Steps: []resource.TestStep{{
				Config:      providerConfig(af) + "data \"airflowiam_connection\" \"test\" {\n  connection_id = \"tfacc-does-not-exist\"\n}\n",
				ExpectError: regexp.MustCompile(`(?s)Airflow Connection Not Found.*tfacc-does-not-exist`),
			}},
		})
	})
}
