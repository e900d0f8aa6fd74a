package provider

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	tfacctest "github.com/hashicorp/terraform-plugin-testing/helper/acctest"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"
	"golang.org/x/oauth2"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/acctest"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/fakegcp"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/gcpsecrets"
)

const gcpSecretAddr = "airflowiam_gcp_secret_connection.test"

// googleSecretsProviderBlock is googleProviderBlock with Secret Manager at
// the fake too.
func googleSecretsProviderBlock(g *acctest.GCP) string {
	return fmt.Sprintf(`
provider "airflowiam" {
  google {
    access_token           = %q
    secretmanager_endpoint = %q
  }
}
`, g.AdminToken, g.URL)
}

func globalKey(g *acctest.GCP, name string) string {
	return "projects/" + g.Project + "/locations/global/keyRings/airflow/cryptoKeys/" + name
}

// checkGCPSecret checks the latest payload and the state of every version,
// oldest first.
func checkGCPSecret(g *acctest.GCP, secretID, payload string, states ...string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		got, ok := g.SecretPayload(g.Project, secretID, "latest")
		if !ok || string(got) != payload {
			return fmt.Errorf("secret %s holds %q (found %v), want %q", secretID, got, ok, payload)
		}
		var have []string
		for _, v := range g.SecretVersions(g.Project, secretID) {
			have = append(have, v.State)
		}
		if fmt.Sprint(have) != fmt.Sprint(states) {
			return fmt.Errorf("secret %s versions %v, want %v", secretID, have, states)
		}
		return nil
	}
}

func checkGCPSecretGone(g *acctest.GCP, secretID string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		if _, ok := g.Secret(g.Project, secretID); ok {
			return fmt.Errorf("secret %s still exists after destroy", secretID)
		}
		return nil
	}
}

