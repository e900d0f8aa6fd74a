package provider

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	tfacctest "github.com/hashicorp/terraform-plugin-testing/helper/acctest"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/acctest"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/awssecrets"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/gcpiam"
)

// One connection, one task, end to end on AWS: Terraform gives tasks A and
// B each a web identity role and a connection that only its role reads.
// Airflow's own SecretsManagerBackend, running with the credentials task A's
// worker gets (its Google ID token exchanged for role A's session), resolves
// A's connection to its fields: observed. B's connection is refused to A,
// but moto enforces no resource policy, so the backend reads it anyway; the
// refusal is evaluated, not observed: airflowiam_connection_access, with
// expect = "denied", judges it over B's resource policy and A's identity
// policies and names the AirflowIAMOthersDenied statement.
func TestAccSecretReadersE2E_airflowReadsOwnConnectionOthersRefusalEvaluated(t *testing.T) {
	m := acctest.MotoServer(t)
	g := acctest.FakeGCP(t)
	python, env := acctest.AirflowPython(t)
	tasks := g.ServiceAccounts(t, "task-a", "task-b")
	for _, sa := range tasks {
		// The provider's identity mints the tasks' ID tokens, for the proof
		// and for this test, as the GKE metadata server does for the pods.
		if err := g.AddMember(sa, gcpiam.RoleTokenCreator, g.Admin); err != nil {
			t.Fatal(err)
		}
	}
	id := tfacctest.RandomWithPrefix("tfacc_readers_e2e")
	prefix := "airflow/e2e-" + tfacctest.RandString(6)
	const audience = "airflow"
	// Each connection has its own customer managed key, as the design
	// wants; the readers' KMS grants are made on it.
	c := testSecretsClient(t, m)
	config := awsAllProviderBlock(m, g)
	for i, task := range []string{"a", "b"} {
		_, key := testKMSKey(t, c)
		config += fmt.Sprintf(`
resource "airflowiam_web_identity_role" %[3]q {
  name                   = "%[1]s-%[3]s"
  google_service_account = %[4]q
  audience               = %[6]q
}

resource "airflowiam_aws_secret_connection" %[3]q {
  connection_id           = "%[1]s_%[3]s"
  prefix                  = %[2]q
  conn_type               = "postgres"
  host                    = "db-%[3]s.internal"
  login                   = "task_%[3]s"
  password                = "secret-of-%[3]s"
  schema                  = "warehouse_%[3]s"
  port                    = 5432
  kms_key_id              = %[5]q
  recovery_window_in_days = 0
  readers                 = [airflowiam_web_identity_role.%[3]s.arn]
  administrators          = ["arn:aws:iam::123456789012:role/terraform"]
}
`, id, prefix, task, tasks[i], key, audience)
	}
	config += fmt.Sprintf(`
data "airflowiam_connection_access" "a_reads_a" {
  secret          = airflowiam_aws_secret_connection.a.secret_arn
  service_account = %[1]q
  role_arn        = airflowiam_web_identity_role.a.arn
  audience        = %[2]q
  expect          = "allowed"
}

data "airflowiam_connection_access" "a_refused_b" {
  secret          = airflowiam_aws_secret_connection.b.secret_arn
  service_account = %[1]q
  role_arn        = airflowiam_web_identity_role.a.arn
  audience        = %[2]q
  expect          = "denied"
}
`, tasks[0], audience)
	const refused = "data.airflowiam_connection_access.a_refused_b"
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: config,
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("data.airflowiam_connection_access.a_reads_a", tfjsonpath.New("readable"), knownvalue.Bool(true)),
				statecheck.ExpectKnownValue(refused, tfjsonpath.New("readable"), knownvalue.Bool(false)),
				// Evaluated, not observed: moto served the read.
				statecheck.ExpectKnownValue(refused, tfjsonpath.New("judged"), knownvalue.StringExact(judgedEvaluated)),
				statecheck.ExpectKnownValue(refused, tfjsonpath.New("finding"), knownvalue.StringRegexp(regexp.MustCompile(
					`GetSecretValue denied explicitly by statement \d+ \(Sid "`+awssecrets.OthersDeniedSid+`"\) of the secret's resource policy`))),
			},
			Check: func(s *terraform.State) error {
				roleA := s.RootModule().Resources["airflowiam_web_identity_role.a"].Primary.Attributes["arn"]
				creds, err := taskCredentials(t, m, g, tasks[0], roleA, audience)
				if err != nil {
					return err
				}
				got := airflowResolvesAs(t, python, env, m, creds, prefix, "/", id+"_a", id+"_b")
				// The backend ran as task A's session, not as the test's keys.
				if caller := fmt.Sprint(got["__caller__"]["arn"]); !strings.Contains(caller, ":assumed-role/"+id+"-a/") {
					return fmt.Errorf("the backend ran as %s, want a session of role %s", caller, roleA)
				}
				want := map[string]any{"conn_type": "postgres", "host": "db-a.internal", "login": "task_a",
					"password": "secret-of-a", "schema": "warehouse_a", "port": float64(5432), "extra": nil}
				if fmt.Sprint(got[id+"_a"]) != fmt.Sprint(want) {
					return fmt.Errorf("as task A, Airflow resolved %s_a to\n%v\nwant\n%v", id, got[id+"_a"], want)
				}
				// Moto does not enforce the secret's resource policy
				// (AirflowIAMOthersDenied), so A's session read B's
				// connection too; against AWS this read is refused. The
				// refusal above is the evaluator's.
				if b := got[id+"_b"]; b == nil || b["host"] != "db-b.internal" {
					return fmt.Errorf("as task A, Airflow resolved %s_b to %v: moto now refuses it? Then observe the refusal here instead of relying on the evaluator", id, b)
				}
				return nil
			},
		}},
	})
}

// taskCredentials mints, as task's worker would, an ID token for the task's
// service account and exchanges it for a session of role; it returns them
// as the environment boto3 reads.
func taskCredentials(t *testing.T, m *acctest.Moto, g *acctest.GCP, task, role, audience string) ([]string, error) {
	google, err := gcpiam.NewClient(t.Context(), gcpiam.Config{AccessToken: g.AdminToken, IAMEndpoint: g.URL, IAMCredentialsEndpoint: g.URL})
	if err != nil {
		return nil, err
	}
	tok, err := google.GenerateIDToken(t.Context(), task, nil, audience, true)
	if err != nil {
		return nil, fmt.Errorf("minting the ID token of %s: %w", task, err)
	}
	c, err := testAWSClient(t, m).AssumeRoleWithWebIdentity(t.Context(), role, "airflow-task", tok)
	if err != nil {
		return nil, fmt.Errorf("exchanging the ID token of %s for %s: %w", task, role, err)
	}
	return []string{"AWS_ACCESS_KEY_ID=" + c.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + c.SecretAccessKey, "AWS_SESSION_TOKEN=" + c.SessionToken}, nil
}
