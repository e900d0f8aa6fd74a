package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	tfacctest "github.com/hashicorp/terraform-plugin-testing/helper/acctest"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/acctest"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/awssecrets"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/denied"
)

const awsSecretAddr = "airflowiam_aws_secret_connection.test"

// awsSecretsProviderBlock configures the provider's aws block for moto's
// Secrets Manager and KMS.
func awsSecretsProviderBlock(m *acctest.Moto) string {
	return fmt.Sprintf(`
provider "airflowiam" {
  aws {
    region                  = %q
    access_key              = %q
    secret_key              = %q
    secretsmanager_endpoint = %q
    kms_endpoint            = %q
  }
}
`, m.Region, m.AccessKeyID, m.SecretAccessKey, m.URL, m.URL)
}

func testSecretsClient(t *testing.T, m *acctest.Moto) *awssecrets.Client {
	t.Helper()
	return awssecrets.NewClient(m.AWSConfig(), awssecrets.Endpoints{SecretsManager: m.URL, KMS: m.URL})
}

// testKMSKey creates a KMS key in moto and returns its ID and ARN.
func testKMSKey(t *testing.T, c *awssecrets.Client) (id, arn string) {
	t.Helper()
	out, err := c.KMS.CreateKey(context.Background(), &kms.CreateKeyInput{Description: aws.String(t.Name())})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.KeyMetadata.KeyId), aws.ToString(out.KeyMetadata.Arn)
}

// secretValue reads the AWSCURRENT value of a secret.
func secretValue(t *testing.T, c *awssecrets.Client, name string) string {
	t.Helper()
	s, err := c.Read(context.Background(), name)
	if err != nil {
		t.Fatalf("reading secret %s: %v", name, err)
	}
	return s.Value
}

func checkSecretValue(t *testing.T, c *awssecrets.Client, name, want string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		if got := secretValue(t, c, name); got != want {
			return fmt.Errorf("secret %s holds %q, want %q", name, got, want)
		}
		return nil
	}
}

func checkSecretGone(c *awssecrets.Client, name string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		if _, err := c.Read(context.Background(), name); !errors.Is(err, awssecrets.ErrNotFound) {
			return fmt.Errorf("secret %s still readable after destroy (err %v)", name, err)
		}
		return nil
	}
}

