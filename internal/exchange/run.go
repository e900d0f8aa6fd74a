package exchange

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/arn"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/airflow"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/awsiam"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/awspolicy"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/clock"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/gcpiam"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/iamcond"
)

// Extra keys of Airflow's AWS connections.
const (
	extraRoleARN        = "role_arn"
	extraMethod         = "assume_role_method"
	extraFederation     = "assume_role_with_web_identity_federation"
	extraAudience       = "assume_role_with_web_identity_federation_audience"
	extraAssumeKwargs   = "assume_role_kwargs"
	methodWebIdentity   = "assume_role_with_web_identity"
	federationGoogle    = "google"
	maxPropagationWait  = 10 * time.Second
	firstPropagationGap = time.Second
)

// Run walks the path and returns every verdict. It stops at the first
// failure, which Result.Failure describes; it never returns a token or a
// credential. The caller's Checker is left as it is: defaults for Sleep and
// Now go into this run's own copy.
func (c *Checker) Run(ctx context.Context, in Input) *Result {
	checker := *c
	if checker.Sleep == nil {
		checker.Sleep = clock.Sleep
	}
	if checker.Now == nil {
		checker.Now = time.Now
	}
	if checker.Shared == nil {
		checker.Shared = &Shared{}
	}
	r := &run{c: &checker, in: in, res: &Result{}}
	if c.Google != nil {
		checker.Google = sharedGoogle{g: c.Google, s: checker.Shared, r: r}
	}
	if c.AWS != nil {
		checker.AWS = sharedAWS{a: c.AWS, s: checker.Shared, now: checker.Now}
	}
	r.walk(ctx)
	r.res.RoleARN, r.res.Audience = r.in.RoleARN, r.in.Audience
	return r.res
}

type run struct {
	c           *Checker
	in          Input
	res         *Result
	callerEmail string
	// retryAfter is 0, or the Shared's completions when this run last
	// decided to wait for IAM propagation: its next mint and diagnosis
	// are made again rather than reused. Only the run's own goroutine
	// uses Google, so it needs no lock.
	retryAfter uint64
}

func (r *run) walk(ctx context.Context) {
	if !r.caller(ctx) {
		return
	}
	if r.in.ConnectionID != "" && !r.connection(ctx) {
		return
	}
	if r.in.RoleARN != "" && !r.aws(ctx) {
		return
	}
	if r.in.GCPConnectionID != "" && !r.gcpConnection(ctx) {
		return
	}
	if len(r.in.GCPChain) > 0 {
		r.res.GCPChain = slices.Clone(r.in.GCPChain)
		r.gcpChain(ctx)
	}
}

func (r *run) ok(name, format string, args ...any) bool {
	r.res.Steps = append(r.res.Steps, Step{Name: name, Status: StatusOK, Finding: fmt.Sprintf(format, args...)})
	return true
}

func (r *run) skip(name, format string, args ...any) {
	r.res.Steps = append(r.res.Steps, Step{Name: name, Status: StatusSkipped, Finding: fmt.Sprintf(format, args...)})
}

// fail records the failed step and the check's one failure; it returns
// false so that callers can `return r.fail(...)`.
func (r *run) fail(name, summary, detail string) bool {
	r.res.Steps = append(r.res.Steps, Step{Name: name, Status: StatusFailed, Finding: summary})
	r.res.Failure = &Failure{Step: name, Summary: summary, Detail: detail}
	return false
}

// caller resolves the provider's own Google identity. Only rejected
// credentials stop the check: an identity tokeninfo cannot name (an
// external account) still works, with less precise diagnoses.
func (r *run) caller(ctx context.Context) bool {
	email, err := r.c.Google.CallerEmail(ctx)
	switch {
	case err != nil && gcpiam.IsRejectedCredentials(err):
		return r.fail(StepCaller, "Google Rejected the Provider's Credentials",
			fmt.Sprintf("The provider's Google credentials were refused: %s\n\nFix: check credentials or access_token in the "+
				"provider's google block (an access token lasts an hour), or run `gcloud auth application-default login`.", err))
	case err != nil:
		r.skip(StepCaller, "could not tell who the provider acts as (%s); broken hops from the caller cannot be named", oneLine(err))
		return true
	case email == "":
		r.skip(StepCaller, "the provider's identity has no email (an external identity); broken hops from the caller cannot be named")
		return true
	}
	r.callerEmail = email
	return r.ok(StepCaller, "the provider acts as %s", email)
}

