package exchange

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/smithy-go"
	"golang.org/x/oauth2"
	"google.golang.org/api/googleapi"
	iam "google.golang.org/api/iam/v1"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/airflow"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/awsiam"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/awspolicy"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/gcpiam"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/iamcond"
)

const (
	worker   = "worker@p.iam.gserviceaccount.com"
	workerID = "111111111111111111111"
	roleARN  = "arn:aws:iam::123456789012:role/airflow"
)

var denied = &googleapi.Error{Code: http.StatusForbidden, Message: "Permission denied"}

// fakeGoogle denies minting until allowAfter mint calls, and reports
// missing as the broken hop.
type fakeGoogle struct {
	email      string
	mints      int
	allowAfter int // mint calls denied before one succeeds; -1 never
	missing    int
	// unsureHop, 1-based (0: none), is a hop whose only grant is under a
	// condition the diagnosis cannot judge.
	unsureHop int
	hopsSeen  []gcpiam.Hop
}

func (f *fakeGoogle) CallerEmail(context.Context) (string, error) { return f.email, nil }

func (f *fakeGoogle) mint() error {
	f.mints++
	if f.allowAfter < 0 || f.mints <= f.allowAfter {
		return denied
	}
	return nil
}

func (f *fakeGoogle) GenerateIDToken(context.Context, string, []string, string, bool) (string, error) {
	return "header.payload.sig", f.mint()
}

func (f *fakeGoogle) OwnIDToken(context.Context, string) (string, error) {
	return "", gcpiam.ErrNoOwnIDToken
}

func (f *fakeGoogle) VerifyIDToken(_ context.Context, _ string) (*gcpiam.IDClaims, error) {
	return &gcpiam.IDClaims{Audience: "aud-1", AZP: workerID, Subject: workerID, Email: worker}, nil
}

func (f *fakeGoogle) GenerateAccessToken(context.Context, string, []string, []string) (*oauth2.Token, error) {
	return &oauth2.Token{}, f.mint()
}

// DiagnoseChain reports hop f.missing as holding nothing and every other
// hop as holding the role that works there.
func (f *fakeGoogle) DiagnoseChain(_ context.Context, hops []gcpiam.Hop, permission string) *gcpiam.ChainReport {
	f.hopsSeen = hops
	rep := &gcpiam.ChainReport{Broken: f.missing, Unsure: -1}
	for i, h := range hops {
		hr := gcpiam.HopReport{Hop: h, Needed: gcpiam.NeededAt(i, len(hops), permission)}
		hr.Hop.Role = gcpiam.WorkingRole(h.Grantee, hr.Needed)
		switch i {
		case f.missing:
		case f.unsureHop - 1:
			hr.Grants = []gcpiam.Grant{{Role: hr.Hop.Role, Permits: true, Known: true, ConditionNow: iamcond.Unknown, Direct: true,
				Condition: &iam.Expr{Title: "tagged", Expression: `resource.matchTag("123/env", "prod")`}, ConditionWhy: "unknown function"}}
			rep.Unsure = i
		default:
			hr.Grants = []gcpiam.Grant{{Role: hr.Hop.Role, Permits: true, Known: true, ConditionNow: iamcond.True, Direct: true}}
		}
		rep.Hops = append(rep.Hops, hr)
	}
	return rep
}

// fakeAWS answers as one AWS account: account is the provider's (default
// 123456789012, roleARN's), trustErr and stsErr make GetRole and STS fail.
type fakeAWS struct {
	trust      string
	trustErr   error
	account    string
	accountErr error
	stsErr     error
	trustReads int
	stsCalls   int
	session    string // of the last AssumeRoleWithWebIdentity
}

func (a *fakeAWS) CallerAccount(context.Context) (string, error) {
	if a.accountErr != nil {
		return "", a.accountErr
	}
	if a.account == "" {
		return "123456789012", nil
	}
	return a.account, nil
}

func (a *fakeAWS) TrustPolicy(context.Context, string) (string, error) {
	a.trustReads++
	if a.trustErr != nil {
		return "", a.trustErr
	}
	return a.trust, nil
}

func (a *fakeAWS) AssumeRoleWithWebIdentity(_ context.Context, _, session, _ string) (*awsiam.TemporaryCredentials, error) {
	a.stsCalls++
	a.session = session
	if a.stsErr != nil {
		return nil, a.stsErr
	}
	return &awsiam.TemporaryCredentials{AssumedRoleARN: "arn:aws:sts::123456789012:assumed-role/airflow/s", Expiration: time.Unix(2e9, 0)}, nil
}

