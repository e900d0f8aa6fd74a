package provider

import (
	"context"
	"fmt"
	"testing"

	tfacctest "github.com/hashicorp/terraform-plugin-testing/helper/acctest"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/acctest"
)

func TestAccAccountRole_basic(t *testing.T) {
	m := acctest.MotoServer(t)
	name := tfacctest.RandomWithPrefix("tfacc-account")
	config := awsProviderBlock(m) + fmt.Sprintf(`
resource "airflowiam_account_role" "test" {
  name               = %q
  trusted_account_id = "210987654321"
  inline_policies = {
    read = jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "s3:GetObject", Resource = "*" }] })
  }
}
`, name)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkRoleDestroyed(t, m, name),
		Steps: []resource.TestStep{
			{
				Config: config,
				Check: func(*terraform.State) error {
					role, err := testAWSClient(t, m).GetRole(context.Background(), name)
					if err != nil {
						return err
					}
					if len(role.InlinePolicies) != 1 {
						return fmt.Errorf("inline policies %v, want one", role.InlinePolicies)
					}
					return nil
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("airflowiam_account_role.test", tfjsonpath.New("trust_policy"),
						knownvalue.StringExact(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::210987654321:root"},"Action":"sts:AssumeRole"}]}`)),
				},
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
			{
				Config: config, ResourceName: "airflowiam_account_role.test", ImportState: true, ImportStateId: name,
				ImportStateVerify: true, ImportStateVerifyIgnore: []string{"inline_policies"},
			},
		},
	})
}
