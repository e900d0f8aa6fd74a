package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/awsiam"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/awspolicy"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/awssecrets"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/gcpiam"
)

// judgedEvaluated: the verdict is the policy evaluator's, because the
// service (moto, in the tests) did not refuse the read and does not enforce
// resource policies nor key grants.
const judgedEvaluated = "evaluated"

// accessSessionName is the STS session of the proof's reads.
const accessSessionName = "airflowiam-connection-access"

// awsAccessProof reads one Secrets Manager secret as one role, reached
// through a Google ID token as the worker reaches it, and judges the read
// with the policy evaluator.
type awsAccessProof struct {
	google   *gcpiam.Client
	iam      *awsiam.Client
	secrets  *awssecrets.Client
	secret   string
	role     string
	account  string // the Google service account the worker runs as
	audience string
}

// accessVerdict is what the proof found.
type accessVerdict struct {
	readable bool
	judged   string
	finding  string
}

func (p awsAccessProof) run(ctx context.Context, expect string) (accessVerdict, *accessFailure) {
	s, err := p.secrets.Describe(ctx, p.secret)
	if err != nil {
		if errors.Is(err, awssecrets.ErrNotFound) {
			return accessVerdict{}, &accessFailure{"Secret Not Found", fmt.Sprintf("Secret %s does not exist: nothing can be proven about who "+
				"reads it. Reference the secret_arn of the airflowiam_aws_secret_connection, so that the proof waits for it.", p.secret)}
		}
		return accessVerdict{}, &accessFailure{"Error Describing Secret", awsErrorDetail(err)}
	}
	observed, failure := p.observe(ctx, s.ARN)
	if failure != nil {
		return accessVerdict{}, failure
	}
	e, err := p.evaluate(ctx, s)
	if err != nil {
		return accessVerdict{}, &accessFailure{"Cannot Judge The Read", fmt.Sprintf("Reading the policies that decide who reads %s: %s", s.ARN, awsErrorDetail(err))}
	}
	return e.verdict(p, s.ARN, observed, expect)
}

// observe mints the role's credentials from a Google ID token and reads the
// secret with them: "" when it read, Secrets Manager's refusal otherwise.
func (p awsAccessProof) observe(ctx context.Context, arn string) (string, *accessFailure) {
	tok, err := p.google.GenerateIDToken(ctx, p.account, nil, p.audience, true)
	if err != nil {
		return "", &accessFailure{"Cannot Act As The Identity", fmt.Sprintf(
			"The provider's Google identity could not mint an ID token for %s with audience %q: %s.\n\nIt needs "+
				"roles/iam.serviceAccountOpenIdTokenCreator (or Token Creator) on the account. airflowiam_token_exchange "+
				"walks the whole path and names the broken hop.", p.account, p.audience, gcpiam.OneLine(err))}
	}
	creds, err := p.iam.AssumeRoleWithWebIdentity(ctx, p.role, accessSessionName, tok)
	if err != nil {
		return "", &accessFailure{"Cannot Act As The Identity", fmt.Sprintf(
			"STS refused to exchange the ID token of %s for %s: %s.\n\nairflowiam_token_exchange names the broken hop "+
				"(usually the role's trust policy).", p.account, p.role, awsErrorDetail(err))}
	}
	reader := p.secrets.As(credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken))
	err = reader.ReadValue(ctx, arn)
	switch {
	case err == nil:
		return "", nil
	case errors.Is(err, awssecrets.ErrDenied):
		return err.Error(), nil
	default:
		return "", &accessFailure{"Error Reading Secret As The Identity", fmt.Sprintf("Reading %s as %s: %s", arn, p.role, awsErrorDetail(err))}
	}
}

// awsEvaluation is the evaluator's judgement of the read: the secret's
// resource policy with the role's identity policies, and the key.
type awsEvaluation struct {
	secret awspolicy.AccessDecision
	key    *awssecrets.KeyAccess
	// keyPolicy is the judgement of kms:Decrypt by the key policy and the
	// identity policies, for a customer managed key without a grant.
	keyPolicy   awspolicy.AccessDecision
	keyByPolicy bool
}