func (a *fakeAWS) CallerIdentity(context.Context, *awsiam.TemporaryCredentials) (string, string, error) {
	return "123456789012", "arn:aws:sts::123456789012:assumed-role/airflow/s", nil
}

type fakeAirflow struct{ extra string }

func (f fakeAirflow) ReadConnection(_ context.Context, id string) (*airflow.Connection, error) {
	return &airflow.Connection{ConnectionID: id, ConnType: "aws", Extra: &f.extra}, nil
}

func checker(g *fakeGoogle, slept *[]time.Duration) *Checker {
	return &Checker{
		Google: g,
		AWS:    &fakeAWS{trust: awspolicy.GoogleTrust(workerID, worker, "aud-1").JSON()},
		Sleep: func(_ context.Context, d time.Duration) error {
			*slept = append(*slept, d)
			return nil
		},
	}
}

func stepNames(r *Result) string {
	names := make([]string, len(r.Steps))
	for i, s := range r.Steps {
		names[i] = s.Name + "=" + string(s.Status)
	}
	return strings.Join(names, " ")
}

func TestRun_wholePathFromTheConnection(t *testing.T) {
	var slept []time.Duration
	c := checker(&fakeGoogle{email: "ci@p.iam.gserviceaccount.com", missing: -1}, &slept)
	c.Airflow = fakeAirflow{extra: `{"role_arn":"` + roleARN + `","assume_role_method":"assume_role_with_web_identity",` +
		`"assume_role_with_web_identity_federation":"google","assume_role_with_web_identity_federation_audience":"aud-1"}`}
	res := c.Run(t.Context(), Input{ServiceAccount: worker, ConnectionID: "aws_x", GCPChain: []string{"t@p.iam.gserviceaccount.com"}})
	if res.Failure != nil {
		t.Fatalf("failure: %+v", res.Failure)
	}
	want := "google_caller=ok airflow_connection=ok google_id_token=ok verify_id_token=ok aws_trust_policy=ok " +
		"sts_assume_role_with_web_identity=ok sts_get_caller_identity=ok gcp_impersonation_chain=ok"
	if got := stepNames(res); got != want {
		t.Errorf("steps:\n got %s\nwant %s", got, want)
	}
	if res.RoleARN != roleARN || res.Audience != "aud-1" || res.AccountID != "123456789012" {
		t.Errorf("result = %+v", res)
	}
}

// With every grant present, a denial is taken for propagation: the check
// waits with growing gaps and stops at the timeout.
func TestRun_propagationWaitIsBounded(t *testing.T) {
	var slept []time.Duration
	g := &fakeGoogle{email: "ci@p.iam.gserviceaccount.com", missing: -1, allowAfter: -1}
	res := checker(g, &slept).Run(t.Context(), Input{GCPChain: []string{"t@p.iam.gserviceaccount.com"}, PropagationTimeout: 20 * time.Second})
	if res.Failure == nil || !strings.Contains(res.Failure.Summary, "After Waiting 15s") {
		t.Fatalf("failure = %+v, want a give-up after 15s", res.Failure)
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}
	if len(slept) != len(want) {
		t.Fatalf("slept %v, want %v", slept, want)
	}
	for i := range want {
		if slept[i] != want[i] {
			t.Fatalf("slept %v, want %v", slept, want)
		}
	}
	if g.mints != 5 {
		t.Errorf("minted %d times, want 5", g.mints)
	}
}

func TestRun_propagationSucceedsAfterWaiting(t *testing.T) {
	var slept []time.Duration
	g := &fakeGoogle{email: "ci@p.iam.gserviceaccount.com", missing: -1, allowAfter: 2}
	res := checker(g, &slept).Run(t.Context(), Input{GCPChain: []string{"t@p.iam.gserviceaccount.com"}, PropagationTimeout: time.Minute})
	if res.Failure != nil {
		t.Fatalf("failure: %+v", res.Failure)
	}
	if f := res.Steps[1].Finding; !strings.Contains(f, "after waiting 3s for IAM propagation") {
		t.Errorf("finding %q does not say it waited 3s", f)
	}
}

