package provider

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	tfacctest "github.com/hashicorp/terraform-plugin-testing/helper/acctest"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/acctest"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/awsiam"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/awspolicy"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/exchange"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/fakegcp"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/gcpiam"
)

const exchangeAddr = "data.airflowiam_token_exchange.test"

// exchangeEnv is everything the check walks: Airflow 3, moto and fakegcp,
// with the administrator (the provider's Google identity) allowed to act as
// the worker, as a CI identity that tests the worker's path must be.
type exchangeEnv struct {
	af     *acctest.Airflow
	m      *acctest.Moto
	g      *acctest.GCP
	worker fakegcp.ServiceAccount
	stsURL string // where the provider sends STS calls (moto, or a proxy before it)
}

func newExchangeEnv(t *testing.T) *exchangeEnv {
	t.Helper()
	e := &exchangeEnv{af: acctest.Airflow3(t), m: acctest.MotoServer(t), g: acctest.FakeGCP(t)}
	e.stsURL = e.m.URL
	worker, ok := e.g.ServiceAccount(e.g.Worker)
	if !ok {
		t.Fatal("the seeded worker account is missing")
	}
	e.worker = worker
	if err := e.g.AddMember(e.g.Worker, gcpiam.RoleTokenCreator, e.g.Admin); err != nil {
		t.Fatal(err)
	}
	return e
}

// provider is a provider block for all three services.
func (e *exchangeEnv) provider() string {
	return "\nprovider \"airflowiam\" {\n" + airflowBlock(e.af) + awsBlockWithSTS(e.m, e.stsURL) + googleBlock(e.g) + "}\n"
}

// roleAndConnection is a role trusting the worker for audience and an
// Airflow connection using it, with a random name.
func (e *exchangeEnv) roleAndConnection(name, audience string) string {
	return fmt.Sprintf(`
resource "airflowiam_web_identity_role" "test" {
  name                   = %q
  google_service_account = %q
  audience               = %q
}

resource "airflowiam_connection" "aws" {
  connection_id = %q
  conn_type     = "aws"
  extra         = airflowiam_web_identity_role.test.airflow_connection_extra
}
`, name, e.g.Worker, audience, name)
}

// exchangeData is the data source with the given arguments.
func exchangeData(args string) string {
	return "\ndata \"airflowiam_token_exchange\" \"test\" {\n" + args + "\n}\n"
}

// wrapped matches text as Terraform prints it: any run of spaces may have
// become a line break.
func wrapped(text string) string {
	return strings.Join(strings.Fields(regexp.QuoteMeta(text)), `\s+`)
}

// The whole path works: role, connection, chain, and the check over them.
func TestAccTokenExchange_basic(t *testing.T) {
	e := newExchangeEnv(t)
	accts := e.g.ServiceAccounts(t, "bq-delegate", "bq-target")
	name := tfacctest.RandomWithPrefix("tfacc-xchg")
	config := e.provider() + e.roleAndConnection(name, "airflow-"+name) + fmt.Sprintf(`
resource "airflowiam_impersonation_chain" "bq" {
  source = %q
  chain  = [%q, %q]
}
`, e.g.Worker, accts[0], accts[1]) + exchangeData(fmt.Sprintf(`
  service_account         = %q
  airflow_connection_id   = airflowiam_connection.aws.connection_id
  gcp_impersonation_chain = airflowiam_impersonation_chain.bq.airflow_impersonation_chain
  depends_on              = [airflowiam_impersonation_chain.bq]
`, e.g.Worker))
	okStep := func(name string) knownvalue.Check {
		return knownvalue.ObjectPartial(map[string]knownvalue.Check{"name": knownvalue.StringExact(name), "status": knownvalue.StringExact("ok")})
	}
	workDir := t.TempDir()
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		WorkingDir:               workDir,
		Steps: []resource.TestStep{{
			Config: config,
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(exchangeAddr, tfjsonpath.New("aws_account_id"), knownvalue.StringExact(e.m.AccountID)),
				statecheck.ExpectKnownValue(exchangeAddr, tfjsonpath.New("assumed_role_arn"),
					knownvalue.StringRegexp(regexp.MustCompile(`^arn:aws:sts::`+e.m.AccountID+`:assumed-role/`+name+`/airflowiam-check$`))),
				statecheck.ExpectKnownValue(exchangeAddr, tfjsonpath.New("expiration"), knownvalue.StringRegexp(regexp.MustCompile(`^\d{4}-\d\d-\d\dT`))),
				statecheck.ExpectKnownValue(exchangeAddr, tfjsonpath.New("id"), knownvalue.StringExact("arn:aws:iam::"+e.m.AccountID+":role/"+name)),
				statecheck.ExpectKnownValue(exchangeAddr, tfjsonpath.New("claims"), knownvalue.ObjectExact(map[string]knownvalue.Check{
					"aud":   knownvalue.StringExact("airflow-" + name),
					"azp":   knownvalue.StringExact(e.worker.UniqueID),
					"sub":   knownvalue.StringExact(e.worker.UniqueID),
					"email": knownvalue.StringExact(e.g.Worker),
				})),
				statecheck.ExpectKnownValue(exchangeAddr, tfjsonpath.New("steps"), knownvalue.ListExact([]knownvalue.Check{
					okStep(exchange.StepCaller), okStep(exchange.StepConnection), okStep(exchange.StepIDToken),
					okStep(exchange.StepVerifyToken), okStep(exchange.StepTrustPolicy), okStep(exchange.StepAssumeRole),
					okStep(exchange.StepCallerIdentity), okStep(exchange.StepGCPImpersonated),
				})),
			},
			Check: checkNoTokenInWorkingDir(workDir),
		}},
	})
}