func TestAccGCPSecretConnection_lifecycle(t *testing.T) {
	g := acctest.FakeGCP(t)
	id := tfacctest.RandomWithPrefix("tfacc_gsm")
	secretID := "airflow-connections-" + id
	password := "pw-" + tfacctest.RandString(12)
	workDir := t.TempDir()
	number, _ := g.ProjectNumber(g.Project)
	config := func(host, format, key, passwordVersion, labels string) string {
		return googleSecretsProviderBlock(g) + fmt.Sprintf(`
resource "airflowiam_gcp_secret_connection" "test" {
  project             = %q
  connection_id       = %q
  conn_type           = "google_cloud_platform"
  extra               = jsonencode({ project = "analytics", impersonation_chain = ["a@x.iam.gserviceaccount.com"] })
  host                = %q
  login               = "svc"
  password_wo         = %q
  password_wo_version = %s
  format              = %q
  kms_key_name        = %q
  labels              = %s
}
`, g.Project, id, host, password+passwordVersion, passwordVersion, format, key, labels)
	}
	uri := func(host, pw string) string {
		return "google-cloud-platform://svc:" + pw + "@" + host +
			"/?__extra__=%7B%22impersonation_chain%22%3A%5B%22a%40x.iam.gserviceaccount.com%22%5D%2C%22project%22%3A%22analytics%22%7D"
	}
	resource.ParallelTest(t, resource.TestCase{
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_11_0)},
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		WorkingDir:               workDir,
		CheckDestroy:             checkGCPSecretGone(g, secretID),
		Steps: []resource.TestStep{
			{
				Config: config("one.example.com", "uri", globalKey(g, "k1"), "1", `{ team = "data" }`),
				Check: resource.ComposeAggregateTestCheckFunc(
					checkGCPSecret(g, secretID, uri("one.example.com", password+"1"), fakegcp.VersionEnabled),
					checkNoSecretInWorkingDir(workDir, password),
					func(*terraform.State) error {
						s, _ := g.Secret(g.Project, secretID)
						if cme := s.Replication.Automatic.CustomerManagedEncryption; cme == nil || cme.KmsKeyName != globalKey(g, "k1") || s.Labels["team"] != "data" {
							return fmt.Errorf("secret %+v", s)
						}
						return nil
					},
				),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(gcpSecretAddr, tfjsonpath.New("id"), knownvalue.StringExact("projects/"+g.Project+"/secrets/"+secretID)),
					statecheck.ExpectKnownValue(gcpSecretAddr, tfjsonpath.New("secret_id"), knownvalue.StringExact(secretID)),
					statecheck.ExpectKnownValue(gcpSecretAddr, tfjsonpath.New("secret_name"), knownvalue.StringExact("projects/"+number+"/secrets/"+secretID)),
					statecheck.ExpectKnownValue(gcpSecretAddr, tfjsonpath.New("kms_key_name"), knownvalue.StringExact(globalKey(g, "k1"))),
					statecheck.ExpectKnownValue(gcpSecretAddr, tfjsonpath.New("replication"), knownvalue.Null()),
					statecheck.ExpectKnownValue(gcpSecretAddr, tfjsonpath.New("password"), knownvalue.Null()),
				},
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
			{
				// An update adds a version and disables the one it supersedes.
				Config: config("two.example.com", "uri", globalKey(g, "k2"), "1", `{ team = "platform" }`),
				Check: resource.ComposeAggregateTestCheckFunc(
					checkGCPSecret(g, secretID, uri("two.example.com", password+"1"), fakegcp.VersionDisabled, fakegcp.VersionEnabled),
					func(*terraform.State) error {
						s, _ := g.Secret(g.Project, secretID)
						if s.Replication.Automatic.CustomerManagedEncryption.KmsKeyName != globalKey(g, "k2") || s.Labels["team"] != "platform" {
							return fmt.Errorf("secret %+v", s)
						}
						return nil
					},
				),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(gcpSecretAddr, plancheck.ResourceActionUpdate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				// The JSON form and a new write-only password.
				Config: config("two.example.com", "json", globalKey(g, "k2"), "2", `{ team = "platform" }`),
				Check: resource.ComposeAggregateTestCheckFunc(
					checkGCPSecret(g, secretID, `{"conn_type":"google_cloud_platform","extra":{"impersonation_chain":["a@x.iam.gserviceaccount.com"],"project":"analytics"},"host":"two.example.com","login":"svc","password":"`+password+`2"}`,
						fakegcp.VersionDisabled, fakegcp.VersionDisabled, fakegcp.VersionEnabled),
					checkNoSecretInWorkingDir(workDir, password),
				),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(gcpSecretAddr, plancheck.ResourceActionUpdate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
		},
	})
}

func TestAccGCPSecretConnection_userManagedReplication(t *testing.T) {
	g := acctest.FakeGCP(t)
	id := tfacctest.RandomWithPrefix("tfacc_repl")
	secretID := "airflow-connections-" + id
	key := func(loc, name string) string {
		return "projects/" + g.Project + "/locations/" + loc + "/keyRings/airflow/cryptoKeys/" + name
	}
	config := func(replicas string) string {
		return googleSecretsProviderBlock(g) + fmt.Sprintf(`
resource "airflowiam_gcp_secret_connection" "test" {
  project       = %q
  connection_id = %q
  conn_type     = "http"
  host          = "api.example.com"
  replication   = { replicas = [%s] }
}
`, g.Project, id, replicas)
	}
	replicaKeys := func(want ...string) resource.TestCheckFunc {
		return func(*terraform.State) error {
			s, ok := g.Secret(g.Project, secretID)
			if !ok || s.Replication.UserManaged == nil {
				return fmt.Errorf("secret %+v", s)
			}
			var got []string
			for _, r := range s.Replication.UserManaged.Replicas {
				k := ""
				if r.CustomerManagedEncryption != nil {
					k = r.CustomerManagedEncryption.KmsKeyName
				}
				got = append(got, r.Location+"="+k)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				return fmt.Errorf("replicas %v, want %v", got, want)
			}
			return nil
		}
	}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkGCPSecretGone(g, secretID),
		Steps: []resource.TestStep{
			{
				Config: config(fmt.Sprintf(`{ location = "us-east1", kms_key_name = %q }, { location = "europe-west1" }`, key("us-east1", "k1"))),
				Check:  replicaKeys("us-east1="+key("us-east1", "k1"), "europe-west1="),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(gcpSecretAddr, tfjsonpath.New("replication").AtMapKey("replicas").AtSliceIndex(0).AtMapKey("kms_key_name"),
						knownvalue.StringExact(key("us-east1", "k1"))),
				},
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
			{
				// Other keys: updated in place.
				Config: config(fmt.Sprintf(`{ location = "us-east1", kms_key_name = %q }, { location = "europe-west1", kms_key_name = %q }`,
					key("us-east1", "k2"), key("europe-west1", "k3"))),
				// A new version is written under the new keys; the old one is disabled.
				Check: resource.ComposeAggregateTestCheckFunc(
					replicaKeys("us-east1="+key("us-east1", "k2"), "europe-west1="+key("europe-west1", "k3")),
					checkGCPSecret(g, secretID, "http://api.example.com", fakegcp.VersionDisabled, fakegcp.VersionEnabled),
				),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(gcpSecretAddr, plancheck.ResourceActionUpdate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				// Other locations: replaced, since Secret Manager cannot move a secret.
				Config: config(`{ location = "us-central1" }`),
				Check:  replicaKeys("us-central1="),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(gcpSecretAddr, plancheck.ResourceActionDestroyBeforeCreate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
		},
	})
}

func TestAccGCPSecretConnection_drift(t *testing.T) {
	g := acctest.FakeGCP(t)
	id := tfacctest.RandomWithPrefix("tfacc_gdrift")
	secretID := "airflow-connections-" + id
	config := googleSecretsProviderBlock(g) + fmt.Sprintf(`
resource "airflowiam_gcp_secret_connection" "test" {
  project       = %q
  connection_id = %q
  conn_type     = "http"
  host          = "api.example.com"
  login         = "svc"
  password      = "kept-in-state"
  port          = 8443
  labels        = { team = "data" }
}
`, g.Project, id)
	want := "http://svc:kept-in-state@api.example.com:8443"
	step := func(pre func(), attr string, planned knownvalue.Check) resource.TestStep {
		return resource.TestStep{
			PreConfig: pre,
			Config:    config,
			Check: func(*terraform.State) error {
				got, ok := g.SecretPayload(g.Project, secretID, "latest")
				if !ok || string(got) != want {
					return fmt.Errorf("latest holds %q, want %q", got, want)
				}
				return nil
			},
			ConfigPlanChecks: resource.ConfigPlanChecks{
				PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(gcpSecretAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(gcpSecretAddr, tfjsonpath.New(attr), planned),
				},
				PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
			},
		}
	}
	addVersion := func(value string) func() {
		return func() {
			if _, err := g.AddSecretVersion(g.Project, secretID, []byte(value)); err != nil {
				t.Fatal(err)
			}
		}
	}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkGCPSecretGone(g, secretID),
		Steps: []resource.TestStep{
			{Config: config},
			step(addVersion("http://svc:kept-in-state@other.example.com:8443"), "host", knownvalue.StringExact("api.example.com")),
			step(addVersion("http://svc:rotated-by-hand@api.example.com:8443"), "password", knownvalue.StringExact("kept-in-state")),
			step(addVersion("http://svc:kept-in-state@api.example.com"), "port", knownvalue.Int64Exact(8443)),
			step(func() {
				// The latest version disabled: Airflow reads nothing.
				if err := g.SetSecretVersionState(g.Project, secretID, "latest", fakegcp.VersionDisabled); err != nil {
					t.Fatal(err)
				}
			}, "conn_type", knownvalue.StringExact("http")),
			step(func() {
				if err := g.SetSecretLabels(g.Project, secretID, map[string]string{"team": "other"}); err != nil {
					t.Fatal(err)
				}
			}, "labels", knownvalue.MapExact(map[string]knownvalue.Check{"team": knownvalue.StringExact("data")})),
			{
				// The same connection written differently is no change.
				PreConfig: addVersion("  HTTP://svc:kept-in-state@api.example.com:8443/  "),
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				// Deleted out of band: planned again.
				PreConfig: func() {
					if err := g.DeleteSecret(g.Project, secretID); err != nil {
						t.Fatal(err)
					}
				},
				Config: config,
				Check:  checkGCPSecret(g, secretID, want, fakegcp.VersionEnabled),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(gcpSecretAddr, plancheck.ResourceActionCreate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
		},
	})
}

func TestAccGCPSecretConnection_disappears(t *testing.T) {
	g := acctest.FakeGCP(t)
	id := tfacctest.RandomWithPrefix("tfacc_ggone")
	secretID := "airflow-connections-" + id
	config := googleSecretsProviderBlock(g) + fmt.Sprintf(`
resource "airflowiam_gcp_secret_connection" "test" {
  project       = %q
  connection_id = %q
  conn_type     = "http"
  host          = "api.example.com"
}
`, g.Project, id)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkGCPSecretGone(g, secretID),
		Steps: []resource.TestStep{
			{Config: config},
			{
				PreConfig: func() {
					if err := g.DeleteSecret(g.Project, secretID); err != nil {
						t.Fatal(err)
					}
				},
				Config: config,
				Check:  checkGCPSecret(g, secretID, "http://api.example.com", fakegcp.VersionEnabled),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(gcpSecretAddr, plancheck.ResourceActionCreate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
		},
	})
}

func TestAccGCPSecretConnection_alreadyExists(t *testing.T) {
	g := acctest.FakeGCP(t)
	id := tfacctest.RandomWithPrefix("tfacc_gexists")
	secretID := "airflow-connections-" + id
	// Made by hand, through the API, before Terraform runs.
	hc := &http.Client{Transport: &oauth2.Transport{Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: g.AdminToken})}}
	c, err := gcpsecrets.NewClient(context.Background(), hc, g.URL, "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(context.Background(), gcpsecrets.CreateInput{Project: g.Project, SecretID: secretID, Value: "http://made-by-hand"}); err != nil {
		t.Fatal(err)
	}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: googleSecretsProviderBlock(g) + fmt.Sprintf(`
resource "airflowiam_gcp_secret_connection" "test" {
  project       = %q
  connection_id = %q
  conn_type     = "http"
}
`, g.Project, id),
			ExpectError: regexp.MustCompile(`(?s)Secret Already Exists.*terraform import\s+airflowiam_gcp_secret_connection.NAME\s+` +
				regexp.QuoteMeta("projects/"+g.Project+"/secrets/"+secretID)),
		}},
	})
	// The existing secret was left as it was: one version, its own value.
	if err := checkGCPSecret(g, secretID, "http://made-by-hand", fakegcp.VersionEnabled)(nil); err != nil {
		t.Fatal(err)
	}
}