// A missing grant fails at once, naming the hop; with the caller unknown,
// the hop index still counts from the caller.
func TestRun_missingHopNamesTheHop(t *testing.T) {
	for _, tc := range []struct {
		email   string
		missing int
		want    string
	}{
		{"ci@p.iam.gserviceaccount.com", 1, "Impersonation Hop 2 of 3 Is Broken: d0@p.iam.gserviceaccount.com Cannot Mint Access Tokens for d1@p.iam.gserviceaccount.com"},
		{"", 0, "Impersonation Hop 2 of 3 Is Broken: d0@p.iam.gserviceaccount.com Cannot Mint Access Tokens for d1@p.iam.gserviceaccount.com"},
		{"", -1, "Google Denied Access Tokens at the First Hop"},
	} {
		var slept []time.Duration
		g := &fakeGoogle{email: tc.email, missing: tc.missing, allowAfter: -1}
		res := checker(g, &slept).Run(t.Context(), Input{
			GCPChain: []string{"d0@p.iam.gserviceaccount.com", "d1@p.iam.gserviceaccount.com", "t@p.iam.gserviceaccount.com"}, PropagationTimeout: time.Minute,
		})
		if res.Failure == nil || res.Failure.Summary != tc.want {
			t.Errorf("email %q, missing %d: failure %+v, want summary %q", tc.email, tc.missing, res.Failure, tc.want)
		}
		if len(slept) != 0 {
			t.Errorf("waited %v for a missing grant", slept)
		}
	}
}

func TestRun_noOwnIDToken(t *testing.T) {
	var slept []time.Duration
	res := checker(&fakeGoogle{email: "alice@example.com", missing: -1}, &slept).Run(t.Context(), Input{RoleARN: roleARN, Audience: "aud-1"})
	if res.Failure == nil || res.Failure.Summary != "No Google Identity To Test" || !strings.Contains(res.Failure.Detail, "set service_account") {
		t.Fatalf("failure = %+v", res.Failure)
	}
}

func TestRun_rejectedCredentialsStopTheCheck(t *testing.T) {
	c := &Checker{Google: &rejectingGoogle{}}
	res := c.Run(t.Context(), Input{GCPChain: []string{"t@p.iam.gserviceaccount.com"}})
	if res.Failure == nil || res.Failure.Step != StepCaller || len(res.Steps) != 1 {
		t.Fatalf("result = %+v", res)
	}
	if c.Sleep != nil || c.Now != nil {
		t.Error("Run wrote its defaults for Sleep and Now into the caller's Checker")
	}
}

type rejectingGoogle struct{ fakeGoogle }

func (*rejectingGoogle) CallerEmail(context.Context) (string, error) {
	return "", &googleapi.Error{Code: http.StatusUnauthorized, Message: "invalid credentials"}
}

func TestTitleCase(t *testing.T) {
	if got := titleCase("access tokens"); got != "Access Tokens" {
		t.Errorf("got %q", got)
	}
}

// awsRun checks roleARN for worker with the given fake AWS.
func awsRun(t *testing.T, a *fakeAWS) *Result {
	t.Helper()
	var slept []time.Duration
	c := checker(&fakeGoogle{email: "ci@p.iam.gserviceaccount.com", missing: -1}, &slept)
	c.AWS = a
	return c.Run(t.Context(), Input{ServiceAccount: worker, RoleARN: roleARN, Audience: "aud-1"})
}

func trustStep(t *testing.T, r *Result) Step {
	t.Helper()
	for _, s := range r.Steps {
		if s.Name == StepTrustPolicy {
			return s
		}
	}
	t.Fatalf("no %s step: %s", StepTrustPolicy, stepNames(r))
	return Step{}
}

const wantSkippedThenSTS = "google_caller=ok google_id_token=ok verify_id_token=ok aws_trust_policy=skipped " +
	"sts_assume_role_with_web_identity=ok sts_get_caller_identity=ok"

// The role lives in another account than the provider's AWS identity: the
// trust policy is not read, and STS's success passes the check.
func TestRun_roleInAnotherAccount(t *testing.T) {
	a := &fakeAWS{account: "210987654321", trustErr: &smithyErr{"AccessDenied"}}
	res := awsRun(t, a)
	if res.Failure != nil {
		t.Fatalf("failure: %+v", res.Failure)
	}
	if got := stepNames(res); got != wantSkippedThenSTS {
		t.Errorf("steps:\n got %s\nwant %s", got, wantSkippedThenSTS)
	}
	f := trustStep(t, res).Finding
	if !strings.Contains(f, "account 123456789012") || !strings.Contains(f, "account 210987654321") || !strings.Contains(f, "STS decides") {
		t.Errorf("finding = %q", f)
	}
	if a.trustReads != 0 {
		t.Errorf("read the trust policy %d times across accounts", a.trustReads)
	}
}