func TestAccAWSSecretConnection_lifecycle(t *testing.T) {
	m := acctest.MotoServer(t)
	c := testSecretsClient(t, m)
	key1, key1ARN := testKMSKey(t, c)
	key2, key2ARN := testKMSKey(t, c)
	id := tfacctest.RandomWithPrefix("tfacc_sm")
	workDir := t.TempDir()
	name := "airflow/connections/" + id
	password := "pw-" + tfacctest.RandString(12)
	config := func(host, format, kmsKey, passwordVersion, tags string) string {
		return awsSecretsProviderBlock(m) + fmt.Sprintf(`
resource "airflowiam_aws_secret_connection" "test" {
  connection_id           = %q
  conn_type               = "postgres"
  host                    = %q
  login                   = "etl"
  schema                  = "warehouse"
  port                    = 5432
  extra                   = jsonencode({ sslmode = "require", options = { a = [1, 2] } })
  password_wo             = %q
  password_wo_version     = %s
  format                  = %q
  kms_key_id              = %q
  recovery_window_in_days = 0
  tags                    = %s
}
`, id, host, password+passwordVersion, passwordVersion, format, kmsKey, tags)
	}
	firstURI := "postgres://etl:" + password + "1@db.example.com:5432/warehouse?__extra__=%7B%22options%22%3A%7B%22a%22%3A%5B1%2C2%5D%7D%2C%22sslmode%22%3A%22require%22%7D"
	resource.ParallelTest(t, resource.TestCase{
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_11_0)},
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		WorkingDir:               workDir,
		CheckDestroy:             checkSecretGone(c, name),
		Steps: []resource.TestStep{
			{
				Config: config("db.example.com", "uri", key1, "1", `{ team = "data" }`),
				Check: resource.ComposeAggregateTestCheckFunc(
					checkSecretValue(t, c, name, firstURI),
					checkNoSecretInWorkingDir(workDir, password),
				),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(awsSecretAddr, tfjsonpath.New("secret_name"), knownvalue.StringExact(name)),
					statecheck.ExpectKnownValue(awsSecretAddr, tfjsonpath.New("secret_arn"), knownvalue.StringRegexp(regexp.MustCompile(`^arn:aws:secretsmanager:us-east-1:\d{12}:secret:`+regexp.QuoteMeta(name)+`-\w{6}$`))),
					statecheck.ExpectKnownValue(awsSecretAddr, tfjsonpath.New("kms_key_id"), knownvalue.StringExact(key1)),
					statecheck.ExpectKnownValue(awsSecretAddr, tfjsonpath.New("password"), knownvalue.Null()),
					statecheck.ExpectKnownValue(awsSecretAddr, tfjsonpath.New("password_wo"), knownvalue.Null()),
				},
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				// Update: another host, the JSON form, another key, other tags.
				Config: config("db2.example.com", "json", key2, "1", `{ env = "prod" }`),
				Check: resource.ComposeAggregateTestCheckFunc(
					checkSecretValue(t, c, name, `{"conn_type":"postgres","extra":{"options":{"a":[1,2]},"sslmode":"require"},"host":"db2.example.com","login":"etl","password":"`+password+`1","port":5432,"schema":"warehouse"}`),
					func(*terraform.State) error {
						s, err := c.Read(context.Background(), name)
						if err != nil {
							return err
						}
						if s.KMSKeyID != key2 || len(s.Tags) != 1 || s.Tags["env"] != "prod" {
							return fmt.Errorf("secret after update: key %q, tags %v", s.KMSKeyID, s.Tags)
						}
						// The superseded version is kept as AWSPREVIOUS.
						prev, err := c.SecretsManager.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{
							SecretId: aws.String(name), VersionStage: aws.String("AWSPREVIOUS")})
						if err != nil || aws.ToString(prev.SecretString) != firstURI {
							return fmt.Errorf("AWSPREVIOUS after update: %v, %v", prev, err)
						}
						return nil
					},
				),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(awsSecretAddr, plancheck.ResourceActionUpdate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				// A new write-only password version writes a new version.
				Config: config("db2.example.com", "json", key2, "2", `{ env = "prod" }`),
				Check: checkSecretValue(t, c, name,
					`{"conn_type":"postgres","extra":{"options":{"a":[1,2]},"sslmode":"require"},"host":"db2.example.com","login":"etl","password":"`+password+`2","port":5432,"schema":"warehouse"}`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(awsSecretAddr, plancheck.ResourceActionUpdate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				// Out of band, the key is named by its ARN: the same key, no change.
				PreConfig: func() {
					if err := c.SetKMSKey(context.Background(), name, key2ARN); err != nil {
						t.Fatal(err)
					}
				},
				Config: config("db2.example.com", "json", key2, "2", `{ env = "prod" }`),
				Check:  checkNoSecretInWorkingDir(workDir, password+"1", password+"2"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				// Out of band, another key: the plan puts the configured one back.
				PreConfig: func() {
					if err := c.SetKMSKey(context.Background(), name, key1ARN); err != nil {
						t.Fatal(err)
					}
				},
				Config: config("db2.example.com", "json", key2, "2", `{ env = "prod" }`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(awsSecretAddr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(awsSecretAddr, tfjsonpath.New("kms_key_id"), knownvalue.StringExact(key2)),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
		},
	})
}

func TestAccAWSSecretConnection_drift(t *testing.T) {
	m := acctest.MotoServer(t)
	c := testSecretsClient(t, m)
	id := tfacctest.RandomWithPrefix("tfacc_drift")
	name := "airflow/connections/" + id
	config := awsSecretsProviderBlock(m) + fmt.Sprintf(`
resource "airflowiam_aws_secret_connection" "test" {
  connection_id           = %q
  conn_type               = "http"
  host                    = "api.example.com"
  login                   = "svc"
  password                = "kept-in-state"
  extra                   = jsonencode({ timeout = 30 })
  recovery_window_in_days = 0
  tags                    = { team = "data" }
}
`, id)
	want := "http://svc:kept-in-state@api.example.com/?__extra__=%7B%22timeout%22%3A30%7D"
	outOfBand := func(value string, tags map[string]string) func() {
		return func() {
			ctx := context.Background()
			if value != "" {
				if _, err := c.PutValue(ctx, name, value); err != nil {
					t.Fatal(err)
				}
			}
			if tags != nil {
				s, err := c.Read(ctx, name)
				if err != nil {
					t.Fatal(err)
				}
				if err := c.SetTags(ctx, s.ARN, s.Tags, tags); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	driftStep := func(pre func(), attr string, planned knownvalue.Check) resource.TestStep {
		return resource.TestStep{
			PreConfig: pre,
			Config:    config,
			Check:     checkSecretValue(t, c, name, want),
			ConfigPlanChecks: resource.ConfigPlanChecks{
				PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(awsSecretAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(awsSecretAddr, tfjsonpath.New(attr), planned),
				},
				PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
			},
		}
	}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkSecretGone(c, name),
		Steps: []resource.TestStep{
			{Config: config, Check: checkSecretValue(t, c, name, want)},
			// Each change made out of band shows in the next plan, which
			// writes the configured connection again.
			driftStep(outOfBand("http://svc:kept-in-state@other.example.com/?timeout=30", nil), "host", knownvalue.StringExact("api.example.com")),
			driftStep(outOfBand("http://svc:changed@api.example.com/?timeout=30", nil), "password", knownvalue.StringExact("kept-in-state")),
			driftStep(outOfBand("http://svc:kept-in-state@api.example.com/?timeout=31", nil), "extra", knownvalue.StringExact(`{"timeout":30}`)),
			driftStep(outOfBand(`{"conn_type":"http","host":"api.example.com","login":"svc","password":"kept-in-state","extra":{"timeout":30}}`, nil), "format", knownvalue.StringExact("uri")),
			driftStep(outOfBand("", map[string]string{"team": "other"}), "tags", knownvalue.MapExact(map[string]knownvalue.Check{"team": knownvalue.StringExact("data")})),
			{
				// The same connection written differently is no change.
				PreConfig: outOfBand("HTTP://svc:kept-in-state@api.example.com:0/?timeout=30", nil),
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
		},
	})
}

func TestAccAWSSecretConnection_disappears(t *testing.T) {
	m := acctest.MotoServer(t)
	c := testSecretsClient(t, m)
	id := tfacctest.RandomWithPrefix("tfacc_gone")
	name := "airflow/connections/" + id
	config := awsSecretsProviderBlock(m) + fmt.Sprintf(`
resource "airflowiam_aws_secret_connection" "test" {
  connection_id           = %q
  conn_type               = "http"
  host                    = "api.example.com"
  recovery_window_in_days = 0
}
`, id)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkSecretGone(c, name),
		Steps: []resource.TestStep{
			{Config: config},
			{
				PreConfig: func() {
					if err := c.Delete(context.Background(), name, 0); err != nil {
						t.Fatal(err)
					}
				},
				Config: config,
				Check:  checkSecretValue(t, c, name, "http://api.example.com"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(awsSecretAddr, plancheck.ResourceActionCreate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
		},
	})
}

func TestAccAWSSecretConnection_import(t *testing.T) {
	m := acctest.MotoServer(t)
	c := testSecretsClient(t, m)
	key, _ := testKMSKey(t, c)
	id := tfacctest.RandomWithPrefix("tfacc_import")
	for _, tc := range []struct {
		name, prefix, separator string
		importID                func(connID string) resource.ImportStateIdFunc
	}{
		{"by name", "airflow/connections", "/", func(connID string) resource.ImportStateIdFunc {
			return func(*terraform.State) (string, error) { return "airflow/connections/" + connID, nil }
		}},
		{"by ARN", "teams/data", "/", func(string) resource.ImportStateIdFunc {
			return func(s *terraform.State) (string, error) {
				return s.RootModule().Resources[awsSecretAddr].Primary.Attributes["secret_arn"], nil
			}
		}},
		{"custom separator", "conns", "--", func(connID string) resource.ImportStateIdFunc {
			return func(*terraform.State) (string, error) { return "conns,--," + connID, nil }
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			connID := id + "_" + strings.ReplaceAll(tc.name, " ", "_")
			config := awsSecretsProviderBlock(m) + fmt.Sprintf(`
resource "airflowiam_aws_secret_connection" "test" {
  connection_id = %q
  prefix        = %q
  separator     = %q
%s
  kms_key_id    = %q
  tags          = { team = "data" }
  recovery_window_in_days = 0
}
`, connID, tc.prefix, tc.separator, importedConnectionFields, key)
			resource.ParallelTest(t, resource.TestCase{
				ProtoV6ProviderFactories: protoV6ProviderFactories,
				CheckDestroy:             checkSecretGone(c, tc.prefix+tc.separator+connID),
				Steps: []resource.TestStep{
					{Config: config},
					{
						Config:            config,
						ResourceName:      awsSecretAddr,
						ImportState:       true,
						ImportStateIdFunc: tc.importID(connID),
						ImportStateVerify: true,
						// The password is not imported (it would put a secret in
						// state that the configuration may keep write-only), and
						// the recovery window exists only in Terraform.
						ImportStateVerifyIgnore: []string{"password", "recovery_window_in_days"},
					},
				},
			})
		})
	}
}

func TestAccAWSSecretConnection_invalidInput(t *testing.T) {
	m := acctest.MotoServer(t)
	c := testSecretsClient(t, m)
	base := func(attrs string) string {
		return awsSecretsProviderBlock(m) + "resource \"airflowiam_aws_secret_connection\" \"test\" {\n" + attrs + "\n}\n"
	}
	cases := []refusedPlan{
		{"id with space", `connection_id = "bad id"` + "\nconn_type = \"http\"", regexp.MustCompile(`(?s)connection_id.*ASCII letters, digits, underscores`)},
		{"non-ASCII id", `connection_id = "données"` + "\nconn_type = \"http\"", regexp.MustCompile(`(?s)connection_id.*ASCII letters`)},
		{"prefix with a colon", `connection_id = "ok"` + "\nconn_type = \"http\"\nprefix = \"a:b\"", regexp.MustCompile(`(?s)prefix.*may contain only ASCII letters, digits and`)},
		{"name too long", fmt.Sprintf("connection_id = \"ok\"\nconn_type = \"http\"\nprefix = %q", strings.Repeat("p", 510)), regexp.MustCompile(`(?s)connection_id.*1 to 512 characters`)},
		{"KMS key not a key", `connection_id = "ok"` + "\nconn_type = \"http\"\nkms_key_id = \"my-key\"", flowRE("Invalid KMS Key", `kms_key_id: "my-key" is not a KMS key: expected a key ID`)},
		{"KMS key of GCP", `connection_id = "ok"` + "\nconn_type = \"http\"\nkms_key_id = \"projects/p/locations/global/keyRings/r/cryptoKeys/k\"", flowRE("kms_key_id: ", "alias name")},
		{"port out of range", `connection_id = "ok"` + "\nconn_type = \"http\"\nport = 70000", flowRE("port must be a whole number from 1 to 65535, got 70000")},
		{"port with a fraction", `connection_id = "ok"` + "\nconn_type = \"http\"\nport = 80.5", flowRE("port must be a whole number from 1 to 65535, got 80.5")},
		{"extra not JSON", `connection_id = "ok"` + "\nconn_type = \"http\"\nextra = \"not json\"", flowRE("extra must be a JSON object", "not valid JSON at line 1, column 2")},
		{"key in extra and extra_wo", `connection_id = "ok"` + "\nconn_type = \"http\"\nextra = jsonencode({ token = \"x\" })\nextra_wo = jsonencode({ token = \"y\" })\nextra_wo_version = 1", flowRE(`The key "token" is in both extra and extra_wo`)},
		{"recovery window", `connection_id = "ok"` + "\nconn_type = \"http\"\nrecovery_window_in_days = 3", flowRE("Invalid Recovery Window", "recovery_window_in_days must be 0 (delete the secret at once) or from 7 to 30 days, got 3.")},
		{"format", `connection_id = "ok"` + "\nconn_type = \"http\"\nformat = \"yaml\"", regexp.MustCompile(`(?s)format.*"uri" "json"`)},
		{"URI lowers conn_type", `connection_id = "ok"` + "\nconn_type = \"HTTP\"", regexp.MustCompile(`(?s)conn_type.*"http",\s+not\s+as\s+configured.*format\s+=\s+"json"`)},
		{"URI cannot carry the type", `connection_id = "ok"` + "\nconn_type = \"google cloud\"", regexp.MustCompile(`(?s)conn_type.*cannot be a URI scheme`)},
		{"JSON normalises postgresql", `connection_id = "ok"` + "\nconn_type = \"postgresql\"\nformat = \"json\"", regexp.MustCompile(`(?s)conn_type.*"postgres",\s+not\s+as\s+configured`)},
		{"missing KMS key", `connection_id = "ok"` + "\nconn_type = \"http\"\nkms_key_id = \"alias/does-not-exist\"", flowRE("KMS Key Not Usable", "kms_key_id: ", "does not exist")},
	}
	testRefusedPlans(t, base, cases)
	// Nothing was written.
	if _, err := c.Read(context.Background(), "airflow/connections/ok"); !errors.Is(err, awssecrets.ErrNotFound) {
		t.Fatalf("a refused plan left a secret behind: %v", err)
	}
}

func TestAccAWSSecretConnection_alreadyExists(t *testing.T) {
	m := acctest.MotoServer(t)
	c := testSecretsClient(t, m)
	id := tfacctest.RandomWithPrefix("tfacc_exists")
	name := "airflow/connections/" + id
	if _, err := c.Create(context.Background(), awssecrets.CreateInput{Name: name, Value: "http://made-by-hand"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Delete(context.Background(), name, 0) })
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: awsSecretsProviderBlock(m) + fmt.Sprintf(`
resource "airflowiam_aws_secret_connection" "test" {
  connection_id = %q
  conn_type     = "http"
}
`, id),
			ExpectError: regexp.MustCompile(`(?s)Secret Already Exists.*terraform import\s+airflowiam_aws_secret_connection.NAME\s+` + regexp.QuoteMeta(name)),
		}},
	})
	if v := secretValue(t, c, name); v != "http://made-by-hand" {
		t.Fatalf("the existing secret was changed to %q", v)
	}
}

// Real Airflow, with SecretsManagerBackend pointed at moto, resolves the
// connections this resource writes, in both forms, to the configured
// fields.
func TestAccAWSSecretConnection_airflowReadsIt(t *testing.T) {
	m := acctest.MotoServer(t)
	python, env := acctest.AirflowPython(t)
	c := testSecretsClient(t, m)
	id := tfacctest.RandomWithPrefix("tfacc_e2e")
	prefix := "airflow/e2e-" + tfacctest.RandString(6)
	config := awsSecretsProviderBlock(m) + fmt.Sprintf(`
locals {
  prefix = %[2]q
  fields = {
    conn_type = "postgres"
    host      = "db.example.com"
    login     = "etl user"
    password  = "p@ss:w/rd?#%%"
    schema    = "warehouse"
    port      = 5432
    extra     = jsonencode({ sslmode = "require", retries = 3, nested = { list = [1, "two"] }, flag = true })
  }
}

resource "airflowiam_aws_secret_connection" "uri" {
  connection_id           = "%[1]s_uri"
  prefix                  = local.prefix
  conn_type               = local.fields.conn_type
  host                    = local.fields.host
  login                   = local.fields.login
  password                = local.fields.password
  schema                  = local.fields.schema
  port                    = local.fields.port
  extra                   = local.fields.extra
  recovery_window_in_days = 0
}

resource "airflowiam_aws_secret_connection" "json" {
  connection_id           = "%[1]s_json"
  prefix                  = local.prefix
  format                  = "json"
  conn_type               = local.fields.conn_type
  host                    = local.fields.host
  login                   = local.fields.login
  password                = local.fields.password
  schema                  = local.fields.schema
  port                    = local.fields.port
  extra                   = local.fields.extra
  recovery_window_in_days = 0
}
`, id, prefix)
	want := map[string]any{
		"conn_type": "postgres", "host": "db.example.com", "login": "etl user", "password": "p@ss:w/rd?#%",
		"schema": "warehouse", "port": float64(5432),
		"extra": map[string]any{"sslmode": "require", "retries": float64(3), "nested": map[string]any{"list": []any{float64(1), "two"}}, "flag": true},
	}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkSecretGone(c, prefix+"/"+id+"_uri"),
		Steps: []resource.TestStep{{
			Config: config,
			Check: func(*terraform.State) error {
				got := airflowResolves(t, python, env, m, prefix, "/", id+"_uri", id+"_json")
				for _, conn := range []string{id + "_uri", id + "_json"} {
					if fmt.Sprint(got[conn]) != fmt.Sprint(want) {
						return fmt.Errorf("Airflow resolved %s to\n%v\nwant\n%v", conn, got[conn], want)
					}
				}
				return nil
			},
		}},
	})
}

