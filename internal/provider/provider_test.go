package provider

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/types"
	tfacctest "github.com/hashicorp/terraform-plugin-testing/helper/acctest"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/acctest"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/fakegcp"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/gcpiam"
)

func TestAccProvider_airflowNotConfigured(t *testing.T) {
	acctest.Airflow3(t) // for the TF_ACC guard; this test talks to no server
	for _, env := range []string{EnvAirflowURL, EnvAirflowUsername, EnvAirflowPassword, EnvAirflowToken, EnvAirflowAPIVersion} {
		t.Setenv(env, "")
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: `
provider "airflowiam" {}

resource "airflowiam_connection" "test" {
  connection_id = "never_created"
  conn_type     = "http"
}
`,
			ExpectError: regexp.MustCompile(`(?s)Airflow Not Configured.*airflow.endpoint or the\s+AIRFLOW_URL`),
		}},
	})
}

func TestAccProvider_invalidAirflowConfiguration(t *testing.T) {
	af := acctest.Airflow3(t)
	cases := map[string]struct {
		block string
		want  *regexp.Regexp
	}{
		"relative endpoint": {
			block: `endpoint = "airflow.example.com"` + "\n" + `username = "u"` + "\n" + `password = "p"`,
			want:  regexp.MustCompile(`(?s)Invalid Airflow Configuration.*absolute http:// or https:// URL`),
		},
		"no credentials": {
			block: fmt.Sprintf("endpoint = %q", af.URL),
			want:  regexp.MustCompile(`(?s)Invalid Airflow Configuration.*no Airflow credentials`),
		},
		"unknown api_version": {
			block: fmt.Sprintf("endpoint = %q\napi_version = \"v3\"", af.URL),
			want:  regexp.MustCompile(`(?s)airflow.api_version value must be one of: \["auto" "v1" "v2"\]`),
		},
		"request_timeout not a duration": {
			block: fmt.Sprintf("endpoint = %q\nrequest_timeout = \"60\"", af.URL),
			want:  phrases("Invalid Request Timeout", "airflow.request_timeout must be a duration: a number with a unit", `got "60".`),
		},
		"token and username": {
			block: fmt.Sprintf("endpoint = %q\ntoken = \"t\"\nusername = \"u\"", af.URL),
			want:  regexp.MustCompile(`(?s)Invalid Attribute Combination.*"airflow.token" cannot be specified when\s+"airflow.username"`),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			for _, env := range []string{EnvAirflowURL, EnvAirflowUsername, EnvAirflowPassword, EnvAirflowToken, EnvAirflowAPIVersion} {
				t.Setenv(env, "")
			}
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: protoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config:      "provider \"airflowiam\" {\n  airflow {\n" + tc.block + "\n  }\n}\n\nresource \"airflowiam_connection\" \"test\" {\n  connection_id = \"never_created\"\n  conn_type = \"http\"\n}\n",
					ExpectError: tc.want,
				}},
			})
		})
	}
}

// request_timeout bounds every attempt: with 1ns no attempt can finish, and
// the error says the client gave up, after how many attempts, and why.
func TestAccProvider_airflowRequestTimeout(t *testing.T) {
	af := acctest.Airflow3(t)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      oneConnectionConfig(af.URL, af, `request_timeout = "1ns"`, "never_created_timeout"),
			ExpectError: regexp.MustCompile(`(?s)gave\s+up\s+after\s+5\s+attempts\s+over\s.*last\s+error:\s+no\s+complete\s+answer\s+within\s+the\s+per-request\s+timeout\s+\(1ns\)`),
		}},
	})
}

