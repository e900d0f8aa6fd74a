package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	tfacctest "github.com/hashicorp/terraform-plugin-testing/helper/acctest"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/acctest"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/awspolicy"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/fakegcp"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/gcpiam"
)

// The hook tests run Airflow's own code (providers-amazon's AwsBaseHook,
// providers-google's GoogleBaseHook, providers-cncf-kubernetes'
// PodGenerator) in the Airflow 3 venv, as a worker of the test Airflow:
// same AIRFLOW_HOME, database and Fernet key, so the hooks read the
// connections the provider wrote through the REST API. The worker's Google
// identity is fakegcp's metadata server (GCE_METADATA_HOST /
// GCE_METADATA_IP), as on GKE with Workload Identity; boto3 reaches moto
// through AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL, so the connection stays
// exactly what the provider wrote. testenv/shim/sitecustomize.py is the
// one shim: it sends https://*.googleapis.com to fakegcp, because
// google-auth has no endpoint setting for IAM Credentials; nothing in the
// hooks is patched. Each test has a broken twin on which both the hook and
// airflowiam_token_exchange fail, at the same hop.

// hookEnv is exchangeEnv with a worker that runs Airflow's hooks.
type hookEnv struct {
	*exchangeEnv
	python string
	env    []string
}

func newHookEnv(t *testing.T) *hookEnv {
	t.Helper()
	e := newExchangeEnv(t)
	python, env := acctest.AirflowWorker(t, e.af)
	if err := e.g.SetMetadataServiceAccount(e.g.Worker); err != nil {
		t.Fatal(err)
	}
	// Airflow's GoogleBaseHook sends impersonation_chain's delegates as
	// bare emails (see AcceptBareDelegates).
	e.g.AcceptBareDelegates(true)
	// moto does not judge trust policies; judgingSTS does, for the hook and
	// the check alike.
	e.stsURL = judgingSTS(t, e.m, e.g.Server)
	shim, err := filepath.Abs(filepath.Join("..", "..", "testenv", "shim"))
	if err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(e.g.URL, "http://")
	home := t.TempDir()
	var clean []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "GOOGLE_") || strings.HasPrefix(k, "GCE_") || k == "HOME" || k == "CLOUDSDK_CONFIG" {
			continue
		}
		clean = append(clean, kv)
	}
	clean = append(clean,
		// A worker gets connections from the API server's Execution API,
		// which reads them from this database; the server context makes the
		// SDK read the same database directly (MetastoreBackend;
		// airflow/sdk/execution_time/supervisor.py).
		"_AIRFLOW_PROCESS_CONTEXT=server",
		"HOME="+home, "CLOUDSDK_CONFIG="+filepath.Join(home, "gcloud"), // no gcloud credentials of the machine
		"GCE_METADATA_HOST="+host, "GCE_METADATA_IP="+host,
		"AIRFLOWIAM_GOOGLEAPIS_URL="+e.g.URL, "PYTHONPATH="+shim, "PYTHONDONTWRITEBYTECODE=1",
		"AWS_ENDPOINT_URL_STS="+e.stsURL, "AWS_ENDPOINT_URL="+e.m.URL, "AWS_DEFAULT_REGION="+e.m.Region,
		"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
	)
	return &hookEnv{exchangeEnv: e, python: python, env: clean}
}

// hook runs testenv/hooks/driver.py: what is "aws", "google", "idtoken" or "pod".
// It returns the driver's JSON answer; failed reports that the hook
// raised, and answer["error"] says what.
func (h *hookEnv) hook(t *testing.T, what, arg string) (answer map[string]any, failed bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, h.python, filepath.Join("..", "..", "testenv", "hooks", "driver.py"), what, arg)
	cmd.Env = h.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if jerr := json.Unmarshal([]byte(lines[len(lines)-1]), &answer); jerr != nil {
		t.Fatalf("driver %s %s: %v (%v)\nstdout:\n%s\nstderr:\n%s", what, arg, err, jerr, out, stderr.String())
	}
	if err != nil && answer["error"] == nil {
		t.Fatalf("driver %s %s: %v\n%s", what, arg, err, stderr.String())
	}
	return answer, err != nil
}