// readExtra reads connection id's extra, for the hook named (AWS, Google);
// on failure it has failed step and returns false. extraFix names the
// attribute that makes a right extra.
func (r *run) readExtra(ctx context.Context, step, id, hook, extraFix string) (map[string]any, bool) {
	conn, err := r.c.Airflow.ReadConnection(ctx, id)
	if airflow.IsNotFound(err) {
		return nil, r.fail(step, fmt.Sprintf("Airflow Connection %s Not Found", id),
			fmt.Sprintf("Airflow has no connection %q.\n\nFix: create it, for example with airflowiam_connection and the extra %s.", id, extraFix))
	}
	if err != nil {
		return nil, r.fail(step, fmt.Sprintf("Cannot Read Airflow Connection %s", id), err.Error())
	}
	extra := map[string]any{}
	if conn.Extra != nil && *conn.Extra != "" {
		if err := json.Unmarshal([]byte(*conn.Extra), &extra); err != nil {
			return nil, r.fail(step, fmt.Sprintf("Airflow Connection %s Has an Unreadable Extra", id),
				fmt.Sprintf("The extra of connection %q is not a JSON object (%s), so Airflow's %s hook cannot read it.", id, err, hook))
		}
	}
	return extra, true
}

// connection checks the Airflow connection's extra and takes the role and
// the audience from it when they were not given.
func (r *run) connection(ctx context.Context) bool {
	id := r.in.ConnectionID
	extra, ok := r.readExtra(ctx, StepConnection, id, "AWS", "airflowiam_web_identity_role.airflow_connection_extra")
	if !ok {
		return false
	}
	get := func(k string) string { s, _ := extra[k].(string); return s }

	fix := "\n\nFix: set the connection's extra to airflowiam_web_identity_role.airflow_connection_extra, which has every key right."
	if m := get(extraMethod); m != methodWebIdentity {
		return r.fail(StepConnection, fmt.Sprintf("Airflow Connection %s Does Not Use Web Identity", id),
			fmt.Sprintf("Expected extra %s = %q; actual: %s.%s", extraMethod, methodWebIdentity, quoteOrAbsent(m), fix))
	}
	if f := get(extraFederation); f != federationGoogle {
		return r.fail(StepConnection, fmt.Sprintf("Airflow Connection %s Does Not Federate With Google", id),
			fmt.Sprintf("Expected extra %s = %q; actual: %s.%s", extraFederation, federationGoogle, quoteOrAbsent(f), fix))
	}
	aud := get(extraAudience)
	if aud == "" {
		return r.fail(StepConnection, fmt.Sprintf("Airflow Connection %s Has No Audience", id),
			fmt.Sprintf("The extra has no %s. Airflow has no default audience, so the worker would request an ID token for "+
				"nothing the role trusts.\n\nExpected: %s = the role's audience%s.%s", extraAudience, extraAudience, quoteIfSet(r.in.Audience), fix))
	}
	if r.in.Audience != "" && aud != r.in.Audience {
		return r.fail(StepConnection, fmt.Sprintf("Airflow Connection %s Uses Another Audience", id),
			fmt.Sprintf("Expected extra %s = %q (the audience under test); actual: %q.%s", extraAudience, r.in.Audience, aud, fix))
	}
	role := get(extraRoleARN)
	if role == "" {
		return r.fail(StepConnection, fmt.Sprintf("Airflow Connection %s Has No Role", id),
			fmt.Sprintf("The extra has no %s, so Airflow's AWS hook would not assume any role.%s", extraRoleARN, fix))
	}
	if r.in.RoleARN != "" && role != r.in.RoleARN {
		return r.fail(StepConnection, fmt.Sprintf("Airflow Connection %s Uses Another Role", id),
			fmt.Sprintf("Expected extra %s = %q (the role under test); actual: %q.%s", extraRoleARN, r.in.RoleARN, role, fix))
	}
	if !r.assumeRoleKwargs(id, extra[extraAssumeKwargs], fix) {
		return false
	}
	r.in.RoleARN, r.in.Audience = role, aud
	return r.ok(StepConnection, "connection %s assumes %s with Google ID tokens for audience %q", id, role, aud)
}

// assumeRoleKwargs reads the connection's assume_role_kwargs as the AWS hook
// does: it passes them to STS with the token (botocore's
// AssumeRoleWithWebIdentityCredentialFetcher, extra_args), so they must be
// an object, and their RoleSessionName is the session the hook's calls
// run as; the check then uses it too, unless session_name is set.
func (r *run) assumeRoleKwargs(id string, v any, fix string) bool {
	if v == nil {
		return true
	}
	kwargs, ok := v.(map[string]any)
	if !ok {
		b, _ := json.Marshal(v)
		return r.fail(StepConnection, fmt.Sprintf("Airflow Connection %s Has Unusable assume_role_kwargs", id),
			fmt.Sprintf("Expected extra %s to be a JSON object of AssumeRoleWithWebIdentity arguments; actual: %s. "+
				"Airflow's AWS hook hands it to botocore as keyword arguments, which fails.%s", extraAssumeKwargs, b, fix))
	}
	if name, ok := kwargs["RoleSessionName"].(string); ok && name != "" && r.in.SessionName == "" {
		r.in.SessionName = name
	}
	return true
}