func TestAccGCPSecretConnection_import(t *testing.T) {
	g := acctest.FakeGCP(t)
	id := tfacctest.RandomWithPrefix("tfacc_gimport")
	for _, tc := range []struct {
		name, prefix, separator string
		importID                func(connID string) string
	}{
		{"by name", "airflow-connections", "-", func(connID string) string {
			return "projects/" + g.Project + "/secrets/airflow-connections-" + connID
		}},
		{"short form", "airflow-connections", "-", func(connID string) string { return g.Project + "/airflow-connections-" + connID }},
		{"custom prefix", "team_conns", "__", func(connID string) string { return g.Project + "/team_conns,__," + connID }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			connID := id + "_" + strings.ReplaceAll(tc.name, " ", "_")
			config := googleSecretsProviderBlock(g) + fmt.Sprintf(`
resource "airflowiam_gcp_secret_connection" "test" {
  project       = %q
  connection_id = %q
  prefix        = %q
  separator     = %q
%s
  kms_key_name  = %q
  labels        = { team = "data" }
}
`, g.Project, connID, tc.prefix, tc.separator, importedConnectionFields, globalKey(g, "k"))
			resource.ParallelTest(t, resource.TestCase{
				ProtoV6ProviderFactories: protoV6ProviderFactories,
				CheckDestroy:             checkGCPSecretGone(g, tc.prefix+tc.separator+connID),
				Steps: []resource.TestStep{
					{Config: config},
					{
						Config:            config,
						ResourceName:      gcpSecretAddr,
						ImportState:       true,
						ImportStateId:     tc.importID(connID),
						ImportStateVerify: true,
						// The password is not imported: the configuration may keep
						// it write-only.
						ImportStateVerifyIgnore: []string{"password"},
					},
				},
			})
		})
	}
}