// The provider's caller identity is unknown: skip, and STS decides.
func TestRun_callerAccountUnknown(t *testing.T) {
	a := &fakeAWS{accountErr: &smithyErr{"InvalidClientTokenId"}}
	res := awsRun(t, a)
	if res.Failure != nil || stepNames(res) != wantSkippedThenSTS {
		t.Fatalf("steps %s, failure %+v", stepNames(res), res.Failure)
	}
	if f := trustStep(t, res).Finding; !strings.Contains(f, "cannot tell which AWS account") || !strings.Contains(f, "STS decides") {
		t.Errorf("finding = %q", f)
	}
}

// NoSuchEntity in the provider's own account is not fatal: STS answers.
func TestRun_noSuchEntityButSTSAccepts(t *testing.T) {
	a := &fakeAWS{trustErr: &smithyErr{"NoSuchEntity"}}
	res := awsRun(t, a)
	if res.Failure != nil {
		t.Fatalf("failure: %+v", res.Failure)
	}
	if got := stepNames(res); got != wantSkippedThenSTS {
		t.Errorf("steps:\n got %s\nwant %s", got, wantSkippedThenSTS)
	}
	if f := trustStep(t, res).Finding; !strings.Contains(f, "IAM has no role") || !strings.Contains(f, "STS decides") {
		t.Errorf("finding = %q", f)
	}
}

// When the trust policy was skipped and STS refuses, the failure does not
// claim the policy was judged, and names the likely causes.
func TestRun_skippedThenSTSDenies(t *testing.T) {
	a := &fakeAWS{trustErr: &smithyErr{"NoSuchEntity"}, stsErr: &smithyErr{"AccessDenied"}}
	res := awsRun(t, a)
	if res.Failure == nil || res.Failure.Step != StepAssumeRole {
		t.Fatalf("failure = %+v", res.Failure)
	}
	d := res.Failure.Detail
	if strings.Contains(d, "judged to allow") {
		t.Errorf("detail claims the trust policy was judged:\n%s", d)
	}
	for _, want := range []string{"was not judged here", "the role does not exist in account 123456789012", "trust policy does not allow this token",
		"accounts.google.com:aud = " + workerID, `accounts.google.com:oaud = "aud-1"`} {
		if !strings.Contains(d, want) {
			t.Errorf("detail lacks %q:\n%s", want, d)
		}
	}
}

// A policy with the Null operator (which the evaluator used to treat as
// never matching) passes.
func TestRun_nullOperatorPolicyPasses(t *testing.T) {
	a := &fakeAWS{trust: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},
		"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"accounts.google.com:sub":"` + workerID + `",
		"accounts.google.com:oaud":"aud-1"},"Null":{"accounts.google.com:aud":"false"}}}]}`}
	res := awsRun(t, a)
	if res.Failure != nil {
		t.Fatalf("failure: %+v", res.Failure)
	}
	if s := trustStep(t, res); s.Status != StatusOK {
		t.Errorf("trust step = %+v", s)
	}
}

// An operator the evaluator does not know: the step is skipped with the
// reason and STS decides.
func TestRun_unknownOperatorSkips(t *testing.T) {
	a := &fakeAWS{trust: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},
		"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEqualsSomeday":{"accounts.google.com:sub":"` + workerID + `"}}}]}`}
	res := awsRun(t, a)
	if res.Failure != nil {
		t.Fatalf("failure: %+v", res.Failure)
	}
	if got := stepNames(res); got != wantSkippedThenSTS {
		t.Errorf("steps:\n got %s\nwant %s", got, wantSkippedThenSTS)
	}
	if f := trustStep(t, res).Finding; !strings.Contains(f, "cannot judge") || !strings.Contains(f, "StringEqualsSomeday") || !strings.Contains(f, "STS decides") {
		t.Errorf("finding = %q", f)
	}
	if a.stsCalls != 1 {
		t.Errorf("STS called %d times", a.stsCalls)
	}
}

// A policy the evaluator judges to deny still fails the step, before STS.
func TestRun_deniedPolicyFails(t *testing.T) {
	a := &fakeAWS{trust: awspolicy.GoogleTrust(workerID, worker, "other-audience").JSON()}
	res := awsRun(t, a)
	if res.Failure == nil || res.Failure.Step != StepTrustPolicy || a.stsCalls != 0 {
		t.Fatalf("failure = %+v, STS calls %d", res.Failure, a.stsCalls)
	}
}

// smithyErr is an AWS API error with a code.
type smithyErr struct{ code string }

func (e *smithyErr) Error() string                 { return e.code + ": test" }
func (e *smithyErr) ErrorCode() string             { return e.code }
func (e *smithyErr) ErrorMessage() string          { return "test" }
func (e *smithyErr) ErrorFault() smithy.ErrorFault { return smithy.FaultClient }