// checkNoTokenInWorkingDir fails when any file Terraform wrote holds a JWT,
// a Google access token, or AWS temporary credentials.
func checkNoTokenInWorkingDir(dir string) resource.TestCheckFunc {
	patterns := map[string]*regexp.Regexp{
		"a JWT":                 regexp.MustCompile(`eyJ[\w-]{8,}\.eyJ[\w-]{8,}\.`),
		"a Google access token": regexp.MustCompile(`ya29\.`),
		"an AWS temporary key":  regexp.MustCompile(`\bASIA[A-Z0-9]{12,}`),
		"an AWS session token":  regexp.MustCompile(`FQoGZXIvYXdz`),
	}
	return checkWorkingDir(dir, func(b []byte) string {
		for what, re := range patterns {
			if re.Match(b) {
				return what
			}
		}
		return ""
	})
}

// A missing grant on the first, a middle or the last hop is named, with
// the fix.
func TestAccTokenExchange_missingHop(t *testing.T) {
	e := newExchangeEnv(t)
	accts := e.g.ServiceAccounts(t, "delegate-one", "delegate-two", "bq-target")
	d1, d2, target := accts[0], accts[1], accts[2]
	grants := map[string]string{d1: e.g.Admin, d2: sa(d1), target: sa(d2)}
	for i, broken := range []string{d1, d2, target} {
		t.Run(fmt.Sprintf("hop %d", i+1), func(t *testing.T) {
			for acct, grantee := range grants {
				if err := e.g.AddMember(acct, gcpiam.RoleTokenCreator, grantee); err != nil {
					t.Fatal(err)
				}
			}
			if err := e.g.RemoveMember(broken, gcpiam.RoleTokenCreator, grants[broken]); err != nil {
				t.Fatal(err)
			}
			grantee := strings.TrimPrefix(strings.TrimPrefix(grants[broken], "user:"), "serviceAccount:")
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: protoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config: e.provider() + exchangeData(fmt.Sprintf("  gcp_impersonation_chain = [%q, %q, %q]\n  propagation_timeout = \"0s\"", d1, d2, target)),
					ExpectError: regexp.MustCompile(fmt.Sprintf(`(?s)Impersonation Hop %d of 3 Is Broken: %s Cannot Mint Access.*`+
						`Tokens for\s+%s.*Expected:.*Actual:.*gcloud\s+iam\s+service-accounts\s+add-iam-policy-binding\s+%s`,
						i+1, regexp.QuoteMeta(grantee), regexp.QuoteMeta(broken), regexp.QuoteMeta(broken))),
				}},
			})
		})
	}
}

// A trust policy that puts the email in accounts.google.com:aud, as some
// published examples do, rejects every token: the check says why.
func TestAccTokenExchange_emailInAud(t *testing.T) {
	e := newExchangeEnv(t)
	name := tfacctest.RandomWithPrefix("tfacc-xchg")
	doc := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},`+
		`"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"accounts.google.com:aud":%q}}}]}`, e.g.Worker)
	arn := createRawRole(t, e.m, name, doc)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: e.provider() + exchangeData(fmt.Sprintf("  role_arn = %q\n  audience = \"a\"\n  service_account = %q", arn, e.g.Worker)),
			ExpectError: regexp.MustCompile(`(?s)AWS Trust Policy of ` + regexp.QuoteMeta(arn) + ` Rejects the Token.*` +
				regexp.QuoteMeta(e.worker.UniqueID) + `.*email`),
		}},
	})
}

