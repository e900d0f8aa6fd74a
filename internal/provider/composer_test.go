package provider

import (
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/acctest"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/fakegcp"
)

// Plan-time errors of airflow.composer_environment, each shown through the
// Composer stand-in (acctest.ComposerFor) before the real Airflow 2.

// phrases matches each phrase in order, whatever line wrapping Terraform
// puts between its words.
func phrases(ps ...string) *regexp.Regexp {
	parts := make([]string, len(ps))
	for i, p := range ps {
		words := strings.Fields(p)
		for j, w := range words {
			words[j] = regexp.QuoteMeta(w)
		}
		parts[i] = strings.Join(words, `\s+`)
	}
	return regexp.MustCompile(`(?s)` + strings.Join(parts, `.*`))
}

// composerConnectionConfig is c's provider blocks and one connection.
func composerConnectionConfig(blocks string) string {
	return "provider \"airflowiam\" {\n" + blocks + "}\n" + `
resource "airflowiam_connection" "test" {
  connection_id = "never_created_composer"
  conn_type     = "http"
}
`
}

func TestAccProvider_composerPlanErrors(t *testing.T) {
	af := acctest.Airflow2(t)
	cases := map[string]struct {
		setup func(t *testing.T, c *acctest.Composer)
		want  func(c *acctest.Composer) *regexp.Regexp
	}{
		"missing composer.environments.get": {
			setup: func(t *testing.T, c *acctest.Composer) {
				if err := c.GCP.SetProjectBindings(c.GCP.Project, []fakegcp.Binding{{Role: "roles/owner", Members: []string{c.GCP.Admin}}}); err != nil {
					t.Fatal(err)
				}
			},
			want: func(c *acctest.Composer) *regexp.Regexp {
				return phrases("Airflow Not Configured", "identity "+c.Deployer, "may not read the Cloud Composer environment "+c.Environment,
					"composer.environments.get", "roles/composer.user on project "+c.GCP.Project, "--member=serviceAccount:"+c.Deployer)
			},
		},
		"environment not found": {
			setup: func(t *testing.T, c *acctest.Composer) {
				c.Environment = strings.Replace(c.Environment, "/environments/", "/environments/gone-", 1)
			},
			want: func(c *acctest.Composer) *regexp.Regexp {
				return phrases("Airflow Not Configured", c.Environment+" does not exist", "404", c.Deployer, "gcloud composer environments list")
			},
		},
		"not running": {
			setup: func(t *testing.T, c *acctest.Composer) {
				if err := c.GCP.SetComposerState(c.Environment, fakegcp.ComposerError); err != nil {
					t.Fatal(err)
				}
			},
			want: func(c *acctest.Composer) *regexp.Regexp {
				return phrases("Airflow Not Configured", c.Environment+" is ERROR, not RUNNING")
			},
		},
		"no Op role in Airflow": {
			// Composer registers the identity with the environment's
			// registration role; Viewer may not manage connections, and
			// the real Airflow says 403.
			setup: func(t *testing.T, c *acctest.Composer) {
				c.Front.SetRole(c.Deployer, "Viewer")
			},
			want: func(c *acctest.Composer) *regexp.Regexp {
				return phrases("Could not create connection", "refused the google block's identity "+c.Deployer, "403 Forbidden",
					"composer_auth_user_registration_role", "gcloud composer environments run airflow2 --location europe-west1 users add-role -- -e "+c.Deployer+" -r Op")
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := acctest.ComposerFor(t, af)
			tc.setup(t, c)
			resource.ParallelTest(t, resource.TestCase{
				ProtoV6ProviderFactories: protoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config:      composerConnectionConfig(c.ProviderBlocks()),
					ExpectError: tc.want(c),
				}},
			})
		})
	}
}