// Real Airflow 3 refuses a JWT it cannot validate with 403 "Invalid JWT
// token"; the provider logs in again once and carries on. A proxy in front
// of Airflow spoils the token of the first connection request (its
// signature no longer matches), as a restarted API server with a new JWT
// secret would refuse it.
func TestAccProvider_airflowReloginAfterInvalidJWT(t *testing.T) {
	af := acctest.Airflow3(t)
	target, err := url.Parse(af.URL)
	if err != nil {
		t.Fatal(err)
	}
	var logins, spoiled atomic.Int64
	var refusal atomic.Value // the body of the 403, as Airflow wrote it
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(resp *http.Response) error {
		if resp.StatusCode == http.StatusForbidden {
			body, _ := io.ReadAll(resp.Body)
			refusal.Store(string(body))
			resp.Body = io.NopCloser(bytes.NewReader(body))
		}
		return nil
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/auth/token" {
			logins.Add(1)
		}
		// Let the proxy's own transport take care of compression, so that
		// ModifyResponse reads the body as Airflow wrote it.
		r.Header.Del("Accept-Encoding")
		if strings.HasPrefix(r.URL.Path, "/api/v2/connections") && spoiled.CompareAndSwap(0, 1) {
			r.Header.Set("Authorization", r.Header.Get("Authorization")+"spoiled")
		}
		proxy.ServeHTTP(w, r)
	}))
	defer srv.Close()

	id := "relogin_" + strings.ToLower(tfacctest.RandString(8))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkConnectionDestroyed(t, af, id),
		Steps: []resource.TestStep{{
			Config: oneConnectionConfig(srv.URL, af, `api_version = "v2"`, id),
			Check: func(*terraform.State) error {
				if got, _ := refusal.Load().(string); !strings.Contains(got, `"Invalid JWT token"`) {
					return fmt.Errorf("Airflow 3 refused the spoiled token with %q; want 403 \"Invalid JWT token\"", got)
				}
				// The apply's provider process: its login and one re-login.
				if n := logins.Load(); n != 2 {
					return fmt.Errorf("logins through the proxy = %d; want 2", n)
				}
				return nil
			},
		}},
	})
}

// oneConnectionConfig is a provider whose airflow block reaches endpoint
// (af's own, or a proxy in front of it) as af's admin, with one more
// attribute, and one HTTP connection.
func oneConnectionConfig(endpoint string, af *acctest.Airflow, attribute, id string) string {
	return fmt.Sprintf(`
provider "airflowiam" {
  airflow {
    endpoint = %q
    username = %q
    password = %q
    %s
  }
}

resource "airflowiam_connection" "test" {
  connection_id = %q
  conn_type     = "http"
}
`, endpoint, af.Username, af.Password, attribute, id)
}

func TestAirflowRequestTimeout(t *testing.T) {
	// The airflow block takes request_timeout by the same rule as the google
	// and aws blocks; unset is the shared default.
	for in, want := range map[string]time.Duration{"90s": 90 * time.Second, "2m": 2 * time.Minute, "": time.Minute} {
		if got := airflowRequestTimeout(types.StringValue(in)); got != want {
			t.Errorf("airflowRequestTimeout(%q) = %v; want %v", in, got, want)
		}
	}
	if got := airflowRequestTimeout(types.StringNull()); got != time.Minute {
		t.Errorf("unset gave %v; want the 60s default", got)
	}
	if got := airflowRequestTimeout(types.StringValue("0s")); got != 0 {
		t.Errorf(`"0s" (refused at plan time) gave %v; want 0, the client's default`, got)
	}
}

func TestFirstUnknown(t *testing.T) {
	known := types.StringValue("x")
	if got := firstUnknown(map[string]types.String{"a": known, "b": types.StringNull()}); got != "" {
		t.Errorf("all known or null: got %q, want none", got)
	}
	// Several unknowns: always the same one, the first by name.
	for i := 0; i < 20; i++ {
		got := firstUnknown(map[string]types.String{"zeta": types.StringUnknown(), "alpha": types.StringUnknown(), "mid": known})
		if got != "alpha" {
			t.Fatalf("got %q, want alpha", got)
		}
	}
}

func TestLoadAWSConfigNeedsRegionAndBothKeys(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	if _, err := loadAWSConfig(t.Context(), awsSettings{}); err == nil || !strings.Contains(err.Error(), "set region in the provider's aws block, or AWS_REGION") {
		t.Errorf("no region: err = %v", err)
	}
	if _, err := loadAWSConfig(t.Context(), awsSettings{Region: "us-east-1", AccessKey: "k"}); err == nil || !strings.Contains(err.Error(), "access_key and secret_key must be set together") {
		t.Errorf("half a key pair: err = %v", err)
	}
	cfg, err := loadAWSConfig(t.Context(), awsSettings{Region: "eu-west-1", AccessKey: "k", SecretKey: "s"})
	if err != nil {
		t.Fatal(err)
	}
	creds, err := cfg.Credentials.Retrieve(t.Context())
	if err != nil || cfg.Region != "eu-west-1" || creds.AccessKeyID != "k" || creds.SecretAccessKey != "s" {
		t.Errorf("region %q, credentials %+v, %v; want eu-west-1 and the static pair", cfg.Region, creds, err)
	}
}