// A role trusting another audience: the check names the oaud mismatch.
func TestAccTokenExchange_wrongAudience(t *testing.T) {
	e := newExchangeEnv(t)
	name := tfacctest.RandomWithPrefix("tfacc-xchg")
	arn := createRawRole(t, e.m, name, awspolicy.GoogleTrust(e.worker.UniqueID, e.g.Worker, "expected-audience").JSON())
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      e.provider() + exchangeData(fmt.Sprintf("  role_arn = %q\n  audience = \"other-audience\"\n  service_account = %q", arn, e.g.Worker)),
			ExpectError: regexp.MustCompile(`(?s)Rejects the Token.*accounts.google.com:oaud.*expected-audience.*other-audience`),
		}},
	})
}

// Connections that would break the task: no audience, another role.
func TestAccTokenExchange_connectionProblems(t *testing.T) {
	e := newExchangeEnv(t)
	name := tfacctest.RandomWithPrefix("tfacc-xchg")
	arn := createRawRole(t, e.m, name, awspolicy.GoogleTrust(e.worker.UniqueID, e.g.Worker, "aud-1").JSON())
	cases := map[string]struct {
		extra, args string
		want        *regexp.Regexp
	}{
		"no audience": {
			extra: fmt.Sprintf(`{"role_arn":%q,"assume_role_method":"assume_role_with_web_identity","assume_role_with_web_identity_federation":"google"}`, arn),
			want:  regexp.MustCompile(`(?s)Airflow Connection \S+ Has No Audience.*` + wrapped("Airflow has no default audience") + `.*Fix:`),
		},
		"another role": {
			extra: fmt.Sprintf(`{"role_arn":"arn:aws:iam::%s:role/other","assume_role_method":"assume_role_with_web_identity",`+
				`"assume_role_with_web_identity_federation":"google","assume_role_with_web_identity_federation_audience":"aud-1"}`, e.m.AccountID),
			args: fmt.Sprintf("  role_arn = %q\n", arn),
			want: regexp.MustCompile(`(?s)Airflow Connection \S+ Uses Another Role.*` + wrapped(fmt.Sprintf("Expected extra role_arn = %q", arn)) +
				`.*` + wrapped(fmt.Sprintf("actual: %q", "arn:aws:iam::"+e.m.AccountID+":role/other")) + `.*Fix:`),
		},
		"static keys": {
			extra: `{"region_name":"us-east-1"}`,
			want:  regexp.MustCompile(`(?s)Does Not Use Web Identity.*assume_role_method`),
		},
	}
	for label, tc := range cases {
		t.Run(label, func(t *testing.T) {
			id := tfacctest.RandomWithPrefix("tfacc_conn")
			resource.ParallelTest(t, resource.TestCase{
				ProtoV6ProviderFactories: protoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config: e.provider() + fmt.Sprintf(`
resource "airflowiam_connection" "aws" {
  connection_id = %q
  conn_type     = "aws"
  extra         = %q
}
`, id, tc.extra) + exchangeData(tc.args+fmt.Sprintf("  service_account = %q\n  airflow_connection_id = airflowiam_connection.aws.connection_id", e.g.Worker)),
					ExpectError: tc.want,
				}},
			})
		})
	}
}

// STS denies (moto never does, so a proxy before it does): the check
// names the role and gives AWS's code.
func TestAccTokenExchange_stsDenied(t *testing.T) {
	e := newExchangeEnv(t)
	e.stsURL = denyingSTSProxy(t, e.m.URL)
	name := tfacctest.RandomWithPrefix("tfacc-xchg")
	arn := createRawRole(t, e.m, name, awspolicy.GoogleTrust(e.worker.UniqueID, e.g.Worker, "aud-1").JSON())
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      e.provider() + exchangeData(fmt.Sprintf("  role_arn = %q\n  audience = \"aud-1\"\n  service_account = %q", arn, e.g.Worker)),
			ExpectError: regexp.MustCompile(`(?s)AWS STS Denied the Token for ` + regexp.QuoteMeta(arn) + `.*AccessDenied.*Fix:`),
		}},
	})
}