// aws mints the ID token, verifies it, judges it against the trust policy
// and exchanges it with STS. The trust policy is read while the token is
// minted.
func (r *run) aws(ctx context.Context) bool {
	if r.in.Audience == "" {
		return r.fail(StepIDToken, "No Audience To Test",
			"The role is known but not the audience of the ID token.\n\nFix: set audience, or airflow_connection_id to a "+
				"connection whose extra has "+extraAudience+".")
	}
	policyCh := make(chan trustRead, 1)
	go func() { policyCh <- r.readTrustPolicy(ctx) }()

	token, ok := r.idToken(ctx)
	if !ok {
		<-policyCh
		return false
	}
	claims, err := r.c.Google.VerifyIDToken(ctx, token)
	if err != nil {
		<-policyCh
		return r.fail(StepVerifyToken, "Google ID Token Does Not Verify",
			fmt.Sprintf("The ID token minted for %s failed verification against Google's signing keys: %s", r.tokenIdentity(), err))
	}
	r.res.Claims = claims
	r.ok(StepVerifyToken, "signed by Google; aud=%s azp=%s sub=%s email=%s", claims.Audience, claims.AZP, claims.Subject, orNone(claims.Email))

	pr := <-policyCh
	cont, notJudged := r.trustPolicy(pr, claims)
	if !cont {
		return false
	}

	if r.in.SessionName == "" {
		// The hook's own default is botocore-session-<unix time>; a fixed
		// name keeps the check's sessions recognisable in CloudTrail.
		r.in.SessionName = DefaultSessionName
	}
	creds, err := r.c.AWS.AssumeRoleWithWebIdentity(ctx, r.in.RoleARN, r.in.SessionName, token)
	if err != nil {
		if notJudged != "" {
			return r.fail(StepAssumeRole, fmt.Sprintf("AWS STS Denied the Token for %s", r.in.RoleARN),
				fmt.Sprintf("AssumeRoleWithWebIdentity on %s with the ID token of %s (aud %q, azp %s, sub %s) failed: %s\n\n"+
					"The trust policy was not judged here (%s), so STS's answer is the verdict.\n%s",
					r.in.RoleARN, r.tokenIdentity(), claims.Audience, claims.AZP, claims.Subject, awsErrorText(err),
					notJudged, stsLikelyCauses(r.in.RoleARN, claims)))
		}
		return r.fail(StepAssumeRole, fmt.Sprintf("AWS STS Denied the Token for %s", r.in.RoleARN),
			fmt.Sprintf("AssumeRoleWithWebIdentity on %s with the ID token of %s (aud %q, azp %s) failed: %s\n\n"+
				"Expected: STS accepts the token, as the trust policy was judged to allow it.\n"+
				"Fix: compare the role's trust policy with airflowiam_web_identity_role's, check that the role exists in this "+
				"account and that nothing (an SCP, a permissions boundary on the caller) blocks sts:AssumeRoleWithWebIdentity.",
				r.in.RoleARN, r.tokenIdentity(), claims.Audience, claims.AZP, awsErrorText(err)))
	}
	r.res.AssumedRoleARN, r.res.Expiration = creds.AssumedRoleARN, creds.Expiration
	r.ok(StepAssumeRole, "assumed %s as %s until %s", r.in.RoleARN, creds.AssumedRoleARN, creds.Expiration.UTC().Format(time.RFC3339))

	account, arn, err := r.c.AWS.CallerIdentity(ctx, creds)
	if err != nil {
		return r.fail(StepCallerIdentity, "AWS Rejected the Temporary Credentials",
			fmt.Sprintf("GetCallerIdentity with the credentials STS returned for %s failed: %s", r.in.RoleARN, awsErrorText(err)))
	}
	r.res.AccountID = account
	if arn != "" {
		r.res.AssumedRoleARN = arn
	}
	return r.ok(StepCallerIdentity, "the temporary credentials act as %s in account %s", r.res.AssumedRoleARN, account)
}

