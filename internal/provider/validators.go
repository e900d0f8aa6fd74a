package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"

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

// jsonObjectValidator requires a JSON object (Airflow rejects any other JSON
// value in a connection's extra). Syntax errors are reported by the JSON
// type itself.
type jsonObjectValidator struct{}

var _ validator.String = jsonObjectValidator{}

func (jsonObjectValidator) Description(context.Context) string {
	return "value must be a JSON object"
}

func (v jsonObjectValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (jsonObjectValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	var v any
	if err := json.Unmarshal([]byte(req.ConfigValue.ValueString()), &v); err != nil {
		return // the JSON type reports syntax errors
	}
	if _, ok := v.(map[string]any); !ok {
		// The value itself is not echoed: an extra may hold secrets.
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid Extra",
			fmt.Sprintf("%s must be a JSON object, for example jsonencode({ region_name = \"eu-west-1\" }); got a JSON %s.",
				req.Path, jsonKind(v)))
	}
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case []any:
		return "array"
	case string:
		return "string"
	case bool:
		return "boolean"
	default:
		return "number"
	}
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

// defaultRequestTimeout is the request_timeout of the google and aws blocks
// when unset.
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