func TestAccGCPSecretConnection_invalidInput(t *testing.T) {
	g := acctest.FakeGCP(t)
	base := func(attrs string) string {
		return googleSecretsProviderBlock(g) + fmt.Sprintf("resource \"airflowiam_gcp_secret_connection\" \"test\" {\n  project = %q\n%s\n}\n", g.Project, attrs)
	}
	cases := []refusedPlan{
		{"dot in the id", `connection_id = "my.db"` + "\nconn_type = \"http\"", regexp.MustCompile(`(?s)connection_id.*no dots`)},
		{"slash in the prefix", `connection_id = "ok"` + "\nconn_type = \"http\"\nprefix = \"a/b\"", regexp.MustCompile(`(?s)prefix.*may contain only ASCII letters`)},
		{"secret ID too long", fmt.Sprintf("connection_id = \"ok\"\nconn_type = \"http\"\nprefix = %q", strings.Repeat("p", 254)), regexp.MustCompile(`(?s)connection_id.*1 to 255 characters`)},
		{"not a key", `connection_id = "ok"` + "\nconn_type = \"http\"\nkms_key_name = \"arn:aws:kms:us-east-1:123456789012:key/x\"", flowRE(`kms_key_name: "arn:aws:kms:us-east-1:123456789012:key/x" is not a Cloud KMS key name`)},
		{"regional key, automatic", `connection_id = "ok"` + "\nconn_type = \"http\"\nkms_key_name = \"projects/p/locations/us-east1/keyRings/r/cryptoKeys/k\"", flowRE(`kms_key_name: the key is in location "us-east1"`, `needs a key in "global"`)},
		{"replica key elsewhere", `connection_id = "ok"` + "\nconn_type = \"http\"\nreplication = { replicas = [{ location = \"us-east1\", kms_key_name = \"projects/p/locations/europe-west1/keyRings/r/cryptoKeys/k\" }] }", regexp.MustCompile(`(?s)replication.replicas\[0\].kms_key_name: the key.*replica's\s+own\s+location`)},
		{"duplicate location", `connection_id = "ok"` + "\nconn_type = \"http\"\nreplication = { replicas = [{ location = \"us-east1\" }, { location = \"us-east1\" }] }", regexp.MustCompile(`(?s)replication.replicas\[1\].location: "us-east1" appears\s+more\s+than\s+once`)},
		{"key and replication", `connection_id = "ok"` + "\nconn_type = \"http\"\nkms_key_name = \"projects/p/locations/global/keyRings/r/cryptoKeys/k\"\nreplication = { replicas = [{ location = \"us-east1\" }] }", regexp.MustCompile(`(?s)"replication"\s+cannot\s+be\s+specified\s+when\s+"kms_key_name"`)},
		{"port out of range", `connection_id = "ok"` + "\nconn_type = \"http\"\nport = 0", flowRE("port must be a whole number from 1 to 65535, got 0")},
		{"label key with upper case", `connection_id = "ok"` + "\nconn_type = \"http\"\nlabels = { Team = \"data\" }", flowRE("Invalid Label Key", `labels: the key "Team" is not one Secret Manager accepts`, "start with a lowercase letter")},
		{"label value with upper case", `connection_id = "ok"` + "\nconn_type = \"http\"\nlabels = { team = \"Data\" }", flowRE("Invalid Label Value", `the value of label "team"`)},
	}
	testRefusedPlans(t, base, cases)
	if _, ok := g.Secret(g.Project, "airflow-connections-ok"); ok {
		t.Fatal("a refused plan left a secret behind")
	}
}