// googleAuthTaskIdentity is a task identity under a provider whose google
// block is given.
func googleAuthTaskIdentity(googleBlock, gsa string) string {
	return fmt.Sprintf(`
provider "airflowiam" {
  google {
%s
  }
}

resource "airflowiam_task_identity" "test" {
  google_service_account         = %q
  workload_identity_pool_project = "gke-prod"
  namespace                      = "airflow"
  kubernetes_service_account     = "etl"
}
`, googleBlock, gsa)
}

// Each way the google block authenticates reaches the IAM API as the
// identity it names: a key file's service account, an impersonated account
// through a delegate, and the access token from the environment.
func TestAccProvider_googleAuthentication(t *testing.T) {
	g := acctest.FakeGCP(t)
	accts := g.ServiceAccounts(t, "etl-task", "terraform", "tf-delegate", "keyed-terraform")
	gsa, tf, delegate, keyed := accts[0], accts[1], accts[2], accts[3]
	endpoints := fmt.Sprintf("iam_endpoint = %q\niamcredentials_endpoint = %q", g.URL, g.URL)
	// keyed and terraform may edit service-account policies; the admin may
	// act as the delegate, which may act as terraform.
	if err := g.SetProjectBindings(g.Project, []fakegcp.Binding{
		{Role: "roles/owner", Members: []string{g.Admin}},
		{Role: "roles/iam.serviceAccountAdmin", Members: []string{"serviceAccount:" + tf, "serviceAccount:" + keyed}},
	}); err != nil {
		t.Fatal(err)
	}
	for sa, grantee := range map[string]string{delegate: g.Admin, tf: "serviceAccount:" + delegate} {
		if err := g.AddMember(sa, gcpiam.RoleTokenCreator, grantee); err != nil {
			t.Fatal(err)
		}
	}
	key, err := g.CreateServiceAccountKey(keyed)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "key.json")
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}

	cases := map[string]struct {
		block string
		env   map[string]string
	}{
		"key file":          {block: fmt.Sprintf("credentials = %q\n%s", keyFile, endpoints)},
		"key JSON":          {block: fmt.Sprintf("credentials = %q\n%s", string(key), endpoints)},
		"environment key":   {block: endpoints, env: map[string]string{"GOOGLE_APPLICATION_CREDENTIALS": keyFile}},
		"environment token": {block: endpoints, env: map[string]string{gcpiam.EnvAccessToken: g.AdminToken}},
		"impersonation through a delegate": {block: fmt.Sprintf("access_token = %q\nimpersonate_service_account = %q\nimpersonate_service_account_delegates = [%q]\n%s",
			g.AdminToken, tf, delegate, endpoints)},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			for _, env := range []string{gcpiam.EnvAccessToken, "GOOGLE_APPLICATION_CREDENTIALS"} {
				t.Setenv(env, tc.env[env])
			}
			// Not parallel: the environment is the process's.
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: protoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config: googleAuthTaskIdentity(tc.block, gsa),
					Check:  checkGrants(g, gcpiam.RoleWorkloadIdentityUser, map[string][]string{gsa: {"serviceAccount:gke-prod.svc.id.goog[airflow/etl]"}}),
				}},
			})
		})
	}
}

func TestAccProvider_googleDenied(t *testing.T) {
	g := acctest.FakeGCP(t)
	gsa := g.ServiceAccounts(t, "etl-task")[0]
	endpoints := fmt.Sprintf("iam_endpoint = %q\niamcredentials_endpoint = %q", g.URL, g.URL)
	cases := map[string]struct {
		block string
		want  *regexp.Regexp
	}{
		"unknown token": {
			block: fmt.Sprintf("access_token = \"not-a-token\"\n%s", endpoints),
			want:  regexp.MustCompile(`(?s)Google rejected the provider's credentials`),
		},
		"no permission": {
			block: fmt.Sprintf("access_token = %q\n%s", g.AccessTokenFor("user:intern@example.com"), endpoints),
			want:  flowRE("was refused: IAM needs iam.serviceAccounts.getIamPolicy on projects/-/serviceAccounts/"+gsa, "roles/iam.serviceAccountAdmin"),
		},
		"delegates without a target": {
			block: fmt.Sprintf("access_token = \"t\"\nimpersonate_service_account_delegates = [%q]\n%s", gsa, endpoints),
			want:  regexp.MustCompile(`(?s)impersonate_service_account_delegates.*impersonate_service_account`),
		},
		"token and credentials": {
			block: fmt.Sprintf("access_token = \"t\"\ncredentials = \"{}\"\n%s", endpoints),
			want:  regexp.MustCompile(`(?s)Invalid Attribute Combination`),
		},
		"credentials of an unknown type": {
			block: fmt.Sprintf("credentials = %q\n%s", `{"type":"api_key"}`, endpoints),
			want:  regexp.MustCompile(`(?s)credentials has type "api_key"`),
		},
		"missing credentials file": {
			block: fmt.Sprintf("credentials = \"/nonexistent/key.json\"\n%s", endpoints),
			want:  regexp.MustCompile(`(?s)Invalid Google Configuration.*neither JSON nor a\s+readable\s+file`),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Setenv(gcpiam.EnvAccessToken, "")
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: protoV6ProviderFactories,
				Steps:                    []resource.TestStep{{Config: googleAuthTaskIdentity(tc.block, gsa), ExpectError: tc.want}},
			})
		})
	}
}