// denyingSTSProxy forwards to moto but answers AssumeRoleWithWebIdentity
// with AccessDenied, as STS does.
func denyingSTSProxy(t *testing.T, motoURL string) string {
	t.Helper()
	target, err := url.Parse(motoURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if form, err := url.ParseQuery(string(body)); err == nil && form.Get("Action") == "AssumeRoleWithWebIdentity" {
			w.Header().Set("Content-Type", "text/xml")
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>`+
				`<Code>AccessDenied</Code><Message>Not authorized to perform sts:AssumeRoleWithWebIdentity</Message></Error>`+
				`<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>`)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// createRawRole creates a role with exactly this trust policy, out of band,
// and deletes it afterwards.
func createRawRole(t *testing.T, m *acctest.Moto, name, trust string) string {
	t.Helper()
	c := testAWSClient(t, m)
	role, err := c.CreateRole(context.Background(), awsiam.RoleSpec{Name: name, Path: "/", TrustPolicy: trust, MaxSessionDuration: 3600})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.DeleteRole(context.Background(), name) })
	return role.ARN
}

// A new grant takes a while to work: the check waits for it, and says so;
// with a shorter timeout it fails saying how long it waited.
func TestAccTokenExchange_propagation(t *testing.T) {
	for label, tc := range map[string]struct {
		timeout string
		delay   time.Duration
		want    *regexp.Regexp // nil: passes
	}{
		"waits":     {timeout: "1m", delay: 3 * time.Second},
		"times out": {timeout: "1s", delay: 3 * time.Second, want: regexp.MustCompile(`(?s)Google Still Denies Access Tokens After Waiting 1s.*propagation_timeout`)},
		// Gaps of 1, 2 and 4 s make 7 s; the next gap, 8 s, would pass 10 s.
		"says why it stopped before the timeout": {timeout: "10s", delay: time.Minute, want: regexp.MustCompile(`(?s)` +
			wrapped("Google Still Denies Access Tokens After Waiting 7s of propagation_timeout 10s") + `.*` +
			wrapped("waited 7s for IAM propagation and stopped there, because the next retry, 8s later, would have passed propagation_timeout = 10s"))},
	} {
		t.Run(label, func(t *testing.T) {
			e := newExchangeEnv(t)
			target := e.g.ServiceAccounts(t, "bq-target")[0]
			e.g.SetPropagationDelay(tc.delay)
			step := resource.TestStep{
				Config: e.provider() + fmt.Sprintf(`
resource "airflowiam_impersonation_chain" "bq" {
  source = %q
  chain  = [%q]
}
`, e.g.Admin, target) + exchangeData(fmt.Sprintf("  gcp_impersonation_chain = [%q]\n  propagation_timeout = %q\n  depends_on = [airflowiam_impersonation_chain.bq]", target, tc.timeout)),
			}
			if tc.want != nil {
				step.ExpectError = tc.want
			} else {
				step.ConfigStateChecks = []statecheck.StateCheck{
					statecheck.ExpectKnownValue(exchangeAddr, tfjsonpath.New("steps").AtSliceIndex(1).AtMapKey("finding"),
						knownvalue.StringRegexp(regexp.MustCompile(`after waiting \d+s for IAM propagation`))),
				}
			}
			resource.ParallelTest(t, resource.TestCase{ProtoV6ProviderFactories: protoV6ProviderFactories, Steps: []resource.TestStep{step}})
		})
	}
}

// Inside a check block, a broken path is a warning: the run succeeds and
// the check is recorded as not passing. The same check passes once the hop
// is there.
func TestAccTokenExchange_checkBlock(t *testing.T) {
	e := newExchangeEnv(t)
	target := e.g.ServiceAccounts(t, "bq-target")[0]
	config := e.provider() + fmt.Sprintf(`
check "credential_path" {
  data "airflowiam_token_exchange" "test" {
    gcp_impersonation_chain = [%q]
    propagation_timeout     = "0s"
  }

  assert {
    condition     = data.airflowiam_token_exchange.test.steps[1].status == "ok"
    error_message = "the GCP impersonation chain is broken"
  }
}
`, target)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:            config,
				ConfigStateChecks: []statecheck.StateCheck{acctest.CheckStatus("check.credential_path", false)},
				// Terraform reads a check block's data source again in every plan.
				ExpectNonEmptyPlan: true,
			},
			{
				PreConfig: func() {
					if err := e.g.AddMember(target, gcpiam.RoleTokenCreator, e.g.Admin); err != nil {
						t.Fatal(err)
					}
				},
				Config:             config,
				ConfigStateChecks:  []statecheck.StateCheck{acctest.CheckStatus("check.credential_path", true)},
				ExpectNonEmptyPlan: true,
			},
		},
	})
}

func TestAccTokenExchange_invalidInput(t *testing.T) {
	g := acctest.FakeGCP(t)
	cases := map[string]struct {
		args string
		want *regexp.Regexp
	}{
		"nothing to check":      {args: `audience = "a"`, want: regexp.MustCompile(`(?s)At least one of these attributes must be configured`)},
		"role not an ARN":       {args: `role_arn = "airflow"`, want: regexp.MustCompile(`(?s)role_arn.*must be an IAM role ARN`)},
		"bad timeout":           {args: `gcp_impersonation_chain = ["a-one@p.iam.gserviceaccount.com"]` + "\n" + `propagation_timeout = "soon"`, want: regexp.MustCompile(`(?s)propagation_timeout must be a non-negative Go duration`)},
		"delegates without sa":  {args: `gcp_impersonation_chain = ["a-one@p.iam.gserviceaccount.com"]` + "\n" + `delegates = ["d-one@p.iam.gserviceaccount.com"]`, want: regexp.MustCompile(`(?s)service_account.*must be specified`)},
		"chain not an email":    {args: `gcp_impersonation_chain = ["alice@example.com"]`, want: regexp.MustCompile(`(?s)gcp_impersonation_chain\[0\].*service-account email`)},
		"bad session name":      {args: `role_arn = "arn:aws:iam::123456789012:role/r"` + "\n" + `session_name = "has space"`, want: regexp.MustCompile(`(?s)session_name.*must be 2 to 64`)},
		"service account email": {args: `gcp_impersonation_chain = ["a-one@p.iam.gserviceaccount.com"]` + "\n" + `service_account = "worker"`, want: regexp.MustCompile(`(?s)service_account.*service-account email`)},
	}
	for label, tc := range cases {
		t.Run(label, func(t *testing.T) {
			resource.ParallelTest(t, resource.TestCase{
				ProtoV6ProviderFactories: protoV6ProviderFactories,
				Steps:                    []resource.TestStep{{Config: googleProviderBlock(g) + exchangeData(tc.args), ExpectError: tc.want}},
			})
		})
	}
}

// chainCheck is the check of gcp_impersonation_chain, failing at once.
func chainCheck(chain ...string) string {
	return exchangeData(fmt.Sprintf("  gcp_impersonation_chain = [%s]\n  propagation_timeout = \"0s\"", quoteAll(chain)))
}

// addConditional grants role to member on account under a condition.
func addConditional(t *testing.T, g *acctest.GCP, account, role, member, title, expression string) {
	t.Helper()
	p, err := g.Policy(account)
	if err != nil {
		t.Fatal(err)
	}
	p.Version = 3
	p.Bindings = append(p.Bindings, fakegcp.Binding{Role: role, Members: []string{member},
		Condition: &fakegcp.Expr{Title: title, Expression: expression}})
	if err := g.SetPolicy(account, p); err != nil {
		t.Fatal(err)
	}
}

// Each way a hop can be wrong is named at its hop, with what it holds and
// the role that works at that position; each correct wiring passes.
func TestAccTokenExchange_diagnosis(t *testing.T) {
	type env struct {
		e              *exchangeEnv
		d1, d2, target string
		admin          string
		grant          func(account, role, member string)
	}
	cases := map[string]struct {
		setup func(t *testing.T, v env) string // the data source
		want  string                           // regexp; "" passes
	}{
		"a role that mints nothing": {
			setup: func(t *testing.T, v env) string {
				v.grant(v.d1, gcpiam.RoleTokenCreator, v.admin)
				v.grant(v.target, "roles/iam.serviceAccountUser", sa(v.d1))
				return chainCheck(v.d1, v.target)
			},
			want: `Impersonation Hop 2 of 2 Is Broken: %[d1]s Cannot Mint Access\s+Tokens for\s+%[target]s.*` +
				`roles/iam.serviceAccountUser:\s+it\s+grants\s+none\s+of\s+the\s+token\s+permissions.*--role=roles/iam.serviceAccountTokenCreator`,
		},
		"OpenID Token Creator where an access token is needed": {
			setup: func(t *testing.T, v env) string {
				v.grant(v.d1, gcpiam.RoleTokenCreator, v.admin)
				v.grant(v.target, gcpiam.RoleOpenIDTokenCreator, sa(v.d1))
				return chainCheck(v.d1, v.target)
			},
			want: `Hop 2 of 2 Is Broken.*roles/iam.serviceAccountOpenIdTokenCreator:\s+too\s+narrow.*` +
				`--role=roles/iam.serviceAccountTokenCreator`,
		},
		"a condition false now": {
			setup: func(t *testing.T, v env) string {
				v.grant(v.d1, gcpiam.RoleTokenCreator, v.admin)
				addConditional(t, v.e.g, v.target, gcpiam.RoleTokenCreator, sa(v.d1), "until 2020", `request.time < timestamp("2020-01-01T00:00:00Z")`)
				return chainCheck(v.d1, v.target)
			},
			want: `Hop 2 of 2 Is Broken.*under\s+condition\s+"until\s+2020".*false\s+now.*--role=roles/iam.serviceAccountTokenCreator`,
		},
		"a condition true now": {
			setup: func(t *testing.T, v env) string {
				v.grant(v.d1, gcpiam.RoleTokenCreator, v.admin)
				addConditional(t, v.e.g, v.target, gcpiam.RoleTokenCreator, sa(v.d1), "until 2099", `request.time < timestamp("2099-01-01T00:00:00Z")`)
				return chainCheck(v.d1, v.target)
			},
		},
		"delegates in another order": {
			setup: func(t *testing.T, v env) string {
				v.grant(v.d1, gcpiam.RoleTokenCreator, v.admin)
				v.grant(v.d2, gcpiam.RoleTokenCreator, sa(v.d1))
				v.grant(v.target, gcpiam.RoleTokenCreator, sa(v.d2))
				return chainCheck(v.d2, v.d1, v.target)
			},
			want: `Delegates Are Out of Order at Hop 1 of 3.*order\s+the\s+delegates\s+as\s+%[d1]s,\s+%[d2]s.*no\s+grant\s+needs\s+to\s+be\s+added`,
		},
		"a grant inherited from the project": {
			setup: func(t *testing.T, v env) string {
				// The admin's Token Creator comes from the project; the
				// second hop is the broken one.
				if err := v.e.g.SetProjectBindings(v.e.g.Project, []fakegcp.Binding{
					{Role: "roles/owner", Members: []string{v.admin}},
					{Role: gcpiam.RoleTokenCreator, Members: []string{v.admin}},
				}); err != nil {
					t.Fatal(err)
				}
				return chainCheck(v.d1, v.target)
			},
			want: `Impersonation Hop 2 of 2 Is Broken: %[d1]s Cannot Mint`,
		},
		"a disabled account": {
			setup: func(t *testing.T, v env) string {
				v.grant(v.d1, gcpiam.RoleTokenCreator, v.admin)
				v.grant(v.target, gcpiam.RoleTokenCreator, sa(v.d1))
				if err := v.e.g.SetServiceAccountDisabled(v.d1, true); err != nil {
					t.Fatal(err)
				}
				return chainCheck(v.d1, v.target)
			},
			want: `Service Account %[d1]s in the Chain Is Disabled.*gcloud\s+iam\s+service-accounts\s+enable\s+%[d1]s`,
		},
		"a missing account": {
			setup: func(t *testing.T, v env) string {
				return chainCheck("ghost@"+v.e.g.Project+".iam.gserviceaccount.com", v.target)
			},
			want: `Service Account ghost@\S+ in the Chain Does\s+Not\s+Exist`,
		},
	}
	for label, tc := range cases {
		t.Run(label, func(t *testing.T) {
			e := newExchangeEnv(t)
			accts := e.g.ServiceAccounts(t, "delegate-one", "delegate-two", "bq-target")
			v := env{e: e, d1: accts[0], d2: accts[1], target: accts[2], admin: e.g.Admin}
			v.grant = func(account, role, member string) {
				if err := e.g.AddMember(account, role, member); err != nil {
					t.Fatal(err)
				}
			}
			step := resource.TestStep{Config: e.provider() + tc.setup(t, v)}
			if tc.want != "" {
				want := strings.NewReplacer("%[d1]s", regexp.QuoteMeta(v.d1), "%[d2]s", regexp.QuoteMeta(v.d2),
					"%[target]s", regexp.QuoteMeta(v.target)).Replace(tc.want)
				step.ExpectError = regexp.MustCompile(`(?s)` + want)
			}
			resource.ParallelTest(t, resource.TestCase{ProtoV6ProviderFactories: protoV6ProviderFactories, Steps: []resource.TestStep{step}})
		})
	}
}

// A two-hop chain to the worker built by airflowiam_impersonation_chain
// with the OpenID role mints the worker's ID token because its first hop is
// Token Creator; downgraded to OpenID Token Creator, the first hop is too
// narrow for a delegate, and the check says so with the working role.
func TestAccTokenExchange_openIDChain(t *testing.T) {
	e := newExchangeEnv(t)
	if err := e.g.RemoveMember(e.g.Worker, gcpiam.RoleTokenCreator, e.g.Admin); err != nil {
		t.Fatal(err)
	}
	d1 := e.g.ServiceAccounts(t, "ci-delegate")[0]
	name := tfacctest.RandomWithPrefix("tfacc-xchg")
	resources := e.provider() + e.roleAndConnection(name, "airflow-"+name) + fmt.Sprintf(`
resource "airflowiam_impersonation_chain" "ci" {
  source = %q
  chain  = [%q, %q]
  role   = %q
}
`, e.g.Admin, d1, e.g.Worker, gcpiam.RoleOpenIDTokenCreator)
	check := fmt.Sprintf(`
  service_account       = %q
  delegates             = [%q]
  airflow_connection_id = airflowiam_connection.aws.connection_id
  propagation_timeout   = "0s"
`, e.g.Worker, d1)
	config := resources + exchangeData(check+"  depends_on = [airflowiam_impersonation_chain.ci]\n")
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(exchangeAddr, tfjsonpath.New("assumed_role_arn"), knownvalue.StringRegexp(regexp.MustCompile(`assumed-role/`+name+`/`))),
				},
			},
			{
				PreConfig: func() {
					if err := e.g.RemoveMember(d1, gcpiam.RoleTokenCreator, e.g.Admin); err != nil {
						t.Fatal(err)
					}
					if err := e.g.AddMember(d1, gcpiam.RoleOpenIDTokenCreator, e.g.Admin); err != nil {
						t.Fatal(err)
					}
				},
				// Without depends_on the check reads during plan, before
				// apply could restore the grant.
				Config: resources + exchangeData(check),
				ExpectError: regexp.MustCompile(`(?s)Impersonation Hop 1 of 2 Is Broken: admin@example.com Cannot Mint ID Tokens.*` +
					`implicitDelegation.*roles/iam.serviceAccountOpenIdTokenCreator:\s+too\s+narrow.*--role=roles/iam.serviceAccountTokenCreator`),
			},
		},
	})
}

// The provider's identity given by impersonate_service_account is what the
// check tests when service_account is unset: the base credentials mint its
// ID token, as the documentation says is enough.
func TestAccTokenExchange_impersonatedProvider(t *testing.T) {
	e := newExchangeEnv(t)
	ci := e.g.ServiceAccounts(t, "ci-runner")[0]
	if err := e.g.AddMember(ci, gcpiam.RoleTokenCreator, e.g.Admin); err != nil {
		t.Fatal(err)
	}
	// The impersonated identity reads service accounts (for the role's
	// unique-ID lookup).
	if err := e.g.SetProjectBindings(e.g.Project, []fakegcp.Binding{
		{Role: "roles/owner", Members: []string{e.g.Admin}},
		{Role: "roles/viewer", Members: []string{sa(ci)}},
	}); err != nil {
		t.Fatal(err)
	}
	name := tfacctest.RandomWithPrefix("tfacc-xchg")
	provider := strings.Replace(e.provider(), "  google {\n", fmt.Sprintf("  google {\n    impersonate_service_account = %q\n", ci), 1)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: provider + fmt.Sprintf(`
resource "airflowiam_web_identity_role" "test" {
  name                   = %q
  google_service_account = %q
  audience               = "aud-ci"
}
`, name, ci) + exchangeData(`
  role_arn   = airflowiam_web_identity_role.test.arn
  audience   = "aud-ci"
`),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(exchangeAddr, tfjsonpath.New("claims").AtMapKey("email"), knownvalue.StringExact(ci)),
			},
		}},
	})
}

// Credentials tokeninfo answers with 400 invalid_token are rejected
// credentials, not an unknown identity.
func TestAccTokenExchange_rejectedCredentials(t *testing.T) {
	e := newExchangeEnv(t)
	provider := strings.Replace(e.provider(), fmt.Sprintf("access_token            = %q", e.g.AdminToken), `access_token            = "ya29.expired"`, 1)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      provider + chainCheck(e.g.Worker),
			ExpectError: regexp.MustCompile(`(?s)Google Rejected the Provider's Credentials.*invalid_token`),
		}},
	})
}