func TestParseGCPSecretImportID(t *testing.T) {
	for in, want := range map[string][4]string{
		"projects/p-123456/secrets/airflow-connections-my_db": {"p-123456", "airflow-connections", "-", "my_db"},
		"p-123456/airflow-connections-my-db":                  {"p-123456", "airflow-connections", "-", "my-db"},
		"p-123456/team,__,my_db":                              {"p-123456", "team", "__", "my_db"},
	} {
		project, prefix, sep, id, err := parseGCPSecretImportID(in)
		if err != nil || [4]string{project, prefix, sep, id} != want {
			t.Errorf("parseGCPSecretImportID(%q) = %q, %q, %q, %q, %v; want %q", in, project, prefix, sep, id, err, want)
		}
	}
	for _, bad := range []string{"my_db", "p/other-prefix-my_db", "projects/p/secrets", "p/a,b", "/airflow-connections-x", "p/x/y"} {
		if _, _, _, _, err := parseGCPSecretImportID(bad); err == nil || !strings.Contains(err.Error(), "PROJECT/PREFIX,SEPARATOR,CONNECTION_ID") {
			t.Errorf("parseGCPSecretImportID(%q) = %v, want an error listing the forms", bad, err)
		}
	}
}

func TestAccGCPSecretConnection_writeOnlyExtra(t *testing.T) {
	g := acctest.FakeGCP(t)
	id := tfacctest.RandomWithPrefix("tfacc_gsmwo")
	attrs := fmt.Sprintf("project = %q\nconnection_id = %q", g.Project, id)
	secretID := "airflow-connections-" + id
	testSecretExtraWO(t, "airflowiam_gcp_secret_connection", googleSecretsProviderBlock(g), attrs, func() string {
		b, _ := g.SecretPayload(g.Project, secretID, "latest")
		return string(b)
	}, func(v string) {
		if _, err := g.AddSecretVersion(g.Project, secretID, []byte(v)); err != nil {
			t.Fatalf("writing the secret out of band: %v", err)
		}
	})
}

// TestAccGCPSecretConnection_permissionDenied: a caller without Secret
// Manager roles is told the service, the permission and the project, not
// a hint about service-account IAM policies.
func TestAccGCPSecretConnection_permissionDenied(t *testing.T) {
	g := acctest.FakeGCP(t)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: fmt.Sprintf(`
provider "airflowiam" {
  google {
    access_token           = %q
    secretmanager_endpoint = %q
  }
}
resource "airflowiam_gcp_secret_connection" "test" {
  project       = %q
  connection_id = "denied"
  conn_type     = "http"
}
`, g.AccessTokenFor("user:nobody@example.com"), g.URL, g.Project),
			ExpectError: flowRE("Error Creating Secret", "was refused: Secret Manager needs secretmanager.secrets.create on projects/"+g.Project,
				"roles/secretmanager.admin"),
		}},
	})
}
