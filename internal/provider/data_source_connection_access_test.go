package provider

import (
	"fmt"
	"regexp"
	"testing"

	tfacctest "github.com/hashicorp/terraform-plugin-testing/helper/acctest"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/acctest"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/fakegcp"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/gcpiam"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/gcpsecrets"
)

// googleAllProviderBlock talks to every Google API of g as its
// administrator.
func googleAllProviderBlock(g *acctest.GCP) string {
	return fmt.Sprintf(`
provider "airflowiam" {
  google {
    access_token             = %q
    iam_endpoint             = %q
    iamcredentials_endpoint  = %q
    oauth2_endpoint          = %q
    resourcemanager_endpoint = %q
    secretmanager_endpoint   = %q
  }
}
`, g.AdminToken, g.URL, g.URL, g.URL, g.URL, g.URL)
}

func TestAccConnectionAccessDataSource_gcp(t *testing.T) {
	g := acctest.FakeGCP(t)
	emails := g.ServiceAccounts(t, "task-a", "task-b", "task-c")
	a, b, c := emails[0], emails[1], emails[2]
	// The provider's identity impersonates the tasks it proves for (not c).
	for _, e := range []string{a, b} {
		if err := g.AddMember(e, gcpiam.RoleTokenCreator, g.Admin); err != nil {
			t.Fatal(err)
		}
	}
	id := tfacctest.RandomWithPrefix("tfacc_access")
	// secret_name, and so the messages, carry the project number.
	number, _ := g.ProjectNumber(g.Project)
	config := func(proofs string) string {
		return googleAllProviderBlock(g) + fmt.Sprintf(`
resource "airflowiam_gcp_secret_connection" "a" {
  project       = %q
  connection_id = %q
  conn_type     = "postgres"
  host          = "db.internal"
  readers       = ["serviceAccount:%s"]
}
`, g.Project, id, a) + proofs
	}
	proof := func(name, account, expect string) string {
		return fmt.Sprintf(`
data "airflowiam_connection_access" %q {
  secret          = airflowiam_gcp_secret_connection.a.secret_name
  service_account = %q
  expect          = %q
}
`, name, account, expect)
	}
	both := proof("reader", a, "allowed") + proof("other", b, "denied")
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkGCPSecretGone(g, "airflow-connections-"+id),
		Steps: []resource.TestStep{
			{
				Config: config(both),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.airflowiam_connection_access.reader", tfjsonpath.New("readable"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue("data.airflowiam_connection_access.reader", tfjsonpath.New("judged"), knownvalue.StringExact("observed")),
					statecheck.ExpectKnownValue("data.airflowiam_connection_access.other", tfjsonpath.New("readable"), knownvalue.Bool(false)),
					statecheck.ExpectKnownValue("data.airflowiam_connection_access.other", tfjsonpath.New("finding"),
						knownvalue.StringRegexp(regexp.MustCompile(`refused secretmanager\.versions\.access`))),
				},
			},
			{
				// A task that is not a reader cannot read: the failure names
				// the missing grant and both fixes.
				Config: config(both + proof("missing", b, "allowed")),
				ExpectError: regexp.MustCompile(`(?s)Connection Not Readable.*` + wrapped("holds no role that reads secrets") + ".*" +
					wrapped(`add "serviceAccount:`+b+`" to the readers`) + ".*" + wrapped("gcloud secrets add-iam-policy-binding airflow-connections-"+id)),
			},
			{
				// A conditional grant is named as such.
				PreConfig: func() {
					p, err := g.SecretPolicy(g.Project, "airflow-connections-"+id)
					if err != nil {
						t.Fatal(err)
					}
					p.Version = 3
					p.Bindings = append(p.Bindings, fakegcp.Binding{Role: gcpsecrets.RoleSecretAccessor, Members: []string{sa(b)},
						Condition: &fakegcp.Expr{Expression: `request.time < timestamp("2030-01-01T00:00:00Z")`, Title: "until-2030"}})
					if err := g.SetSecretPolicy(g.Project, "airflow-connections-"+id, p); err != nil {
						t.Fatal(err)
					}
				},
				Config:      config(both + proof("missing", b, "allowed")),
				ExpectError: regexp.MustCompile(`(?s)Connection Not Readable.*` + wrapped(`only under the condition "until-2030"`)),
			},
			{
				// A project-wide grant lets a non-reader read: the failure
				// names it and how to remove it.
				PreConfig: func() {
					if err := g.SetProjectBindings(g.Project, []fakegcp.Binding{
						{Role: "roles/owner", Members: []string{g.Admin}},
						{Role: gcpsecrets.RoleSecretAccessor, Members: []string{sa(b)}},
					}); err != nil {
						t.Fatal(err)
					}
				},
				Config: config(both),
				ExpectError: regexp.MustCompile(`(?s)Connection Readable By A Non-Reader.*` + wrapped("roles/secretmanager.secretAccessor on project "+number) +
					".*" + wrapped("gcloud projects remove-iam-policy-binding "+number+" --member=serviceAccount:"+b)),
			},
			{
				// Without Token Creator on the task, nothing can be proven.
				Config:      config(proof("reader", a, "allowed") + proof("unreachable", c, "denied")),
				ExpectError: regexp.MustCompile(`(?s)Cannot Act As The Identity.*` + wrapped("roles/iam.serviceAccountTokenCreator")),
			},
		},
	})
}

// TestConnectionAccessMessages covers the explanations the acceptance test
// cannot reach with the fake: a grant not in effect yet, a grant through a
// policy the provider cannot see, and policies it could not read.
func TestConnectionAccessMessages(t *testing.T) {
	const member = "serviceAccount:task@p.iam.gserviceaccount.com"
	const secret = "projects/p/secrets/airflow-connections-db"
	pending := missingGrant(member, secret, []gcpsecrets.Grant{{Role: gcpsecrets.RoleSecretAccessor, Member: member}}, nil)
	if !regexp.MustCompile(`(?s)holds roles/secretmanager\.secretAccessor on the secret, but Google does not apply it yet.*propagate`).MatchString(pending) {
		t.Errorf("pending grant: %s", pending)
	}
	unseen := grantsThatRead(member, secret, nil, []string{"project p's IAM policy (403)"})
	if !regexp.MustCompile(`(?s)cannot see \(a group it belongs to.*Not read, so grants there are not shown: project p's IAM policy \(403\)`).MatchString(unseen) {
		t.Errorf("unseen grant: %s", unseen)
	}
	reader := grantsThatRead(member, secret, []gcpsecrets.Grant{{Role: gcpsecrets.RoleSecretAccessor, Member: member}}, nil)
	if !regexp.MustCompile(`take "` + regexp.QuoteMeta(member) + `" out of the readers`).MatchString(reader) {
		t.Errorf("a reader that should not be: %s", reader)
	}
}
