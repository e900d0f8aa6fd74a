package provider

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/acctest"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/gcpiam"
)

const taskAddr = "airflowiam_task_identity.test"

func taskIdentityConfig(g *acctest.GCP, gsa, project, namespace, ksa string) string {
	return googleProviderBlock(g) + fmt.Sprintf(`
resource "airflowiam_task_identity" "test" {
  google_service_account         = %q
  workload_identity_pool_project = %q
  namespace                      = %q
  kubernetes_service_account     = %q
}
`, gsa, project, namespace, ksa)
}

func TestAccTaskIdentity_basic(t *testing.T) {
	g := acctest.FakeGCP(t)
	gsa := g.ServiceAccounts(t, "etl-task")[0]
	plantForeign(t, g, gcpiam.RoleWorkloadIdentityUser, gsa)
	member := "serviceAccount:gke-prod.svc.id.goog[airflow/etl]"
	config := taskIdentityConfig(g, gsa, "gke-prod", "airflow", "etl")
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy: resource.ComposeAggregateTestCheckFunc(
			checkGrants(g, gcpiam.RoleWorkloadIdentityUser, map[string][]string{gsa: nil}),
			checkForeignIntact(g, gcpiam.RoleWorkloadIdentityUser, gsa),
		),
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(taskAddr, tfjsonpath.New("id"), knownvalue.StringExact(gsa+"/gke-prod/airflow/etl")),
					statecheck.ExpectKnownValue(taskAddr, tfjsonpath.New("member"), knownvalue.StringExact(member)),
					statecheck.ExpectKnownValue(taskAddr, tfjsonpath.New("kubernetes_annotations"), knownvalue.MapExact(map[string]knownvalue.Check{
						"iam.gke.io/gcp-service-account": knownvalue.StringExact(gsa),
					})),
					statecheck.ExpectKnownValue(taskAddr, tfjsonpath.New("executor_config"),
						knownvalue.StringExact(`{"pod_override":{"spec":{"containers":[{"name":"base"}],"serviceAccountName":"etl"}}}`)),
					statecheck.ExpectKnownValue(taskAddr, tfjsonpath.New("pre_existing"), knownvalue.Bool(false)),
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					checkGrants(g, gcpiam.RoleWorkloadIdentityUser, map[string][]string{gsa: {member}}),
					checkForeignIntact(g, gcpiam.RoleWorkloadIdentityUser, gsa),
					checkKSACanActAs(t, g, member, gsa),
				),
			},
			{
				Config:           config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}

// checkKSACanActAs proves the grant works: the KSA's identity mints an
// access token for the Google service account.
func checkKSACanActAs(t *testing.T, g *acctest.GCP, member, gsa string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		c, err := gcpiam.NewClient(t.Context(), gcpiam.Config{
			AccessToken: g.AccessTokenFor(member), IAMEndpoint: g.URL, IAMCredentialsEndpoint: g.URL,
		})
		if err != nil {
			return err
		}
		if _, err := c.GenerateAccessToken(t.Context(), gsa, nil, nil); err != nil {
			return fmt.Errorf("%s could not act as %s: %w", member, gsa, err)
		}
		return nil
	}
}

// Changing any argument moves the grant in place: the new member is added
// and the old one removed.
func TestAccTaskIdentity_update(t *testing.T) {
	g := acctest.FakeGCP(t)
	accts := g.ServiceAccounts(t, "etl-task", "report-task")
	etl, report := accts[0], accts[1]
	plantForeign(t, g, gcpiam.RoleWorkloadIdentityUser, etl, report)
	wi := gcpiam.RoleWorkloadIdentityUser
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkGrants(g, wi, map[string][]string{etl: nil, report: nil}),
		Steps: []resource.TestStep{
			{
				Config: taskIdentityConfig(g, etl, "gke-prod", "airflow", "etl"),
				Check:  checkGrants(g, wi, map[string][]string{etl: {"serviceAccount:gke-prod.svc.id.goog[airflow/etl]"}}),
			},
			{
				Config: taskIdentityConfig(g, etl, "gke-prod", "airflow-batch", "etl-v2"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(taskAddr, plancheck.ResourceActionUpdate),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					checkGrants(g, wi, map[string][]string{etl: {"serviceAccount:gke-prod.svc.id.goog[airflow-batch/etl-v2]"}}),
					checkForeignIntact(g, wi, etl),
				),
			},
			{
				Config: taskIdentityConfig(g, report, "gke-prod", "airflow-batch", "etl-v2"),
				Check: resource.ComposeAggregateTestCheckFunc(
					checkGrants(g, wi, map[string][]string{etl: nil, report: {"serviceAccount:gke-prod.svc.id.goog[airflow-batch/etl-v2]"}}),
					checkForeignIntact(g, wi, etl, report),
				),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(taskAddr, tfjsonpath.New("kubernetes_annotations").AtMapKey("iam.gke.io/gcp-service-account"), knownvalue.StringExact(report)),
				},
			},
		},
	})
}