// idToken mints the ID token Airflow's AWS hook would send, waiting for IAM
// propagation when every binding is in place but Google still denies.
func (r *run) idToken(ctx context.Context) (string, bool) {
	var token string
	mint := func() error {
		var err error
		if r.in.ServiceAccount == "" {
			token, err = r.c.Google.OwnIDToken(ctx, r.in.Audience)
		} else {
			token, err = r.c.Google.GenerateIDToken(ctx, r.in.ServiceAccount, r.in.Delegates, r.in.Audience, true)
		}
		return err
	}
	var hops []gcpiam.Hop
	if r.in.ServiceAccount != "" {
		hops = r.hopsTo(append(slices.Clone(r.in.Delegates), r.in.ServiceAccount))
	}
	waited, failure := r.withPropagation(ctx, mint, hops, gcpiam.PermissionGetOpenIDToken, "ID tokens")
	if failure != nil {
		if errors.Is(failure.cause, gcpiam.ErrNoOwnIDToken) {
			return "", r.fail(StepIDToken, "No Google Identity To Test",
				gcpiam.ErrNoOwnIDToken.Error()+".\n\nFix: set service_account to the Google service account Airflow's workers "+
					"run as (the provider then needs Token Creator on it, or on the first of delegates).")
		}
		return "", r.fail(StepIDToken, failure.summary, failure.detail)
	}
	r.ok(StepIDToken, "minted an ID token for %s with audience %q%s", r.tokenIdentity(), r.in.Audience, waitedNote(waited))
	return token, true
}

// trustPolicy judges the claims against the role's trust policy. It
// returns whether the check goes on and, when the policy was not judged
// (skipped), why; STS's answer then stands.
func (r *run) trustPolicy(pr trustRead, claims *gcpiam.IDClaims) (bool, string) {
	skip := func(reason string) (bool, string) {
		r.skip(StepTrustPolicy, "%s", reason)
		return true, reason
	}
	switch code := awsiam.ErrorCode(pr.err); {
	case pr.skip != "":
		return skip(pr.skip)
	case pr.err == nil:
	case pr.invalidARN:
		return r.fail(StepTrustPolicy, fmt.Sprintf("Invalid AWS Role ARN %s", r.in.RoleARN),
			fmt.Sprintf("%s\n\nFix: set role_arn (or the connection's %s) to arn:aws:iam::ACCOUNT:role/NAME.", pr.err, extraRoleARN)), ""
	case code == "AccessDenied":
		return skip("not permitted to read the role (iam:GetRole), so the trust policy was not judged; STS decides")
	case code == "NoSuchEntity":
		// AssumeRoleWithWebIdentity needs no AWS credentials, and the role
		// may be reachable to STS even when IAM here says it is missing
		// (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html).
		return skip(fmt.Sprintf("IAM has no role %s in the account the provider's aws block reaches, so the trust policy "+
			"was not judged; STS decides", r.in.RoleARN))
	default:
		return skip(fmt.Sprintf("could not read the trust policy (%s), so it was not judged; STS decides", awsErrorText(pr.err)))
	}
	policy, err := awspolicy.Parse(pr.doc)
	if err != nil {
		return skip(fmt.Sprintf("cannot judge the trust policy, which the evaluator cannot parse (%s); STS decides", oneLine(err)))
	}
	req := awspolicy.GoogleRequest(claims.Audience, claims.AZP, claims.Subject, claims.Email).WithTime(r.c.Now())
	d := awspolicy.Evaluate(policy, req)
	switch d.Verdict {
	case awspolicy.VerdictUnknown:
		return skip(d.Reason)
	case awspolicy.VerdictAllowed:
		return r.ok(StepTrustPolicy, "the trust policy allows the token (%s)", d.Reason), ""
	}
	return r.fail(StepTrustPolicy, fmt.Sprintf("AWS Trust Policy of %s Rejects the Token", r.in.RoleARN),
		fmt.Sprintf("The token of %s has aud %q, azp %s, sub %s. AWS compares accounts.google.com:aud with azp, "+
			"accounts.google.com:oaud with aud and accounts.google.com:sub with sub.\n\n%s",
			r.tokenIdentity(), claims.Audience, claims.AZP, claims.Subject, d.Explain())), ""
}

// gcpChain mints an access token for the chain's target the way Airflow's
// Google operators do, from the workers' identity.
func (r *run) gcpChain(ctx context.Context) bool {
	chain := r.in.GCPChain
	target := chain[len(chain)-1]
	delegates := slices.Clone(r.in.Delegates)
	if r.in.ServiceAccount != "" {
		delegates = append(delegates, r.in.ServiceAccount)
	}
	delegates = append(delegates, chain[:len(chain)-1]...)
	mint := func() error {
		_, err := r.c.Google.GenerateAccessToken(ctx, target, delegates, nil)
		return err
	}
	hops := r.hopsTo(append(slices.Clone(delegates), target))
	waited, failure := r.withPropagation(ctx, mint, hops, gcpiam.PermissionGetAccessToken, "access tokens")
	if failure != nil {
		return r.fail(StepGCPImpersonated, failure.summary, failure.detail)
	}
	return r.ok(StepGCPImpersonated, "minted an access token for %s %s%s", target, throughText(delegates), waitedNote(waited))
}