// judgingSTS forwards to moto, but first judges each
// AssumeRoleWithWebIdentity as STS would: the token must verify against
// fakegcp's keys and the role's trust policy (read from moto) must allow
// its claims, evaluated by internal/awspolicy (the evaluator that
// internal/awspolicy/differential_test.go holds against
// @cloud-copilot/iam-simulate). Otherwise it answers AccessDenied, as STS
// does (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html).
func judgingSTS(t *testing.T, m *acctest.Moto, g *fakegcp.Server) string {
	t.Helper()
	target, err := url.Parse(m.URL)
	if err != nil {
		t.Fatal(err)
	}
	aws := testAWSClient(t, m)
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		form, err := url.ParseQuery(string(body))
		if err == nil && form.Get("Action") == "AssumeRoleWithWebIdentity" {
			if why := judgeWebIdentity(r.Context(), aws.TrustPolicy, g, form.Get("RoleArn"), form.Get("WebIdentityToken")); why != "" {
				w.Header().Set("Content-Type", "text/xml")
				w.WriteHeader(http.StatusForbidden)
				_, _ = fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>`+
					`<Code>AccessDenied</Code><Message>Not authorized to perform sts:AssumeRoleWithWebIdentity (%s)</Message></Error>`+
					`<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>`, why)
				return
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// judgeWebIdentity is "" when STS would accept token for roleARN, else why not.
func judgeWebIdentity(ctx context.Context, trustPolicy func(context.Context, string) (string, error), g *fakegcp.Server, roleARN, token string) string {
	jwks, err := g.IssuerJWKS()
	if err != nil {
		return err.Error()
	}
	claims, err := fakegcp.VerifyJWT(token, jwks)
	if err != nil {
		return "the token does not verify: " + err.Error()
	}
	doc, err := trustPolicy(ctx, roleARN)
	if err != nil {
		return "no trust policy: " + err.Error()
	}
	policy, err := awspolicy.Parse(doc)
	if err != nil {
		return err.Error()
	}
	str := func(k string) string { s, _ := claims[k].(string); return s }
	d := awspolicy.Evaluate(policy, awspolicy.GoogleRequest(str("aud"), str("azp"), str("sub"), str("email")).WithTime(time.Now()))
	if d.Verdict != awspolicy.VerdictAllowed {
		return "the trust policy does not allow the token"
	}
	return ""
}

// The AWS hook, on the connection as the provider wrote it, assumes the
// role with the worker's metadata-server ID token; on a connection whose
// role trusts another account, the hook and the check both fail at the
// trust policy.
func TestAccHooks_awsWebIdentity(t *testing.T) {
	h := newHookEnv(t)
	other := h.g.ServiceAccounts(t, "other-worker")[0]
	name := tfacctest.RandomWithPrefix("tfacc-hook")
	config := h.provider() + h.roleAndConnection(name, "airflow-"+name) + fmt.Sprintf(`
resource "airflowiam_web_identity_role" "other" {
  name                   = "%[1]s-other"
  google_service_account = %[2]q
  audience               = "airflow-%[1]s"
}

resource "airflowiam_connection" "other" {
  connection_id = "%[1]s-other"
  conn_type     = "aws"
  extra         = airflowiam_web_identity_role.other.airflow_connection_extra
}

resource "airflowiam_connection" "named" {
  connection_id = "%[1]s-named"
  conn_type     = "aws"
  extra = jsonencode(merge(jsondecode(airflowiam_web_identity_role.test.airflow_connection_extra),
  { assume_role_kwargs = { RoleSessionName = "etl-nightly" } }))
}
`, name, other)
	check := func(conn string) string {
		return exchangeData(fmt.Sprintf("  service_account = %q\n  airflow_connection_id = %q", h.g.Worker, conn))
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				Check: func(*terraform.State) error {
					got, failed := h.hook(t, "aws", name)
					want := regexp.MustCompile(`^arn:aws:sts::` + h.m.AccountID + `:assumed-role/` + regexp.QuoteMeta(name) + `/`)
					if failed || !want.MatchString(fmt.Sprint(got["arn"])) {
						return fmt.Errorf("AwsBaseHook on %s: %v, want the assumed role %s", name, got, name)
					}
					// The session the hook runs as is assume_role_kwargs' RoleSessionName.
					got, failed = h.hook(t, "aws", name+"-named")
					if failed || !strings.HasSuffix(fmt.Sprint(got["arn"]), ":assumed-role/"+name+"/etl-nightly") {
						return fmt.Errorf("AwsBaseHook on %s-named: %v, want session etl-nightly", name, got)
					}
					got, failed = h.hook(t, "aws", name+"-other")
					if !failed || !strings.Contains(fmt.Sprint(got["error"]), "AccessDenied") {
						return fmt.Errorf("AwsBaseHook on %s-other (a role trusting %s): %v, want AccessDenied", name, other, got)
					}
					return nil
				},
			},
			{Config: config + check(name)},
			{
				// The check runs as the same session as the hook.
				Config: config + check(name+"-named"),
				ConfigStateChecks: []statecheck.StateCheck{statecheck.ExpectKnownValue(exchangeAddr, tfjsonpath.New("assumed_role_arn"),
					knownvalue.StringRegexp(regexp.MustCompile(`:assumed-role/`+regexp.QuoteMeta(name)+`/etl-nightly$`)))},
			},
			{
				Config:      config + check(name+"-other"),
				ExpectError: regexp.MustCompile(`(?s)AWS Trust Policy of \S+` + regexp.QuoteMeta(name) + `-other Rejects the Token`),
			},
		},
	})
}

// The AWS hook warns about a conn_type other than aws but works, and so
// does the check: it reads only the extra.
func TestAccHooks_awsConnTypeOnlyWarns(t *testing.T) {
	h := newHookEnv(t)
	name := tfacctest.RandomWithPrefix("tfacc-hook")
	config := h.provider() + strings.Replace(h.roleAndConnection(name, "airflow-"+name), `conn_type     = "aws"`, `conn_type     = "generic"`, 1)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				Check: func(*terraform.State) error {
					got, failed := h.hook(t, "aws", name)
					if failed || !strings.Contains(fmt.Sprint(got["arn"]), ":assumed-role/"+name+"/") {
						return fmt.Errorf("AwsBaseHook on a generic connection: %v, want the assumed role", got)
					}
					if !strings.Contains(fmt.Sprint(got["warnings"]), "expected connection type 'aws', got 'generic'") {
						return fmt.Errorf("AwsBaseHook did not warn about the conn_type: %v", got)
					}
					return nil
				},
			},
			{Config: config + exchangeData(fmt.Sprintf("  service_account = %q\n  airflow_connection_id = %q", h.g.Worker, name))},
		},
	})
}

// The Google hook, on the chain's connection as the provider wrote it,
// acts as the chain's target from the worker's metadata-server identity;
// with the chain's middle grant removed out of band, the hook and the
// check both fail at that hop.
func TestAccHooks_googleImpersonationChain(t *testing.T) {
	h := newHookEnv(t)
	accts := h.g.ServiceAccounts(t, "bq-delegate", "bq-loader")
	delegate, target := accts[0], accts[1]
	conn := tfacctest.RandomWithPrefix("tfacc_hook_gcp")
	config := h.provider() + fmt.Sprintf(`
resource "airflowiam_impersonation_chain" "bq" {
  source = %[1]q
  chain  = [%[2]q, %[3]q]
}

resource "airflowiam_connection" "google" {
  connection_id = %[4]q
  conn_type     = "google_cloud_platform"
  extra = jsonencode(merge(
    jsondecode(airflowiam_impersonation_chain.bq.airflow_connection_extra),
    { project = %[5]q },
  ))
}
`, h.g.Worker, delegate, target, conn, h.g.Project)
	// The check reads the chain from the connection, as the hook does.
	check := exchangeData(fmt.Sprintf("  service_account = %q\n  gcp_connection_id = %q\n  propagation_timeout = \"0s\"", h.g.Worker, conn))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				Check: func(*terraform.State) error {
					got, failed := h.hook(t, "google", conn)
					if failed || got["email"] != target || got["project"] != h.g.Project {
						return fmt.Errorf("GoogleBaseHook on %s: %v, want the identity %s in %s", conn, got, target, h.g.Project)
					}
					return nil
				},
			},
			{
				Config: config + check,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(exchangeAddr, tfjsonpath.New("id"), knownvalue.StringExact(target)),
				},
			},
			{
				PreConfig: func() {
					if err := h.g.RemoveMember(target, gcpiam.RoleTokenCreator, sa(delegate)); err != nil {
						t.Fatal(err)
					}
					got, failed := h.hook(t, "google", conn)
					if !failed || !strings.Contains(fmt.Sprint(got["error"]), "PERMISSION_DENIED") {
						t.Fatalf("GoogleBaseHook with %s's grant on %s removed: %v, want PERMISSION_DENIED", delegate, target, got)
					}
				},
				// The check walks from the provider's identity: the worker is
				// hop 1, the delegate hop 2, the target (the broken one) hop 3.
				Config: config + check,
				ExpectError: regexp.MustCompile(`(?s)Impersonation Hop 3 of 3 Is Broken: ` + regexp.QuoteMeta(delegate) +
					`\s+Cannot\s+Mint\s+Access\s+Tokens\s+for\s+` + regexp.QuoteMeta(target)),
			},
		},
	})
}

// Airflow's own pod-override code loads the task identity's
// executor_config into a pod that runs as the task's KSA.
func TestAccHooks_taskIdentityPodOverride(t *testing.T) {
	h := newHookEnv(t)
	gsa := h.g.ServiceAccounts(t, "etl-task")[0]
	ksa := "etl-" + tfacctest.RandString(6)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: h.provider() + fmt.Sprintf(`
resource "airflowiam_task_identity" "etl" {
  google_service_account         = %q
  workload_identity_pool_project = %q
  namespace                      = "airflow"
  kubernetes_service_account     = %q
}
`, gsa, h.g.Project, ksa),
			Check: func(s *terraform.State) error {
				rs := s.RootModule().Resources["airflowiam_task_identity.etl"]
				if rs == nil {
					return fmt.Errorf("no task identity in state")
				}
				got, failed := h.hook(t, "pod", rs.Primary.Attributes["executor_config"])
				if failed || got["service_account_name"] != ksa {
					return fmt.Errorf("PodGenerator.from_obj(executor_config): %v, want service account %s", got, ksa)
				}
				return nil
			},
		}},
	})
}

// The token source: a worker whose Application Default Credentials are a
// key file (GOOGLE_APPLICATION_CREDENTIALS) gets its ID token from the key's
// token_uri, where azp is the account's email; on the metadata server azp
// is the unique ID. AWS compares accounts.google.com:aud with azp, and the
// trust policy airflowiam_web_identity_role writes lists both, so the hook
// assumes the role from either source, as the check (which mints like the
// metadata server) says it will.
func TestAccHooks_awsEitherTokenSource(t *testing.T) {
	h := newHookEnv(t)
	key, err := h.g.CreateServiceAccountKey(h.g.Worker)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "worker-key.json")
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	keyed := &hookEnv{exchangeEnv: h.exchangeEnv, python: h.python, env: append(slices.Clone(h.env), "GOOGLE_APPLICATION_CREDENTIALS="+keyFile)}
	name := tfacctest.RandomWithPrefix("tfacc-hook")
	config := h.provider() + h.roleAndConnection(name, "airflow-"+name)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				Check: func(*terraform.State) error {
					if got, _ := h.hook(t, "idtoken", "airflow-"+name); got["azp"] != h.worker.UniqueID || got["sub"] != h.worker.UniqueID {
						return fmt.Errorf("the metadata server's ID token: %v, want azp = sub = %s", got, h.worker.UniqueID)
					}
					if got, _ := keyed.hook(t, "idtoken", "airflow-"+name); got["azp"] != h.g.Worker || got["sub"] != h.worker.UniqueID {
						return fmt.Errorf("the key file's ID token: %v, want azp %s, sub %s", got, h.g.Worker, h.worker.UniqueID)
					}
					if got, failed := h.hook(t, "aws", name); failed {
						return fmt.Errorf("AwsBaseHook with the metadata server: %v, want the assumed role", got)
					}
					if got, failed := keyed.hook(t, "aws", name); failed || !strings.Contains(fmt.Sprint(got["arn"]), ":assumed-role/"+name+"/") {
						return fmt.Errorf("AwsBaseHook with a key file: %v, want the assumed role", got)
					}
					return nil
				},
			},
			{Config: config + exchangeData(fmt.Sprintf("  service_account = %q\n  airflow_connection_id = %q", h.g.Worker, name))},
		},
	})
}