// Correct wirings the evaluator cannot or need not judge pass, with the
// trust step skipped and STS deciding: a role in another AWS account than
// the provider's (GetRole there is not possible, and
// AssumeRoleWithWebIdentity needs no AWS credentials), and a trust policy
// whose condition needs a key only AWS knows. A policy with Null, which
// the evaluator judges, passes with the step ok.
func TestAccTokenExchange_trustPolicyJudgement(t *testing.T) {
	e := newExchangeEnv(t)
	policy := func(extra string) string {
		return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},`+
			`"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"accounts.google.com:aud":%q,`+
			`"accounts.google.com:oaud":"aud-1","accounts.google.com:sub":%q}%s}}]}`, e.worker.UniqueID, e.worker.UniqueID, extra)
	}
	otherAccount := "arn:aws:iam::210987654321:role/" + tfacctest.RandomWithPrefix("tfacc-xacct")
	cases := map[string]struct {
		arn     string
		status  string
		finding *regexp.Regexp
	}{
		"a role in another account": {arn: otherAccount, status: "skipped",
			finding: regexp.MustCompile(`210987654321`)},
		"Null": {arn: createRawRole(t, e.m, tfacctest.RandomWithPrefix("tfacc-null"), policy(`,"Null":{"accounts.google.com:sub":"false"}`)),
			status: "ok", finding: regexp.MustCompile(`allows`)},
		"a key only AWS knows": {arn: createRawRole(t, e.m, tfacctest.RandomWithPrefix("tfacc-ip"), policy(`,"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}`)),
			status: "skipped", finding: regexp.MustCompile(`(?i)aws:SourceIp.*STS decides`)},
	}
	for label, tc := range cases {
		t.Run(label, func(t *testing.T) {
			resource.ParallelTest(t, resource.TestCase{
				ProtoV6ProviderFactories: protoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config: e.provider() + exchangeData(fmt.Sprintf("  role_arn = %q\n  audience = \"aud-1\"\n  service_account = %q", tc.arn, e.g.Worker)),
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectKnownValue(exchangeAddr, tfjsonpath.New("steps").AtSliceIndex(3), knownvalue.ObjectPartial(map[string]knownvalue.Check{
							"name": knownvalue.StringExact(exchange.StepTrustPolicy), "status": knownvalue.StringExact(tc.status),
							"finding": knownvalue.StringRegexp(tc.finding),
						})),
						statecheck.ExpectKnownValue(exchangeAddr, tfjsonpath.New("assumed_role_arn"), knownvalue.NotNull()),
					},
				}},
			})
		})
	}
}

