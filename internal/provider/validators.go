package provider

import (
	"context"
	"fmt"
	"math/big"
	"regexp"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/awspolicy"
)

// Airflow's rule for connection IDs: `^[\w.-]+$` (Unicode word characters)
// and at most 200 characters.
const (
	maxConnectionIDLength = 200
	connectionIDRule      = "Letters, digits, underscores (`_`), dots (`.`) and hyphens (`-`) only, 1 to 200 characters (Airflow's `^[\\w.-]+$`)"
	minPort               = 1
	maxPort               = 65535
)

var connectionIDPattern = regexp.MustCompile(`^[\p{L}\p{M}\p{Nd}_.-]+$`)

func connectionIDValidators() []validator.String {
	return []validator.String{
		stringvalidator.UTF8LengthBetween(1, maxConnectionIDLength),
		stringvalidator.RegexMatches(connectionIDPattern, "must contain only "+
			"letters, digits, underscores, dots and hyphens, like Airflow's ^[\\w.-]+$"),
	}
}

// validateConnectionID checks an ID that does not come through a schema (an
// import ID) against the same rule.
func validateConnectionID(id string, at path.Path) diag.Diagnostics {
	var diags diag.Diagnostics
	if n := utf8.RuneCountInString(id); n == 0 || n > maxConnectionIDLength || !connectionIDPattern.MatchString(id) {
		diags.AddAttributeError(at, "Invalid Connection ID",
			fmt.Sprintf("%q is not a valid Airflow connection ID. Expected: %s.", id, connectionIDRule))
	}
	return diags
}

// serviceAccountEmailRule says what serviceAccountEmailValidator accepts.
const serviceAccountEmailRule = "must be a Google service-account email, such as airflow-worker@my-project.iam.gserviceaccount.com"

// serviceAccountEmailValidator accepts Google service-account emails.
func serviceAccountEmailValidator() validator.String {
	return stringvalidator.RegexMatches(googleSAEmailPattern, serviceAccountEmailRule)
}

var (
	// roleARNPattern matches IAM role ARNs in every partition.
	roleARNPattern = regexp.MustCompile(`^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$`)
	// sessionNamePattern is STS's rule for role session names.
	sessionNamePattern = regexp.MustCompile(`^[\w+=,.@-]+$`)
)

// Limits and forms from IAM's API reference, for role-shaped resources.
const (
	minSessionDuration = 3600
	maxSessionDuration = 43200
)

var (
	roleNamePattern  = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	rolePathPattern  = regexp.MustCompile(`^/([\x21-\x7e]*/)?$`)
	policyARNPattern = regexp.MustCompile(`^arn:aws[a-z-]*:iam::(\d{12}|aws):policy/[\w+=,.@/-]+$`)
)

// googleSAEmailPattern is a Google service account's email: user-managed
// (NAME@PROJECT.iam.gserviceaccount.com, domain-scoped projects included)
// and the default App Engine and Compute Engine accounts.
var googleSAEmailPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*@([a-z0-9][a-z0-9.:-]*\.iam|developer|appspot)\.gserviceaccount\.com$`)

// projectIDPattern is a Google Cloud project ID, optionally domain-scoped
// (example.com:my-project).
var projectIDPattern = regexp.MustCompile(`^([a-z0-9][a-z0-9.-]*[a-z0-9]:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$`)

// policyDocumentValidator checks that a string is an IAM policy document.
type policyDocumentValidator struct{}

func (policyDocumentValidator) Description(context.Context) string {
	return "value must be an IAM policy document in JSON"
}

func (v policyDocumentValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (policyDocumentValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if _, err := awspolicy.Parse(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid Policy Document",
			fmt.Sprintf("%s must be an IAM policy document in JSON, for example jsonencode({ Version = \"2012-10-17\", Statement = [...] }): %s", req.Path, err))
	}
}

// portValidator requires a whole number from minPort to maxPort. The
// attribute is a number, not an integer, so that a fraction such as 80.5
// reaches this message instead of a conversion error.
type portValidator struct{}

var _ validator.Number = portValidator{}

func (portValidator) Description(context.Context) string {
	return fmt.Sprintf("value must be a whole number from %d to %d", minPort, maxPort)
}

func (v portValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (portValidator) ValidateNumber(_ context.Context, req validator.NumberRequest, resp *validator.NumberResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if validPort(req.ConfigValue) {
		return
	}
	f := req.ConfigValue.ValueBigFloat()
	resp.Diagnostics.AddAttributeError(req.Path, "Invalid Port",
		fmt.Sprintf("%s must be a whole number from %d to %d, got %s.", req.Path, minPort, maxPort, f.Text('g', -1)))
}

// validPort says whether n is null or a whole number from minPort to
// maxPort.
func validPort(n types.Number) bool {
	if n.IsNull() || n.IsUnknown() {
		return true
	}
	f := n.ValueBigFloat()
	return f.IsInt() && f.Cmp(big.NewFloat(minPort)) >= 0 && f.Cmp(big.NewFloat(maxPort)) <= 0
}

// defaultRequestTimeout is the request_timeout of the airflow, google and aws
// blocks when unset.
const defaultRequestTimeout = "60s"

// requestTimeoutRule says what requestTimeoutValidator accepts.
const requestTimeoutRule = `a duration: a number with a unit (ms, s, m, h), such as "60s", "2m" or "1m30s", greater than zero`

// requestTimeoutValidator accepts a request_timeout: a positive Go duration.
type requestTimeoutValidator struct{}

var _ validator.String = requestTimeoutValidator{}

func (requestTimeoutValidator) Description(context.Context) string {
	return "value must be " + requestTimeoutRule
}

func (v requestTimeoutValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (requestTimeoutValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if _, err := parseRequestTimeout(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid Request Timeout",
			fmt.Sprintf("%s must be %s; got %q.", req.Path, requestTimeoutRule, req.ConfigValue.ValueString()))
	}
}

// parseRequestTimeout reads a request_timeout; "" is the default.
func parseRequestTimeout(s string) (time.Duration, error) {
	if s == "" {
		s = defaultRequestTimeout
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	if d <= 0 {
		return 0, fmt.Errorf("%s is not greater than zero", s)
	}
	return d, nil
}

// oneManagedAirflowValidator, on airflow.composer_environment, refuses an
// airflow block that also names an MWAA environment: one provider block
// reaches one Airflow, and the two say which differently.
type oneManagedAirflowValidator struct{}

var _ validator.String = oneManagedAirflowValidator{}

func (oneManagedAirflowValidator) Description(context.Context) string {
	return "conflicts with mwaa_environment"
}

func (v oneManagedAirflowValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (oneManagedAirflowValidator) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	// Unknown (a variable during validate) is no conflict yet: the check
	// runs again once the values are known.
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	var mwaaEnv types.String
	other := req.Path.ParentPath().AtName("mwaa_environment")
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, other, &mwaaEnv)...)
	if mwaaEnv.IsNull() || mwaaEnv.IsUnknown() {
		return
	}
	resp.Diagnostics.AddAttributeError(req.Path, "Two Managed Airflow Environments",
		fmt.Sprintf("The airflow block sets both %s (Cloud Composer) and %s (Amazon MWAA), but one provider block manages "+
			"one Airflow: keep the one this configuration is for, and reach the other with a second, aliased airflowiam "+
			"provider block.", req.Path, other))
}
