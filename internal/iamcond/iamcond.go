// Package iamcond evaluates the CEL expression of an IAM condition the way
// Google's IAM does for the attributes this provider can know: request.time
// always, and resource.name, resource.type and resource.service for the
// services that recognise resource attributes.
//
// References:
//   - Overview of IAM Conditions, the attributes and the CEL subset:
//     https://cloud.google.com/iam/docs/conditions-overview
//   - Attribute reference (request.time and the resource attributes, and
//     the functions that apply to them):
//     https://cloud.google.com/iam/docs/conditions-attribute-reference
//   - Which services and resource types recognise resource attributes
//     ("Other services and resource types do not recognize resource
//     attributes"): https://cloud.google.com/iam/docs/conditions-resource-attributes.
//     iam.googleapis.com is not among them, so a condition on a service
//     account's grant that reads resource.* cannot be judged here.
//   - The CEL language itself: https://github.com/google/cel-spec
//
// An expression that does not compile here (it uses an attribute or a
// function outside that set, such as api.getAttribute or resource.matchTag)
// or that fails at evaluation (an attribute the request does not have) is
// Unknown: the caller decides what an unknown condition means (a fake
// denies, a diagnosis says it cannot judge).
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
	// The resource attributes, "" when the resource's service does not
	// recognise them.
	ResourceName, ResourceType, ResourceService string
}

// ServiceAccount is the attributes of a request on a service account:
// only the time, since IAM's own resources do not recognise resource
// attributes (see the package documentation).
func ServiceAccount(now time.Time) Attributes {
	return Attributes{Time: now}
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

// compiled holds each expression's program, or why it has none: a policy's
// few conditions are evaluated on every permission check.
var compiled sync.Map // expression -> compiledExpr

type compiledExpr struct {
	prg cel.Program
	err error
}

// program compiles expression once; its error wraps ErrUnknown.
func program(expression string) (cel.Program, error) {
	if c, ok := compiled.Load(expression); ok {
		ce, _ := c.(compiledExpr) // only compiledExpr is stored
		return ce.prg, ce.err
	}
	c := compile(expression)
	compiled.Store(expression, c)
	return c.prg, c.err
}

func compile(expression string) compiledExpr {
	e, err := environment()
	if err != nil {
		return compiledExpr{err: fmt.Errorf("%w: %v", ErrUnknown, err)}
	}
	ast, iss := e.Compile(expression)
	if iss != nil && iss.Err() != nil {
		return compiledExpr{err: fmt.Errorf("%w: %v", ErrUnknown, iss.Err())}
	}
	if !ast.OutputType().IsAssignableType(cel.BoolType) {
		return compiledExpr{err: fmt.Errorf("%w: the expression is of type %s, not bool", ErrUnknown, ast.OutputType())}
	}
	prg, err := e.Program(ast)
	if err != nil {
		return compiledExpr{err: fmt.Errorf("%w: %v", ErrUnknown, err)}
	}
	return compiledExpr{prg: prg}
}

// Eval evaluates expression against attrs. Unknown comes with an error
// wrapping ErrUnknown that says why.
func Eval(expression string, attrs Attributes) (Result, error) {
	prg, err := program(expression)
	if err != nil {
		return Unknown, err
	}
	resourceAttrs := map[string]any{}
	for k, v := range map[string]string{"name": attrs.ResourceName, "type": attrs.ResourceType, "service": attrs.ResourceService} {
		if v != "" {
			resourceAttrs[k] = v
		}
	}
	out, _, err := prg.Eval(map[string]any{
		"request":  map[string]any{"time": attrs.Time.UTC()},
		"resource": resourceAttrs,
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