func TestParseRequestTimeout(t *testing.T) {
	for in, want := range map[string]time.Duration{"": 60 * time.Second, "60s": time.Minute, "1m30s": 90 * time.Second, "250ms": 250 * time.Millisecond} {
		if got, err := parseRequestTimeout(in); err != nil || got != want {
			t.Errorf("parseRequestTimeout(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"60", "soon", "-1s", "0s", "1 minute"} {
		if _, err := parseRequestTimeout(bad); err == nil {
			t.Errorf("parseRequestTimeout(%q) accepted", bad)
		}
	}
}

// A bad request_timeout is refused at plan time, naming the attribute and
// the form.
func TestAccProvider_invalidRequestTimeout(t *testing.T) {
	acctest.MotoServer(t) // for the TF_ACC guard; this test talks to no server
	for _, block := range []string{"google", "aws"} {
		t.Run(block, func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: protoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config: "provider \"airflowiam\" {\n  " + block + " {\n    request_timeout = \"60\"\n  }\n}\n\n" +
						"resource \"airflowiam_impersonation_chain\" \"test\" {\n  source = \"a@p.iam.gserviceaccount.com\"\n" +
						"  chain = [\"b@p.iam.gserviceaccount.com\"]\n}\n",
					PlanOnly:    true,
					ExpectError: regexp.MustCompile(`(?s)Invalid Request Timeout.*` + block + `\.request_timeout must be a\s+duration: a\s+number\s+with\s+a\s+unit.*got\s+"60"`),
				}},
			})
		})
	}
}

// silentServer accepts requests and never answers them.
func silentServer(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		// The server notices a client that went away only once the body is read.
		_, _ = io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
	}))
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	return srv.URL
}

// A Google or AWS server that never answers fails the plan within a bounded
// time, and the error says how many attempts were made.
func TestAccProvider_silentServersTimeOut(t *testing.T) {
	acctest.MotoServer(t) // for the TF_ACC guard; the servers are silentServer
	silent := silentServer(t)
	cases := map[string]struct {
		config string
		want   *regexp.Regexp
	}{
		"google": {
			config: fmt.Sprintf("provider \"airflowiam\" {\n  google {\n    access_token = \"t\"\n    iam_endpoint = %q\n    request_timeout = \"500ms\"\n  }\n}\n\n"+
				"resource \"airflowiam_impersonation_chain\" \"test\" {\n  source = \"a@p.iam.gserviceaccount.com\"\n  chain = [\"b@p.iam.gserviceaccount.com\"]\n}\n", silent),
			want: regexp.MustCompile(`(?s)gave\s+up\s+after\s+5\s+attempts\s+over.*no\s+answer\s+within\s+the\s+request\s+timeout\s+of\s+500ms`),
		},
		"aws": {
			config: fmt.Sprintf("provider \"airflowiam\" {\n  aws {\n    region = \"us-east-1\"\n    access_key = \"k\"\n    secret_key = \"s\"\n"+
				"    iam_endpoint = %q\n    sts_endpoint = %q\n    request_timeout = \"500ms\"\n  }\n}\n\n"+
				"resource \"airflowiam_web_identity_role\" \"test\" {\n  name = \"silent\"\n  google_service_account = %q\n"+
				"  google_service_account_unique_id = %q\n  audience = \"a\"\n}\n", silent, silent, testSAEmail, testSAUniqueID),
			want: regexp.MustCompile(`(?s)exceeded\s+maximum\s+number\s+of\s+attempts,\s+5`),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: protoV6ProviderFactories,
				Steps:                    []resource.TestStep{{Config: tc.config, ExpectError: tc.want}},
			})
			if el := time.Since(start); el > 60*time.Second {
				t.Errorf("took %s to give up; want well under a minute (5 attempts of 500ms and the back-off)", el)
			}
		})
	}
}