func (p awsAccessProof) evaluate(ctx context.Context, s *awssecrets.Secret) (*awsEvaluation, error) {
	identity, err := awssecrets.IdentityPolicies(ctx, p.iam.IAM, p.role)
	if err != nil {
		return nil, err
	}
	doc, err := p.secrets.ResourcePolicy(ctx, s.ARN)
	if err != nil {
		return nil, err
	}
	policies := identity
	if doc != "" {
		rp, err := awspolicy.Parse(doc)
		if err != nil {
			return nil, fmt.Errorf("the resource policy of %s: %w", s.ARN, err)
		}
		policies = append([]awspolicy.NamedPolicy{{Name: "the secret's resource policy", Resource: true, Doc: rp}}, identity...)
	}
	account := awssecrets.AccountOf(p.role)
	e := &awsEvaluation{secret: awspolicy.EvaluateAccess(policies, awspolicy.AccessRequest{
		PrincipalARN: p.role, Account: account, Action: awssecrets.ActionGetSecretValue, Resource: s.ARN,
	})}
	if e.key, err = p.secrets.KeyAccessOf(ctx, s.KMSKeyID, s.ARN, p.role); err != nil {
		return nil, err
	}
	if !e.key.Managed && len(e.key.Grants) == 0 {
		region := strings.SplitN(e.key.KeyARN, ":", 5)[3]
		kp := append([]awspolicy.NamedPolicy{{Name: "the key policy of " + e.key.KeyARN, Resource: true, Doc: e.key.Policy}}, identity...)
		e.keyPolicy = awspolicy.EvaluateAccess(kp, awspolicy.AccessRequest{
			PrincipalARN: p.role, Account: account, Action: "kms:Decrypt", Resource: e.key.KeyARN,
			Context: map[string][]string{
				"kms:ViaService":                  {"secretsmanager." + region + ".amazonaws.com"},
				"kms:CallerAccount":               {account},
				"kms:EncryptionContext:SecretARN": {s.ARN},
			},
		})
		// Identity policies count only when the key policy delegates to
		// the account (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html).
		e.keyByPolicy = e.keyPolicy.Allowed() && (len(e.keyPolicy.ResourceAllows) > 0 || e.keyPolicy.Delegated)
	}
	return e, nil
}

func (e *awsEvaluation) keyAllowed() bool {
	return e.key.Managed || len(e.key.Grants) > 0 || e.keyByPolicy
}

// verdict compares the evaluation (and an observed refusal, which is
// authoritative) with expect.
func (e *awsEvaluation) verdict(p awsAccessProof, arn, refused, expect string) (accessVerdict, *accessFailure) {
	if refused != "" {
		v := accessVerdict{judged: judgedObserved, finding: fmt.Sprintf("%s was refused %s on %s", p.role, awssecrets.ActionGetSecretValue, arn)}
		if expect == expectDenied {
			return v, nil
		}
		return v, &accessFailure{"Connection Not Readable", fmt.Sprintf("%s cannot read %s: Secrets Manager refused it (%s).\n\n%s",
			p.role, arn, refused, e.missing(p, arn))}
	}
	if e.secret.Verdict == awspolicy.VerdictUnknown || (e.keyPolicy.Verdict == awspolicy.VerdictUnknown && !e.keyAllowed()) {
		return accessVerdict{}, &accessFailure{"Cannot Judge The Read", fmt.Sprintf(
			"The read of %s as %s succeeded, but whether AWS would allow it depends on what only AWS knows at request time: %s %s",
			arn, p.role, e.secret.Explain(), e.keyPolicy.Explain())}
	}
	v := accessVerdict{judged: judgedEvaluated, readable: e.secret.Allowed() && e.keyAllowed()}
	v.finding = fmt.Sprintf("%s read %s with the role's credentials; evaluated: GetSecretValue %s; kms:Decrypt %s",
		p.role, arn, e.secret.Explain(), e.keyExplain())
	switch {
	case v.readable && expect == expectDenied:
		return v, &accessFailure{"Connection Readable By A Non-Reader", fmt.Sprintf("%s can read %s, but expect = %q (evaluated, not observed).\n\n%s",
			p.role, arn, expectDenied, e.allowing(p, arn))}
	case !v.readable && expect == expectAllowed:
		return v, &accessFailure{"Connection Not Readable", fmt.Sprintf("%s cannot read %s (evaluated, not observed: the read "+
			"itself succeeded, because the service did not enforce what the evaluator found; moto enforces neither resource "+
			"policies nor key grants, and against AWS a success means something the evaluator does not see allows it).\n\n%s", p.role, arn, e.missing(p, arn))}
	}
	return v, nil
}