func TestAccProvider_composerInvalidConfiguration(t *testing.T) {
	acctest.Airflow3(t) // for the TF_ACC guard; this test talks to no server
	cases := map[string]struct {
		blocks string
		want   *regexp.Regexp
	}{
		"not a resource name": {
			blocks: "  airflow {\n    composer_environment = \"prod\"\n  }\n  google {}\n",
			want:   phrases("airflow.composer_environment", "must be a Cloud Composer environment name,", "projects/PROJECT/locations/LOCATION/environments/ENVIRONMENT"),
		},
		"with an endpoint": {
			blocks: "  airflow {\n    composer_environment = \"projects/p/locations/l/environments/e\"\n    endpoint = \"https://airflow.example.com\"\n  }\n  google {}\n",
			want:   phrases("Invalid Attribute Combination", `"airflow.endpoint" cannot be specified when "airflow.composer_environment"`),
		},
		"with a username": {
			blocks: "  airflow {\n    composer_environment = \"projects/p/locations/l/environments/e\"\n    username = \"admin\"\n  }\n  google {}\n",
			want:   phrases("Invalid Attribute Combination", `"airflow.username" cannot be specified when "airflow.composer_environment"`),
		},
		"with an MWAA environment too": {
			blocks: "  airflow {\n    composer_environment = \"projects/p/locations/l/environments/e\"\n    mwaa_environment = \"e\"\n  }\n  google {}\n  aws {}\n",
			want: phrases("Two Managed Airflow Environments", "sets both airflow.composer_environment (Cloud Composer) and",
				"airflow.mwaa_environment (Amazon MWAA)", "second, aliased airflowiam provider block"),
		},
		"without a google block": {
			blocks: "  airflow {\n    composer_environment = \"projects/p/locations/l/environments/e\"\n  }\n",
			want:   phrases("Airflow Not Configured", "airflow.composer_environment reaches Cloud Composer as the google block's identity", "the provider has no google block"),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			resource.ParallelTest(t, resource.TestCase{
				ProtoV6ProviderFactories: protoV6ProviderFactories,
				Steps:                    []resource.TestStep{{Config: composerConnectionConfig(tc.blocks), ExpectError: tc.want}},
			})
		})
	}
}

// An identity whose Airflow role is taken away after the connection exists
// fails the next plan, at the refresh, with the same explanation.
func TestAccProvider_composerRoleLostFailsThePlan(t *testing.T) {
	af := acctest.Airflow3(t)
	c := acctest.ComposerFor(t, af)
	id := "composer_role_lost"
	config := "provider \"airflowiam\" {\n" + c.ProviderBlocks() + "}\n" + `
resource "airflowiam_connection" "test" {
  connection_id = "` + id + `"
  conn_type     = "http"
  host          = "example.com"
}
`
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkConnectionDestroyed(t, af, id),
		Steps: []resource.TestStep{
			{Config: config},
			{
				PreConfig: func() { c.Front.SetRole(c.Deployer, "Viewer") },
				Config:    config,
				PlanOnly:  true,
				ExpectError: phrases("Could not read connection", "Airflow in Cloud Composer environment "+c.Environment,
					"refused the google block's identity "+c.Deployer, "403 Forbidden", "which needs Op or Admin",
					"composer_auth_user_registration_role (this environment: Op)", "users add-role -- -e "+c.Deployer+" -r Op"),
			},
			{
				// Give the role back so that the destroy can run.
				PreConfig: func() { c.Front.SetRole(c.Deployer, "Op") },
				Config:    config,
				PlanOnly:  true,
			},
		},
	})
}

// A Google access token the environment's front does not accept (here one
// issued by another Google than the front's) is answered with a redirect
// to the sign-in page, which the provider reports with the identity and
// the fix instead of following it.
func TestAccProvider_composerSignInRedirect(t *testing.T) {
	af := acctest.Airflow3(t)
	front := acctest.ComposerFor(t, af)
	// Another Google that knows the environment, with its own deployer,
	// pointing at the first one's front.
	other := acctest.ComposerFor(t, af)
	if err := other.GCP.AddComposerEnvironment(fakegcp.ComposerEnvironment{
		Name: other.Environment, AirflowURI: front.FrontURL, ImageVersion: "composer-3-airflow-" + af.Version,
	}); err != nil {
		t.Fatal(err)
	}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: composerConnectionConfig(other.ProviderBlocks()),
			ExpectError: phrases("Could not create connection", "Cloud Composer environment "+other.Environment,
				"did not accept the Google access token of the google block's identity "+other.Deployer,
				"redirected the request to Google's sign-in page ("+fakegcp.SignInURL+")",
				"roles/composer.user on project "+other.GCP.Project),
		}},
	})
	if forwarded, refused := front.Front.Counts(); forwarded != 0 || refused == 0 {
		t.Fatalf("the front forwarded %d and refused %d requests; want none forwarded", forwarded, refused)
	}
}