// When the workers' account is also a delegate of gcp_impersonation_chain,
// the fix for its ID-token hop is Token Creator, which serves both steps;
// alone, the ID token's own least privilege is OpenID Token Creator.
func TestRun_idTokenFixCountsTheLaterChain(t *testing.T) {
	for _, tc := range []struct {
		chain []string
		role  string
	}{
		{nil, gcpiam.RoleOpenIDTokenCreator},
		{[]string{"t@p.iam.gserviceaccount.com"}, gcpiam.RoleTokenCreator},
	} {
		var slept []time.Duration
		g := &fakeGoogle{email: "ci@p.iam.gserviceaccount.com", missing: 0, allowAfter: -1}
		res := checker(g, &slept).Run(t.Context(), Input{RoleARN: roleARN, Audience: "aud-1", ServiceAccount: worker, GCPChain: tc.chain})
		if res.Failure == nil || res.Failure.Step != StepIDToken || !strings.Contains(res.Failure.Detail, "--role="+tc.role) {
			t.Errorf("chain %v: failure %+v, want a fix with %s", tc.chain, res.Failure, tc.role)
		}
	}
}

// A hop that cannot be judged (here, a grant under a condition the
// diagnosis cannot evaluate) fails at once as "may be broken", saying why,
// rather than waiting for a propagation there is no visible grant for.
func TestRun_unsureHopFailsAtOnce(t *testing.T) {
	var slept []time.Duration
	g := &fakeGoogle{email: "ci@p.iam.gserviceaccount.com", missing: -1, unsureHop: 2, allowAfter: -1}
	res := checker(g, &slept).Run(t.Context(), Input{
		GCPChain: []string{"d0@p.iam.gserviceaccount.com", "t@p.iam.gserviceaccount.com"}, PropagationTimeout: time.Minute,
	})
	want := "Impersonation Hop 2 of 2 May Be Broken: d0@p.iam.gserviceaccount.com May Not Mint Access Tokens for t@p.iam.gserviceaccount.com"
	if res.Failure == nil || res.Failure.Summary != want || !strings.Contains(res.Failure.Detail, "cannot be judged here (unknown function)") {
		t.Fatalf("failure = %+v, want %q", res.Failure, want)
	}
	if len(slept) != 0 {
		t.Errorf("waited %v for a hop that cannot be judged", slept)
	}
}

// The check runs STS as the session the AWS hook would: the connection's
// assume_role_kwargs RoleSessionName, unless session_name says otherwise;
// kwargs that are not an object break the hook, and the check says so.
func TestRun_assumeRoleKwargsLikeTheHook(t *testing.T) {
	base := `{"role_arn":"` + roleARN + `","assume_role_method":"assume_role_with_web_identity",` +
		`"assume_role_with_web_identity_federation":"google","assume_role_with_web_identity_federation_audience":"aud-1"`
	for label, tc := range map[string]struct {
		kwargs, input, want string
	}{
		"no kwargs":                   {"", "", DefaultSessionName},
		"kwargs without a name":       {`,"assume_role_kwargs":{"DurationSeconds":900}`, "", DefaultSessionName},
		"the connection's name":       {`,"assume_role_kwargs":{"RoleSessionName":"etl-nightly"}`, "", "etl-nightly"},
		"session_name wins":           {`,"assume_role_kwargs":{"RoleSessionName":"etl-nightly"}`, "mine", "mine"},
		"kwargs that are not objects": {`,"assume_role_kwargs":"RoleSessionName=x"`, "", ""},
	} {
		t.Run(label, func(t *testing.T) {
			var slept []time.Duration
			c := checker(&fakeGoogle{email: "ci@p.iam.gserviceaccount.com", missing: -1}, &slept)
			c.Airflow = fakeAirflow{extra: base + tc.kwargs + "}"}
			res := c.Run(t.Context(), Input{ServiceAccount: worker, ConnectionID: "aws_x", SessionName: tc.input})
			aws, ok := c.AWS.(*fakeAWS)
			if !ok {
				t.Fatalf("AWS is a %T", c.AWS)
			}
			if tc.want == "" {
				if res.Failure == nil || res.Failure.Step != StepConnection || !strings.Contains(res.Failure.Summary, "Unusable assume_role_kwargs") || aws.stsCalls != 0 {
					t.Fatalf("failure = %+v, sts calls %d; want the connection step to fail", res.Failure, aws.stsCalls)
				}
				return
			}
			if res.Failure != nil || aws.session != tc.want {
				t.Errorf("failure %+v, session %q; want session %q", res.Failure, aws.session, tc.want)
			}
		})
	}
}