func (e *awsEvaluation) keyExplain() string {
	switch {
	case e.key.Managed:
		return "through the AWS managed key aws/secretsmanager, which needs no grant"
	case len(e.key.Grants) > 0:
		return fmt.Sprintf("allowed by KMS grant %s on %s", strings.Join(e.key.Grants, ", "), e.key.KeyARN)
	case e.keyByPolicy:
		return "allowed on " + e.key.KeyARN + " by " + joinAllows(e.keyPolicy)
	}
	return "refused on " + e.key.KeyARN + ": no grant to the role covers this secret, and the key policy does not allow it"
}

// missing names what keeps the role from reading, and the fix.
func (e *awsEvaluation) missing(p awsAccessProof, arn string) string {
	var b strings.Builder
	switch d := e.secret; {
	case d.Deny != nil && d.Deny.Sid == awssecrets.OthersDeniedSid:
		fmt.Fprintf(&b, "GetSecretValue: %s: the role is not a reader.\nFix: add %q to the readers of the airflowiam_aws_secret_connection that writes %s.\n", d.Explain(), p.role, arn)
	case d.Deny != nil:
		fmt.Fprintf(&b, "GetSecretValue: %s.\nFix: remove or narrow that Deny: an explicit Deny overrides every Allow.\n", d.Explain())
	case !d.Allowed():
		fmt.Fprintf(&b, "GetSecretValue: %s: the secret's resource policy does not name the role as a reader, and no identity "+
			"policy of the role allows it.\nFix: add %q to the readers of the airflowiam_aws_secret_connection that writes %s.\n", d.Explain(), p.role, arn)
	}
	if !e.keyAllowed() {
		fmt.Fprintf(&b, "kms:Decrypt: %s.\nFix: apply the airflowiam_aws_secret_connection again, which makes one grant per reader, or grant it yourself:\n"+
			"  aws kms create-grant --key-id %s --grantee-principal %s --operations Decrypt --constraints EncryptionContextSubset={SecretARN=%s}\n",
			e.keyExplain(), e.key.KeyARN, p.role, arn)
	}
	if b.Len() == 0 {
		b.WriteString("Every policy allows the read: AWS may still be propagating a change. Plan again in a minute.")
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// allowing names what lets a non-reader read, and how to stop it.
func (e *awsEvaluation) allowing(p awsAccessProof, arn string) string {
	var b strings.Builder
	for _, r := range e.secret.ResourceAllows {
		if r.Sid == awssecrets.ReadersSid {
			fmt.Fprintf(&b, "- %s: take %q out of the readers of the airflowiam_aws_secret_connection that writes %s\n", r, p.role, arn)
			continue
		}
		fmt.Fprintf(&b, "- %s: remove it, or narrow its Principal\n", r)
	}
	for _, r := range e.secret.IdentityAllows {
		fmt.Fprintf(&b, "- %s allows secretsmanager:GetSecretValue on the secret: remove or narrow it, or set readers on "+
			"the airflowiam_aws_secret_connection, whose Deny statement refuses every other principal of the account\n", r)
	}
	fmt.Fprintf(&b, "- kms:Decrypt %s\n", e.keyExplain())
	return "What lets it read:\n" + strings.TrimSuffix(b.String(), "\n")
}

func joinAllows(d awspolicy.AccessDecision) string {
	var s []string
	for _, r := range append(append([]awspolicy.StatementRef{}, d.ResourceAllows...), d.IdentityAllows...) {
		s = append(s, r.String())
	}
	return strings.Join(s, ", ")
}
