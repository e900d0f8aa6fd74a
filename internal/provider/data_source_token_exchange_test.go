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
	arn := createRawRole(t, e.m, name, awsiam.GoogleTrustPolicy(e.worker.UniqueID, e.g.Worker, "expected-audience").JSON())
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
	arn := createRawRole(t, e.m, name, awsiam.GoogleTrustPolicy(e.worker.UniqueID, e.g.Worker, "aud-1").JSON())
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
	arn := createRawRole(t, e.m, name, awsiam.GoogleTrustPolicy(e.worker.UniqueID, e.g.Worker, "aud-1").JSON())
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
		want    *regexp.Regexp // nil: passes
	}{
		"waits":     {timeout: "1m"},
		"times out": {timeout: "1s", want: regexp.MustCompile(`(?s)Google Still Denies Access Tokens After Waiting 1s.*propagation_timeout`)},
	} {
		t.Run(label, func(t *testing.T) {
			e := newExchangeEnv(t)
			target := e.g.ServiceAccounts(t, "bq-target")[0]
			e.g.SetPropagationDelay(3 * time.Second)
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
