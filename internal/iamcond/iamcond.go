// Package iamcond evaluates the CEL expression of an IAM condition the way
// Google's IAM does for the attributes this provider can know: request.time,
// resource.name, resource.type and resource.service.
//
// References:
//   - Overview of IAM Conditions, the attributes and the CEL subset:
//     https://cloud.google.com/iam/docs/conditions-overview
//   - Attribute reference (request.time, resource.name, resource.type,
//     resource.service, and the functions that apply to them):
//     https://cloud.google.com/iam/docs/conditions-attribute-reference
//   - The CEL language itself: https://github.com/google/cel-spec
//
// An expression that does not compile here (it uses an attribute or a
// function outside that set, such as api.getAttribute or resource.matchTag)
// or that fails at evaluation is Unknown: the caller decides what an unknown
// condition means (a fake denies, a diagnosis says it cannot judge).
package iamcond

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"cel.dev/cel-go/cel"
)

// Attributes are the request's attributes a condition may read.
type Attributes struct {
	Time time.Time
	// ResourceName is the full resource name, for a service account
	// projects/PROJECT/serviceAccounts/EMAIL.
	ResourceName string
	// ResourceType is, for a service account, iam.googleapis.com/ServiceAccount.
	ResourceType string
	// ResourceService is, for a service account, iam.googleapis.com.
	ResourceService string
}

// Values of resource.type and resource.service for a service account, as
// the attribute reference lists them.
const (
	ServiceAccountType    = "iam.googleapis.com/ServiceAccount"
	ServiceAccountService = "iam.googleapis.com"
)

// ServiceAccount is the attributes of a request on a service account.
func ServiceAccount(project, email string, now time.Time) Attributes {
	return Attributes{
		Time:            now,
		ResourceName:    "projects/" + project + "/serviceAccounts/" + email,
		ResourceType:    ServiceAccountType,
		ResourceService: ServiceAccountService,
	}
}

// Result is an evaluation's outcome.
type Result int

// The outcomes.
const (
	False Result = iota
	True
	Unknown
)

func (r Result) String() string {
	switch r {
	case True:
		return "true"
	case False:
		return "false"
	}
	return "unknown"
}

// ErrUnknown wraps why an expression could not be judged.
var ErrUnknown = errors.New("condition cannot be evaluated")

var (
	envOnce sync.Once
	env     *cel.Env
	envErr  error
)

// environment declares request and resource as maps, so that request.time
// and resource.name are field selections as in IAM, and any other attribute
// is a missing key at evaluation.
func environment() (*cel.Env, error) {
	envOnce.Do(func() {
		env, envErr = cel.NewEnv(
			cel.Variable("request", cel.MapType(cel.StringType, cel.DynType)),
			cel.Variable("resource", cel.MapType(cel.StringType, cel.DynType)),
		)
	})
	return env, envErr
}

// Eval evaluates expression against attrs. Unknown comes with an error
// wrapping ErrUnknown that says why.
func Eval(expression string, attrs Attributes) (Result, error) {
	e, err := environment()
	if err != nil {
		return Unknown, fmt.Errorf("%w: %v", ErrUnknown, err)
	}
	ast, iss := e.Compile(expression)
	if iss != nil && iss.Err() != nil {
		return Unknown, fmt.Errorf("%w: %v", ErrUnknown, iss.Err())
	}
	if !ast.OutputType().IsAssignableType(cel.BoolType) {
		return Unknown, fmt.Errorf("%w: the expression is of type %s, not bool", ErrUnknown, ast.OutputType())
	}
	prg, err := e.Program(ast)
	if err != nil {
		return Unknown, fmt.Errorf("%w: %v", ErrUnknown, err)
	}
	out, _, err := prg.Eval(map[string]any{
		"request": map[string]any{"time": attrs.Time.UTC()},
		"resource": map[string]any{
			"name":    attrs.ResourceName,
			"type":    attrs.ResourceType,
			"service": attrs.ResourceService,
		},
	})
	if err != nil {
		return Unknown, fmt.Errorf("%w: %v", ErrUnknown, err)
	}
	b, ok := out.Value().(bool)
	if !ok {
		return Unknown, fmt.Errorf("%w: the expression gave %v, not a bool", ErrUnknown, out.Value())
	}
	if b {
		return True, nil
	}
	return False, nil
}