// hopsTo is the chain of grants from the caller to the last of accounts.
// The first hop's grantee is "" when the caller's email is unknown.
func (r *run) hopsTo(accounts []string) []gcpiam.Hop {
	grantee := ""
	if r.callerEmail != "" {
		grantee = gcpiam.CallerMember(r.callerEmail)
	}
	hops := make([]gcpiam.Hop, len(accounts))
	for i, sa := range accounts {
		hops[i] = gcpiam.Hop{Grantee: grantee, ServiceAccount: sa}
		grantee = "serviceAccount:" + sa
	}
	return hops
}

func (r *run) tokenIdentity() string {
	if r.in.ServiceAccount != "" {
		return r.in.ServiceAccount
	}
	if r.callerEmail != "" {
		return r.callerEmail
	}
	return "the provider's own identity"
}

type mintFailure struct {
	summary, detail string
	cause           error
}

// withPropagation runs mint. On a denial it diagnoses the chain: a hop that
// certainly lacks its grant (or whose account is missing or disabled) fails
// at once; when every grant is there, or may be, Google may not have
// propagated a new one yet, so it waits with backoff up to the propagation
// timeout and tries again.
func (r *run) withPropagation(ctx context.Context, mint func() error, hops []gcpiam.Hop, permission, kind string) (time.Duration, *mintFailure) {
	var waited time.Duration
	gap := firstPropagationGap
	for {
		err := mint()
		if err == nil {
			return waited, nil
		}
		if !diagnosable(err) || len(hops) == 0 {
			return waited, &mintFailure{cause: err, summary: fmt.Sprintf("Google Refused to Mint %s", titleCase(kind)),
				detail: fmt.Sprintf("Minting %s for %s failed: %s", kind, r.tokenIdentity(), oneLine(err))}
		}
		known := hopsWithGrantee(hops)
		rep := r.c.Google.DiagnoseChain(ctx, known, permission)
		offset := len(hops) - len(known)
		if rep.Broken >= 0 {
			r.delegateLater(rep, permission)
			rep.Order = r.expressibleOrder(rep.Order, offset, hops)
			return waited, brokenHop(rep, rep.Broken, offset, hops, kind, err)
		}
		switch {
		case rep.Unsure >= 0 && !gcpiam.IsNotFound(err):
			// No hop certainly lacks its grant, but one cannot be judged:
			// there is no visible grant to wait for, so say so at once.
			r.delegateLater(rep, permission)
			return waited, unsureHop(rep, offset, hops, kind, err)
		case gcpiam.IsNotFound(err):
			return waited, &mintFailure{cause: err, summary: "Service Account Not Found in the Chain",
				detail: fmt.Sprintf("Google says an account of the chain %s does not exist: %s\n\nFix: create it, or correct "+
					"service_account, delegates or gcp_impersonation_chain.", chainText(hops), oneLine(err))}
		case offset > 0:
			needed := gcpiam.NeededAt(0, len(hops), permission)
			return waited, &mintFailure{cause: err, summary: fmt.Sprintf("Google Denied %s at the First Hop", titleCase(kind)),
				detail: fmt.Sprintf("Every hop after the first of %s has a grant it needs, so the provider's own identity, which "+
					"tokeninfo could not name, most likely lacks %s on %s (granted by %s). Google said: %s",
					chainText(hops), needed, hops[0].ServiceAccount, gcpiam.WorkingRole("", needed), oneLine(err))}
		}
		if waited+gap > r.in.PropagationTimeout {
			return waited, r.stillDenied(hops, kind, err, waited, gap)
		}
		r.retryAfter = r.c.Shared.completed()
		if err := r.c.Sleep(ctx, gap); err != nil {
			return waited, &mintFailure{cause: err, summary: "Interrupted While Waiting for IAM Propagation", detail: err.Error()}
		}
		waited += gap
		gap = min(2*gap, maxPropagationWait)
	}
}

// expressibleOrder is a working order of the delegates as the whole chain
// has them (with the first delegate in front when the diagnosis started
// after it), or nil when that order cannot be configured: the workers'
// service account joins delegates and gcp_impersonation_chain and must stay
// between them.
func (r *run) expressibleOrder(order []string, offset int, hops []gcpiam.Hop) []string {
	if len(order) == 0 {
		return nil
	}
	if offset > 0 {
		order = append([]string{hops[0].ServiceAccount}, order...)
	}
	if sa := r.in.ServiceAccount; sa != "" && len(r.in.GCPChain) > 0 {
		if at := slices.Index(order, sa); at >= 0 && at != len(r.in.Delegates) {
			return nil
		}
	}
	return order
}

