// Package exchange walks the credential path an Airflow task uses, for real,
// and says which hop is broken: the caller's Google identity, a Google ID
// token minted through the impersonation chain, its verification, the AWS
// role's trust policy, STS AssumeRoleWithWebIdentity and GetCallerIdentity,
// the Airflow connection that ties them together, and Airflow's GCP
// impersonation chain. Each step yields a verdict and, when it fails, the
// fix. The steps run over small interfaces, so the package needs neither
// Terraform nor real clouds to be tested.
package exchange

import (
	"context"
	"time"

	"golang.org/x/oauth2"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/airflow"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/awsiam"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/gcpiam"
)

// Google is what the check needs of Google. *gcpiam.Client satisfies it.
type Google interface {
	CallerEmail(ctx context.Context) (string, error)
	GenerateIDToken(ctx context.Context, target string, delegates []string, audience string, includeEmail bool) (string, error)
	OwnIDToken(ctx context.Context, audience string) (string, error)
	VerifyIDToken(ctx context.Context, token string) (*gcpiam.IDClaims, error)
	GenerateAccessToken(ctx context.Context, target string, delegates, scopes []string) (*oauth2.Token, error)
	DiagnoseChain(ctx context.Context, hops []gcpiam.Hop, permission string) *gcpiam.ChainReport
}

// AWS is what the check needs of AWS. *awsiam.Client satisfies it.
type AWS interface {
	// CallerAccount is the account of the provider's own AWS credentials;
	// the trust policy is read only when it is the role's account.
	CallerAccount(ctx context.Context) (string, error)
	TrustPolicy(ctx context.Context, roleARN string) (string, error)
	AssumeRoleWithWebIdentity(ctx context.Context, roleARN, sessionName, token string) (*awsiam.TemporaryCredentials, error)
	CallerIdentity(ctx context.Context, creds *awsiam.TemporaryCredentials) (account, arn string, err error)
}

// Airflow reads connections (through the refresh snapshot when one is
// held). *airflow.Client satisfies it.
type Airflow interface {
	ReadConnection(ctx context.Context, id string) (*airflow.Connection, error)
}

// DefaultSessionName is the STS role session name when Input has none and
// the connection's assume_role_kwargs name no RoleSessionName.
const DefaultSessionName = "airflowiam-check"

// Input is what to check. Either RoleARN and Audience (directly or from the
// connection) or GCPChain must be given.
type Input struct {
	RoleARN  string
	Audience string
	// ServiceAccount is the identity Airflow's workers run as; the caller
	// reaches it through Delegates. Empty means the caller itself.
	ServiceAccount string
	Delegates      []string
	ConnectionID   string
	// GCPChain is Airflow's impersonation_chain: delegates, then the target.
	GCPChain []string
	// GCPConnectionID is an Airflow Google connection whose
	// impersonation_chain is the chain to check, read as GoogleBaseHook
	// reads it; GCPChain, when also given, must be the same.
	GCPConnectionID    string
	SessionName        string
	PropagationTimeout time.Duration
}

// Status is a step's verdict.
type Status string

// The verdicts.
const (
	StatusOK      Status = "ok"
	StatusFailed  Status = "failed"
	StatusSkipped Status = "skipped"
)

// Step names, in the order they run.
const (
	StepCaller          = "google_caller"
	StepConnection      = "airflow_connection"
	StepIDToken         = "google_id_token"
	StepVerifyToken     = "verify_id_token"
	StepTrustPolicy     = "aws_trust_policy"
	StepAssumeRole      = "sts_assume_role_with_web_identity"
	StepCallerIdentity  = "sts_get_caller_identity"
	StepGCPConnection   = "airflow_gcp_connection"
	StepGCPImpersonated = "gcp_impersonation_chain"
)

// Step is one verdict.
type Step struct {
	Name    string
	Status  Status
	Finding string // one line
}

// Failure is the one error the check reports: a summary naming the broken
// hop, and a detail with expected versus actual and the fix.
type Failure struct {
	Step    string
	Summary string
	Detail  string
}

// Result is the outcome. Failure is nil when every step passed or was
// skipped.
type Result struct {
	Steps []Step
	// RoleARN and Audience are those tested, from the input or the
	// connection.
	RoleARN, Audience string
	Claims            *gcpiam.IDClaims
	AssumedRoleARN    string
	AccountID         string
	// GCPChain is the impersonation chain tested, given or from the Google
	// connection.
	GCPChain   []string
	Expiration time.Time
	Failure    *Failure
}

// Checker runs the check. Google, AWS and Airflow may be nil when the input
// does not need them.
type Checker struct {
	Google  Google
	AWS     AWS
	Airflow Airflow
	// Sleep waits between propagation retries; tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now tells the time; tests replace it.
	Now func() time.Time
	// Shared, when set, is what the checks of one provider process share;
	// nil shares only within the run.
	Shared *Shared
}