// airflowResolves asks Airflow's configured secrets backends (here only
// SecretsManagerBackend, talking to moto) for each connection ID and
// returns the fields Airflow sees, extra decoded.
func airflowResolves(t *testing.T, python string, env []string, m *acctest.Moto, prefix, sep string, ids ...string) map[string]map[string]any {
	t.Helper()
	return airflowResolvesAs(t, python, env, m, []string{"AWS_ACCESS_KEY_ID=" + m.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + m.SecretAccessKey}, prefix, sep, ids...)
}

// airflowResolvesAs is airflowResolves with the given AWS credentials in
// the environment (boto3's default chain, which SecretsManagerBackend uses
// when it has no aws_conn_id). Under the key "__caller__" it also returns
// the ARN STS GetCallerIdentity names for those credentials.
func airflowResolvesAs(t *testing.T, python string, env []string, m *acctest.Moto, creds []string, prefix, sep string, ids ...string) map[string]map[string]any {
	t.Helper()
	out := filepath.Join(t.TempDir(), "resolved.json")
	script := `
import json, sys
from airflow.configuration import initialize_secrets_backends
backend = next(b for b in initialize_secrets_backends() if type(b).__name__ == "SecretsManagerBackend")
result = {}
for conn_id in sys.argv[2:]:
    c = backend.get_connection(conn_id)
    if c is None:
        result[conn_id] = None
        continue
    result[conn_id] = {"conn_type": c.conn_type, "host": c.host, "login": c.login, "password": c.password,
                       "schema": c.schema, "port": c.port, "extra": json.loads(c.extra) if c.extra else None}
import boto3
result["__caller__"] = {"arn": boto3.client("sts").get_caller_identity()["Arn"]}
with open(sys.argv[1], "w") as f:
    json.dump(result, f)
`
	kwargs, _ := json.Marshal(map[string]string{"connections_prefix": prefix, "sep": sep})
	cmd := exec.Command(python, append([]string{"-c", script, out}, ids...)...)
	cmd.Env = append(env,
		"AIRFLOW__SECRETS__BACKEND=airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend",
		"AIRFLOW__SECRETS__BACKEND_KWARGS="+string(kwargs),
		"AWS_DEFAULT_REGION="+m.Region, "AWS_ENDPOINT_URL="+m.URL,
	)
	cmd.Env = append(cmd.Env, creds...)
	if output, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("Airflow could not resolve the connections: %v\n%s", err, output)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestParseAWSSecretImportID(t *testing.T) {
	for in, want := range map[string][4]string{
		"airflow/connections/my_db": {"airflow/connections", "/", "my_db", "airflow/connections/my_db"},
		"arn:aws:secretsmanager:eu-west-1:123456789012:secret:airflow/connections/my_db-AbC123": {"airflow/connections", "/", "my_db",
			"arn:aws:secretsmanager:eu-west-1:123456789012:secret:airflow/connections/my_db-AbC123"},
		"conns,--,my_db": {"conns", "--", "my_db", "conns--my_db"},
		",,my_db":        {"", "", "my_db", "my_db"},
	} {
		prefix, sep, id, secretID, err := parseAWSSecretImportID(in)
		if err != nil || [4]string{prefix, sep, id, secretID} != want {
			t.Errorf("parseAWSSecretImportID(%q) = %q, %q, %q, %q, %v; want %q", in, prefix, sep, id, secretID, err, want)
		}
	}
	for _, bad := range []string{"my_db", "airflow/connections/", "a,b", "a,b,", "arn:aws:iam::123456789012:role/x"} {
		if _, _, _, _, err := parseAWSSecretImportID(bad); err == nil || !strings.Contains(err.Error(), "PREFIX,SEPARATOR,CONNECTION_ID") {
			t.Errorf("parseAWSSecretImportID(%q) = %v, want an error listing the forms", bad, err)
		}
	}
}

func TestAccAWSSecretConnection_writeOnlyExtra(t *testing.T) {
	m := acctest.MotoServer(t)
	c := testSecretsClient(t, m)
	id := tfacctest.RandomWithPrefix("tfacc_smwo")
	attrs := fmt.Sprintf("connection_id = %q\nrecovery_window_in_days = 0", id)
	name := "airflow/connections/" + id
	testSecretExtraWO(t, "airflowiam_aws_secret_connection", awsSecretsProviderBlock(m), attrs, func() string {
		return secretValue(t, c, name)
	}, func(v string) {
		if _, err := c.PutValue(context.Background(), name, v); err != nil {
			t.Fatalf("writing the secret out of band: %v", err)
		}
	})
}

func TestRecoveryWindowValidatorGivesOneMessage(t *testing.T) {
	for n, want := range map[int64]int{0: 0, 3: 1, 6: 1, 7: 0, 30: 0, 31: 1, -1: 1} {
		var resp validator.Int64Response
		recoveryWindowValidator{}.ValidateInt64(context.Background(), validator.Int64Request{
			Path: path.Root("recovery_window_in_days"), ConfigValue: types.Int64Value(n),
		}, &resp)
		if got := resp.Diagnostics.ErrorsCount(); got != want {
			t.Errorf("recovery_window_in_days = %d: %d errors, want %d: %v", n, got, want, resp.Diagnostics)
		}
		if want == 1 && !strings.Contains(resp.Diagnostics[0].Detail(), "0 (delete the secret at once) or from 7 to 30") {
			t.Errorf("recovery_window_in_days = %d: %s", n, resp.Diagnostics[0].Detail())
		}
	}
}

func TestAWSErrorDetailNamesTheActionAndResource(t *testing.T) {
	refused := &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "User is not authorized"}
	err := fmt.Errorf("writing a new version of secret %q: %w", "arn:s", denied.Wrap(refused, denied.Need{
		Service: "AWS Secrets Manager", Permission: "secretsmanager:PutSecretValue", Resource: "arn:s",
		Also: []denied.Need{{Service: "AWS KMS", Permission: "kms:GenerateDataKey", Resource: "arn:k"}},
	}))
	want := "was refused: AWS Secrets Manager needs secretsmanager:PutSecretValue on arn:s, and AWS KMS kms:GenerateDataKey on arn:k."
	if got := awsErrorDetail(err); !strings.Contains(got, want) {
		t.Fatalf("awsErrorDetail = %q, want it to contain %q", got, want)
	}
}