// delegateLater makes the fix for the workers' account Token Creator when
// the ID token's chain ends at it and gcp_impersonation_chain follows: the
// same grant then also makes it a delegate, which OpenID Token Creator
// cannot.
func (r *run) delegateLater(rep *gcpiam.ChainReport, permission string) {
	last := len(rep.Hops) - 1
	if permission != gcpiam.PermissionGetOpenIDToken || len(r.in.GCPChain) == 0 || r.in.ServiceAccount == "" || last < 0 {
		return
	}
	h := &rep.Hops[last]
	if h.Hop.Role == gcpiam.RoleOpenIDTokenCreator {
		h.Hop.Role = gcpiam.RoleTokenCreator
		h.Note = "Token Creator rather than OpenID Token Creator: " + h.Hop.ServiceAccount +
			" is also a delegate of gcp_impersonation_chain, which needs " + gcpiam.PermissionImplicitDelegation + "."
	}
}

// diagnosable says whether a minting error may come from the chain's
// grants or accounts: a denial, a missing account, or a disabled one
// (FAILED_PRECONDITION).
func diagnosable(err error) bool {
	return gcpiam.IsPermissionDenied(err) || gcpiam.IsNotFound(err) ||
		(gcpiam.StatusCode(err) == http.StatusBadRequest && gcpiam.Status(err) == "FAILED_PRECONDITION")
}

// stillDenied is the failure after the propagation timeout: it says the
// timeout, the time waited, and why it stopped before the next retry.
func (r *run) stillDenied(hops []gcpiam.Hop, kind string, err error, waited, gap time.Duration) *mintFailure {
	return &mintFailure{cause: err,
		summary: fmt.Sprintf("Google Still Denies %s After Waiting %s of propagation_timeout %s", titleCase(kind), waited, r.in.PropagationTimeout),
		detail: fmt.Sprintf("Every hop of %s has a grant it needs on its account, yet Google still refuses %s. The check waited %s "+
			"for IAM propagation and stopped there, because the next retry, %s later, would have passed propagation_timeout = %s. "+
			"A new grant can take minutes to take effect.", chainText(hops), kind, waited, gap, r.in.PropagationTimeout) +
			"\n\nFix: plan again later or raise propagation_timeout; if it persists, look for an IAM deny policy, an " +
			"organization policy or a grant held on a folder or organization. Google said: " + oneLine(err)}
}

// unsureHop is the failure when Google refuses and the first hop the
// diagnosis cannot judge is the likely cause: it says why it cannot judge
// the hop, what works there, and that a grant it cannot see may be new.
func unsureHop(rep *gcpiam.ChainReport, offset int, hops []gcpiam.Hop, kind string, err error) *mintFailure {
	f := brokenHop(rep, rep.Unsure, offset, hops, kind, err)
	h := rep.Hops[rep.Unsure]
	f.summary = fmt.Sprintf("Impersonation Hop %d of %d May Be Broken: %s May Not Mint %s for %s",
		rep.Unsure+offset+1, len(hops), memberName(h.Hop.Grantee), titleCase(kind), h.Hop.ServiceAccount)
	f.detail = fmt.Sprintf("Google refuses %s on %s. No hop certainly lacks what it needs, but this one cannot be judged: %s. "+
		"If the grant it needs is held where the check cannot see it, it may be new and still propagating: plan again "+
		"in a few minutes.\n\n", kind, chainText(hops), unsureReason(h)) + f.detail
	return f
}

// hopsWithGrantee drops a leading hop whose grantee is unknown.
func hopsWithGrantee(hops []gcpiam.Hop) []gcpiam.Hop {
	if len(hops) > 0 && hops[0].Grantee == "" {
		return hops[1:]
	}
	return hops
}

