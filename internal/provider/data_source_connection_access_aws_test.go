package provider

import (
	"context"
	"fmt"
	"regexp"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	tfacctest "github.com/hashicorp/terraform-plugin-testing/helper/acctest"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/acctest"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/awspolicy"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/gcpiam"
)

// awsAllProviderBlock talks to moto (IAM, STS, Secrets Manager, KMS) and
// to fakegcp (for the task's ID token).
func awsAllProviderBlock(m *acctest.Moto, g *acctest.GCP) string {
	return fmt.Sprintf(`
provider "airflowiam" {
  aws {
    region                  = %q
    access_key              = %q
    secret_key              = %q
    iam_endpoint            = %q
    sts_endpoint            = %q
    secretsmanager_endpoint = %q
    kms_endpoint            = %q
  }
%s}
`, m.Region, m.AccessKeyID, m.SecretAccessKey, m.URL, m.URL, m.URL, m.URL, googleBlock(g))
}

// Moto enforces neither resource policies nor KMS grants: every verdict
// here but a refusal is the evaluator's (judged = "evaluated").
func TestAccConnectionAccessDataSource_aws(t *testing.T) {
	m := acctest.MotoServer(t)
	g := acctest.FakeGCP(t)
	if err := g.AddMember(g.Worker, gcpiam.RoleTokenCreator, g.Admin); err != nil {
		t.Fatal(err)
	}
	c := testSecretsClient(t, m)
	ic := testAWSClient(t, m)
	_, keyARN := testKMSKey(t, c)
	id := tfacctest.RandomWithPrefix("tfacc_awsaccess")
	roles := map[string]string{}
	for _, n := range []string{"a", "b"} {
		out, err := ic.IAM.CreateRole(context.Background(), &iam.CreateRoleInput{
			RoleName:                 aws.String(id + "-" + n),
			AssumeRolePolicyDocument: aws.String(awspolicy.GoogleTrust("1", g.Worker, "airflow").JSON()),
		})
		if err != nil {
			t.Fatal(err)
		}
		roles[n] = aws.ToString(out.Role.Arn)
	}
	a, b := roles["a"], roles["b"]
	tf := "arn:aws:iam::123456789012:role/terraform"
	config := func(extra string) string {
		return awsAllProviderBlock(m, g) + fmt.Sprintf(`
resource "airflowiam_aws_secret_connection" "a" {
  connection_id           = %q
  conn_type               = "postgres"
  host                    = "db.internal"
  kms_key_id              = %q
  recovery_window_in_days = 0
  readers                 = [%q]
  administrators          = [%q]
}
`, id, keyARN, a, tf) + extra
	}
	proof := func(name, secret, role, expect string) string {
		return fmt.Sprintf(`
data "airflowiam_connection_access" %q {
  secret          = %s
  service_account = %q
  role_arn        = %q
  audience        = "airflow"
  expect          = %q
}
`, name, secret, g.Worker, role, expect)
	}
	const secretA = "airflowiam_aws_secret_connection.a.secret_arn"
	both := proof("reader", secretA, a, "allowed") + proof("other", secretA, b, "denied")
	open := fmt.Sprintf(`
resource "airflowiam_aws_secret_connection" "open" {
  connection_id           = "%s-open"
  conn_type               = "postgres"
  host                    = "db.internal"
  recovery_window_in_days = 0
}
`, id)
	var secretARN string
	remember := func(s *terraform.State) error {
		secretARN = s.RootModule().Resources["airflowiam_aws_secret_connection.a"].Primary.Attributes["secret_arn"]
		return nil
	}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config(both),
				Check:  remember,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.airflowiam_connection_access.reader", tfjsonpath.New("readable"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue("data.airflowiam_connection_access.reader", tfjsonpath.New("judged"), knownvalue.StringExact("evaluated")),
					statecheck.ExpectKnownValue("data.airflowiam_connection_access.reader", tfjsonpath.New("finding"),
						knownvalue.StringRegexp(regexp.MustCompile(`AirflowIAMReaders.*allowed by KMS grant`))),
					statecheck.ExpectKnownValue("data.airflowiam_connection_access.other", tfjsonpath.New("readable"), knownvalue.Bool(false)),
					statecheck.ExpectKnownValue("data.airflowiam_connection_access.other", tfjsonpath.New("judged"), knownvalue.StringExact("evaluated")),
				},
			},
			{
				// A role that is not a reader: the Deny names it, and the fix.
				Config: config(both + proof("missing", secretA, b, "allowed")),
				ExpectError: regexp.MustCompile(`(?s)Connection Not Readable.*evaluated, not observed.*` + wrapped(`AirflowIAMOthersDenied`) + ".*" +
					wrapped(fmt.Sprintf("add %q to the readers", b)) + ".*" + wrapped("no grant to the role covers this secret")),
			},
			{
				// The reader's key grant revoked out of band.
				PreConfig: func() {
					grants, err := c.ReaderGrants(context.Background(), keyARN, secretARN)
					if err != nil || len(grants) != 1 {
						t.Fatalf("grants of the reader: %v, %v", grants, err)
					}
					if _, err := c.KMS.RevokeGrant(context.Background(), &kms.RevokeGrantInput{KeyId: aws.String(keyARN), GrantId: aws.String(grants[0].ID)}); err != nil {
						t.Fatal(err)
					}
				},
				// By name, so that the proof is read during plan, before the
				// apply would restore the grant.
				Config: config(proof("byname", fmt.Sprintf("%q", "airflow/connections/"+id), a, "allowed")),
				ExpectError: regexp.MustCompile(`(?s)Connection Not Readable.*kms:Decrypt: refused.*` + wrapped("apply the airflowiam_aws_secret_connection again") +
					".*" + wrapped("aws kms create-grant --key-id "+keyARN+" --grantee-principal "+a)),
			},
			{
				// Applying again restores the grant.
				Config: config(both),
			},
			{
				// An identity policy lets task-b read every secret: the
				// readers' Deny still refuses it on the connection with
				// readers, but a connection without readers is open to it.
				PreConfig: func() {
					if _, err := ic.IAM.PutRolePolicy(context.Background(), &iam.PutRolePolicyInput{
						RoleName: aws.String(id + "-b"), PolicyName: aws.String("read-all"),
						PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Sid":"ReadAll","Effect":"Allow","Action":["secretsmanager:GetSecretValue","kms:Decrypt"],"Resource":"*"}]}`),
					}); err != nil {
						t.Fatal(err)
					}
				},
				Config: config(both + open + proof("open", "airflowiam_aws_secret_connection.open.secret_arn", b, "denied")),
				ExpectError: regexp.MustCompile(`(?s)Connection Readable By A Non-Reader.*` + wrapped(`statement 0 (Sid "ReadAll") of inline policy "read-all" of role `+id+`-b`) +
					".*" + wrapped("set readers on the airflowiam_aws_secret_connection")),
			},
			{
				// A Secrets Manager proof needs the role and the audience.
				Config: config(fmt.Sprintf(`
data "airflowiam_connection_access" "incomplete" {
  secret          = %q
  service_account = %q
}
`, "airflow/connections/"+id, g.Worker)),
				ExpectError: regexp.MustCompile(`(?s)audience is required for a Secrets Manager secret.*role_arn is required|role_arn is required.*audience is required`),
			},
		},
	})
}