func TestAccTaskIdentity_import(t *testing.T) {
	g := acctest.FakeGCP(t)
	gsa := g.ServiceAccounts(t, "etl-task")[0]
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: taskIdentityConfig(g, gsa, "gke-prod", "airflow", "etl")},
			{ResourceName: taskAddr, ImportState: true, ImportStateVerify: true},
			{
				ResourceName:  taskAddr,
				ImportState:   true,
				ImportStateId: gsa + "/airflow/etl",
				ExpectError:   regexp.MustCompile(`(?s)Invalid Import ID.*GOOGLE_SERVICE_ACCOUNT/POOL_PROJECT/NAMESPACE/KSA`),
			},
		},
	})
}

// The grant removed out of band: the plan creates it again.
func TestAccTaskIdentity_drift(t *testing.T) {
	g := acctest.FakeGCP(t)
	gsa := g.ServiceAccounts(t, "etl-task")[0]
	member := "serviceAccount:gke-prod.svc.id.goog[airflow/etl]"
	config := taskIdentityConfig(g, gsa, "gke-prod", "airflow", "etl")
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:             config,
				Check:              func(*terraform.State) error { return g.RemoveMember(gsa, gcpiam.RoleWorkloadIdentityUser, member) },
				ExpectNonEmptyPlan: true,
			},
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(taskAddr, plancheck.ResourceActionCreate),
				}},
				Check: checkGrants(g, gcpiam.RoleWorkloadIdentityUser, map[string][]string{gsa: {member}}),
			},
		},
	})
}

// The Google service account deleted out of band: the resource leaves the
// state with a warning, and the next apply says the account is missing.
func TestAccTaskIdentity_disappears(t *testing.T) {
	g := acctest.FakeGCP(t)
	gsa := g.ServiceAccounts(t, "etl-task")[0]
	config := taskIdentityConfig(g, gsa, "gke-prod", "airflow", "etl")
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:             config,
				Check:              func(*terraform.State) error { return g.DeleteServiceAccount(gsa) },
				ExpectNonEmptyPlan: true,
			},
			{
				Config:      config,
				ExpectError: regexp.MustCompile(`(?s)Error Granting Workload Identity.*service\s+account\s+does\s+not\s+exist`),
			},
		},
	})
}

// A grant that existed before is left in place on destroy.
func TestAccTaskIdentity_preExisting(t *testing.T) {
	g := acctest.FakeGCP(t)
	gsa := g.ServiceAccounts(t, "etl-task")[0]
	member := "serviceAccount:gke-prod.svc.id.goog[airflow/etl]"
	if err := g.AddMember(gsa, gcpiam.RoleWorkloadIdentityUser, member); err != nil {
		t.Fatal(err)
	}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkGrants(g, gcpiam.RoleWorkloadIdentityUser, map[string][]string{gsa: {member}}),
		Steps: []resource.TestStep{{
			Config: taskIdentityConfig(g, gsa, "gke-prod", "airflow", "etl"),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(taskAddr, tfjsonpath.New("pre_existing"), knownvalue.Bool(true)),
			},
		}},
	})
}

func TestAccTaskIdentity_invalidInput(t *testing.T) {
	g := acctest.FakeGCP(t)
	const gsa = "etl@p.iam.gserviceaccount.com"
	cases := []struct {
		name, gsa, project, ns, ksa string
		want                        *regexp.Regexp
	}{
		{"not a service account", "etl@example.com", "gke-prod", "airflow", "etl", regexp.MustCompile(`(?s)google_service_account.*must be a Google service-account email`)},
		{"bad project", gsa, "GKE_PROD", "airflow", "etl", regexp.MustCompile(`(?s)workload_identity_pool_project.*must be a Google Cloud project ID`)},
		{"bad namespace", gsa, "gke-prod", "Airflow", "etl", regexp.MustCompile(`(?s)namespace.*must be a Kubernetes\s+namespace\s+name`)},
		{"namespace too long", gsa, "gke-prod", "a123456789a123456789a123456789a123456789a123456789a123456789abcd", "etl", regexp.MustCompile(`(?s)namespace.*length`)},
		{"bad ksa", gsa, "gke-prod", "airflow", "etl_task", regexp.MustCompile(`(?s)kubernetes_service_account.*must be a Kubernetes service\s+account\s+name`)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resource.ParallelTest(t, resource.TestCase{
				ProtoV6ProviderFactories: protoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config:      taskIdentityConfig(g, tc.gsa, tc.project, tc.ns, tc.ksa),
					PlanOnly:    true,
					ExpectError: tc.want,
				}},
			})
		})
	}
}