// brokenHop describes hop i of the report (offset hops of the chain were
// left out of it) and its fix.
func brokenHop(rep *gcpiam.ChainReport, i, offset int, hops []gcpiam.Hop, kind string, err error) *mintFailure {
	h := rep.Hops[i]
	n, pos := len(hops), i+offset+1
	grantee, sa := memberName(h.Hop.Grantee), h.Hop.ServiceAccount
	switch {
	case h.Missing:
		return &mintFailure{cause: err, summary: fmt.Sprintf("Service Account %s in the Chain Does Not Exist", sa),
			detail: fmt.Sprintf("Hop %d of %d of the chain %s names service account %s, which does not exist (or was deleted). "+
				"Google said: %s\n\nFix: create it (a deleted account can be undeleted within 30 days), or correct "+
				"service_account, delegates or gcp_impersonation_chain.", pos, n, chainText(hops), sa, oneLine(err))}
	case h.Disabled:
		return &mintFailure{cause: err, summary: fmt.Sprintf("Service Account %s in the Chain Is Disabled", sa),
			detail: fmt.Sprintf("Hop %d of %d of the chain %s goes through service account %s, which is disabled: a disabled "+
				"account mints no tokens. Google said: %s\n\nFix: gcloud iam service-accounts enable %s",
				pos, n, chainText(hops), sa, oneLine(err), sa)}
	case len(rep.Order) > 0:
		return &mintFailure{cause: err, summary: fmt.Sprintf("Impersonation Chain Delegates Are Out of Order at Hop %d of %d", pos, n),
			detail: fmt.Sprintf("Hop %d of the chain %s: %s has no grant on %s, but every grant the chain needs exists in "+
				"another order of the delegates: %s -> %s -> %s.\n\nFix: order the delegates as %s (Google walks them "+
				"in the order given); no grant needs to be added.", pos, chainText(hops), grantee, sa,
				chainStart(hops), strings.Join(rep.Order, " -> "), hops[n-1].ServiceAccount, strings.Join(rep.Order, ", "))}
	}
	return &mintFailure{cause: err,
		summary: fmt.Sprintf("Impersonation Hop %d of %d Is Broken: %s Cannot Mint %s for %s", pos, n, grantee, titleCase(kind), sa),
		detail: fmt.Sprintf("Hop %d of the chain %s: %s needs %s on service account %s%s.\n\n"+
			"Expected: %s holds %s on %s%s.\nActual: %s\n\n"+
			"Fix: add the hop with airflowiam_impersonation_chain, or run:\n"+
			"  gcloud iam service-accounts add-iam-policy-binding %s --member=%s --role=%s",
			pos, chainText(hops), h.Hop.Grantee, h.Needed, sa, neededWhy(h.Needed),
			h.Hop.Grantee, h.Hop.Role, sa, noteText(h.Note), heldText(h),
			sa, h.Hop.Grantee, h.Hop.Role)}
}

func noteText(note string) string {
	if note == "" {
		return ""
	}
	return " (" + note + ")"
}

// neededWhy says why a delegate needs more than the token's permission.
func neededWhy(needed string) string {
	if needed == gcpiam.PermissionImplicitDelegation {
		return " (Google requires it of every delegate of a chain, whatever the token; only " + gcpiam.RoleTokenCreator + " grants it)"
	}
	return ""
}

// heldText lists what the grantee holds on the account, and why none of
// it works.
func heldText(h gcpiam.HopReport) string {
	var lines []string
	for _, g := range h.Grants {
		lines = append(lines, "  - "+grantText(g, h.Needed))
	}
	where := "the IAM policy of " + h.Hop.ServiceAccount
	if h.ProjectUnread == "" && h.Account != nil {
		where += " and of its project " + h.Account.ProjectID
	}
	if len(lines) == 0 {
		return where + " grant " + memberName(h.Hop.Grantee) + " nothing." + projectNote(h)
	}
	return where + " grant " + memberName(h.Hop.Grantee) + ":\n" + strings.Join(lines, "\n") + projectNote(h)
}

func projectNote(h gcpiam.HopReport) string {
	if h.ProjectUnread == "" {
		return ""
	}
	return "\n(Grants inherited from the project could not be read: " + h.ProjectUnread + ".)"
}

// grantText is one grant and its verdict for the permission needed.
func grantText(g gcpiam.Grant, needed string) string {
	s := g.Role
	if g.Project != "" {
		s += " inherited from project " + g.Project
	}
	if g.Condition != nil {
		s += fmt.Sprintf(" under condition %q (%s)", g.Condition.Title, g.Condition.Expression)
	}
	switch {
	case !g.Known:
		return s + ": a custom or service-agent role, whose permissions the check does not read"
	case !g.Permits && g.Role == gcpiam.RoleOpenIDTokenCreator:
		return s + ": too narrow: it grants only " + gcpiam.PermissionGetOpenIDToken + ", and " + needed + " is needed here"
	case !g.Permits && g.Role == gcpiam.RoleWorkloadIdentityUser:
		return s + ": it grants no " + needed + " (only access and ID tokens, for Kubernetes service accounts)"
	case !g.Permits:
		return s + ": it grants none of the token permissions (" + needed + " is needed)"
	case g.ConditionNow == iamcond.False:
		return s + ": the condition is false now, so the grant does not apply"
	case g.ConditionNow == iamcond.Unknown:
		return s + ": the condition cannot be judged here (" + g.ConditionWhy + ")"
	case !g.Direct:
		return s + ": held through " + g.Member + ", whose members the check does not read"
	}
	return s + ": grants it"
}