// A provider identity that may read the accounts' policies but not their
// project's: the hop with no visible grant is named as "may be broken",
// saying that inherited grants could not be read, at once.
func TestAccTokenExchange_projectPolicyUnreadable(t *testing.T) {
	e := newExchangeEnv(t)
	accts := e.g.ServiceAccounts(t, "delegate-one", "bq-target")
	d1, target := accts[0], accts[1]
	ci := "user:ci@example.com"
	for _, g := range []struct{ account, role string }{
		{d1, gcpiam.RoleTokenCreator}, {d1, "roles/viewer"}, {target, "roles/viewer"},
	} {
		if err := e.g.AddMember(g.account, g.role, ci); err != nil {
			t.Fatal(err)
		}
	}
	provider := strings.Replace(e.provider(), fmt.Sprintf("access_token            = %q", e.g.AdminToken),
		fmt.Sprintf("access_token            = %q", e.g.AccessTokenFor(ci)), 1)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: provider + exchangeData(fmt.Sprintf("  gcp_impersonation_chain = [%q, %q]\n  propagation_timeout = \"1m\"", d1, target)),
			ExpectError: regexp.MustCompile(`(?s)Impersonation Hop 2 of 2 May Be Broken: ` + regexp.QuoteMeta(d1) + `.*` +
				wrapped("grants inherited from its project could not be read") + `.*--role=roles/iam.serviceAccountTokenCreator`),
		}},
	})
}