// unsureReason says why a hop cannot be judged.
func unsureReason(h gcpiam.HopReport) string {
	for _, g := range h.Grants {
		if g.Maybe() {
			return grantText(g, h.Needed)
		}
	}
	if h.PolicyUnread != "" {
		return "its IAM policy could not be read (" + h.PolicyUnread + ")"
	}
	if h.ProjectUnread != "" {
		return "no grant on the account itself gives " + h.Needed + ", and grants inherited from its project could not be read (" + h.ProjectUnread + ")"
	}
	return "its grants could not be judged"
}

func chainStart(hops []gcpiam.Hop) string {
	if hops[0].Grantee == "" {
		return "(the provider)"
	}
	return memberName(hops[0].Grantee)
}

// chainText renders the hops as "caller -> a -> b".
func chainText(hops []gcpiam.Hop) string {
	parts := make([]string, 0, len(hops)+1)
	if len(hops) > 0 {
		parts = append(parts, chainStart(hops))
	}
	for _, h := range hops {
		parts = append(parts, h.ServiceAccount)
	}
	return strings.Join(parts, " -> ")
}

func memberName(m string) string {
	_, email, ok := strings.Cut(m, ":")
	if ok && strings.Contains(email, "@") {
		return email
	}
	return m
}

func titleCase(s string) string {
	words := strings.Fields(s)
	for i, w := range words {
		if w != "" && w != "of" {
			words[i] = strings.ToUpper(w[:1]) + w[1:]
		}
	}
	return strings.Join(words, " ")
}

func waitedNote(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return fmt.Sprintf(", after waiting %s for IAM propagation", d)
}

func throughText(delegates []string) string {
	if len(delegates) == 0 {
		return "directly"
	}
	return "through " + strings.Join(delegates, ", ")
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func quoteOrAbsent(s string) string {
	if s == "" {
		return "absent"
	}
	return fmt.Sprintf("%q", s)
}

func quoteIfSet(s string) string {
	if s == "" {
		return ""
	}
	return fmt.Sprintf(" (%q)", s)
}

// oneLine is err's message on one line.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// awsErrorText is an AWS error's code and message.
func awsErrorText(err error) string {
	if code := awsiam.ErrorCode(err); code != "" {
		return code + ": " + oneLine(err)
	}
	return oneLine(err)
}

// trustRead is the outcome of reading the role's trust policy: the
// document, the error, or why it was not read.
type trustRead struct {
	doc        string
	err        error
	invalidARN bool
	skip       string // "...; STS decides" when the policy was not read
}

// readTrustPolicy reads the role's trust policy when the provider's AWS
// identity is in the role's account. Across accounts GetRole cannot read it,
// and STS, which needs no AWS credentials, is the judge.
func (r *run) readTrustPolicy(ctx context.Context) trustRead {
	if _, err := awsiam.RoleNameFromARN(r.in.RoleARN); err != nil {
		return trustRead{err: err, invalidARN: true}
	}
	parsed, err := arn.Parse(r.in.RoleARN)
	if err != nil {
		return trustRead{err: err, invalidARN: true}
	}
	caller, err := r.c.AWS.CallerAccount(ctx)
	if err != nil {
		return trustRead{skip: fmt.Sprintf("cannot tell which AWS account the provider's credentials are in (%s), so the "+
			"trust policy of %s was not read; STS decides", awsErrorText(err), r.in.RoleARN)}
	}
	if caller != parsed.AccountID {
		return trustRead{skip: fmt.Sprintf("the role is in account %s and the provider's AWS credentials in account %s, so "+
			"the trust policy cannot be read here; STS decides", parsed.AccountID, caller)}
	}
	doc, err := r.c.AWS.TrustPolicy(ctx, r.in.RoleARN)
	return trustRead{doc: doc, err: err}
}

// stsLikelyCauses names what most likely makes STS refuse a token when the
// trust policy could not be judged beforehand.
func stsLikelyCauses(roleARN string, claims *gcpiam.IDClaims) string {
	account := "the role's account"
	if a, err := arn.Parse(roleARN); err == nil {
		account = "account " + a.AccountID
	}
	return fmt.Sprintf("Likely causes: the role does not exist in %s (STS answers a missing role with AccessDenied too), "+
		"or its trust policy does not allow this token: it must trust the Federated principal %s for %s, with "+
		"accounts.google.com:aud = %s (the token's azp), accounts.google.com:oaud = %q (its aud) and "+
		"accounts.google.com:sub = %s (its sub).\n"+
		"Fix: create the role there with airflowiam_web_identity_role (applied with credentials of that account), or "+
		"compare its trust policy with the one that resource writes; check also that role_arn names the right account.",
		account, awspolicy.GoogleFederatedPrincipal, awspolicy.ActionAssumeRoleWithWebIdentity, claims.AZP, claims.Audience, claims.Subject)
}
