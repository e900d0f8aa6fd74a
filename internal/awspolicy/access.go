package awspolicy

import (
	"maps"
	"slices"
	"strings"
)

// Access evaluation: may one IAM principal of an account perform an action
// on a resource of the same account, given the resource's policy and the
// principal's identity policies? This is separate from Evaluate, which
// judges trust policies, and shares only the condition code with it.
//
// The rules, from
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
// (same-account requests, no permissions boundary, session policy or SCP):
//
//   - an explicit Deny in any policy wins;
//   - otherwise an Allow in the identity policies or in the resource policy
//     allows;
//   - otherwise the request is implicitly denied.
//
// A statement applies when its principal (resource policies only), action,
// resource and conditions all match. An account as principal (its ID or
// arn:aws:iam::ACCOUNT:root) in an Allow does not itself allow the account's
// roles: it delegates to their identity policies
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-accounts);
// AccessDecision.Delegated says that it matched. In a Deny, the account
// stands for every principal of it.

// AccessRequest is one request of an IAM role (or a session of it, which
// resource and identity policies see as the role through aws:PrincipalArn).
type AccessRequest struct {
	PrincipalARN string // the role's ARN
	Account      string // the principal's account, also the resource's
	Action       string
	Resource     string
	// Context holds further condition keys; aws:PrincipalArn and
	// aws:PrincipalAccount are set from PrincipalARN and Account. A key
	// outside it is unknown, so a condition on it cannot be judged.
	Context map[string][]string
}

// NamedPolicy is one policy taking part, named for messages (for example
// "inline policy reader of role task-a" or "the secret's resource policy").
type NamedPolicy struct {
	Name     string
	Resource bool // a resource policy: its statements name principals
	Doc      *Document
}

// StatementRef names one statement of one policy.
type StatementRef struct {
	Policy string
	Index  int
	Sid    string
}

func (s StatementRef) String() string { return statementLabel(s.Index, s.Sid) + " of " + s.Policy }

// AccessDecision is the outcome of EvaluateAccess.
type AccessDecision struct {
	Verdict Verdict
	// Deny is the first explicit Deny that matched, if any.
	Deny *StatementRef
	// ResourceAllows and IdentityAllows are the Allow statements that
	// matched, in resource and identity policies.
	ResourceAllows, IdentityAllows []StatementRef
	// Delegated: a resource-policy Allow naming the principal's account
	// matched, delegating to the identity policies.
	Delegated bool
	// Unjudged says which statements could not be judged, and why, when
	// the verdict depends on them.
	Unjudged []string
}

// Allowed reports whether the verdict is VerdictAllowed.
func (d AccessDecision) Allowed() bool { return d.Verdict == VerdictAllowed }

// EvaluateAccess judges req against the policies.
func EvaluateAccess(policies []NamedPolicy, req AccessRequest) AccessDecision {
	ctx := maps.Clone(req.Context)
	if ctx == nil {
		ctx = map[string][]string{}
	}
	ctx["aws:PrincipalArn"] = []string{req.PrincipalARN}
	ctx["aws:PrincipalAccount"] = []string{req.Account}
	var t accessTally
	for _, p := range policies {
		if p.Doc == nil {
			continue
		}
		env := newRequestEnv(p.Doc, WebIdentityRequest{Context: ctx})
		for i, st := range p.Doc.Statements {
			m, delegates, why := judgeAccess(st, p.Resource, req, env)
			t.add(StatementRef{Policy: p.Name, Index: i, Sid: st.Sid}, st.Effect == "Deny", p.Resource, m, delegates, why)
		}
	}
	return t.decision()
}

// accessTally collects how the statements fared.
type accessTally struct {
	d                     AccessDecision
	maybeAllow, maybeDeny []string
}

func (t *accessTally) add(ref StatementRef, deny, resource bool, m tri, delegates bool, why string) {
	switch {
	case m == triFalse:
	case m == triUnknown && deny:
		t.maybeDeny = append(t.maybeDeny, ref.String()+": "+why)
	case m == triUnknown:
		t.maybeAllow = append(t.maybeAllow, ref.String()+": "+why)
	case deny:
		if t.d.Deny == nil {
			t.d.Deny = &ref
		}
	case delegates:
		t.d.Delegated = true
	case resource:
		t.d.ResourceAllows = append(t.d.ResourceAllows, ref)
	default:
		t.d.IdentityAllows = append(t.d.IdentityAllows, ref)
	}
}

func (t *accessTally) decision() AccessDecision {
	d := t.d
	allowed := len(d.ResourceAllows)+len(d.IdentityAllows) > 0
	switch {
	case d.Deny != nil:
		d.Verdict = VerdictDenied
	case allowed && len(t.maybeDeny) > 0:
		d.Verdict, d.Unjudged = VerdictUnknown, t.maybeDeny
	case allowed:
		d.Verdict = VerdictAllowed
	case len(t.maybeAllow) > 0:
		d.Verdict, d.Unjudged = VerdictUnknown, t.maybeAllow
	default:
		d.Verdict = VerdictDenied
	}
	return d
}

// judgeAccess is whether one statement applies to req, whether it applies
// only by naming the principal's account (an Allow that delegates), and,
// when unknown, why.
func judgeAccess(st Statement, resource bool, req AccessRequest, env *requestEnv) (tri, bool, string) {
	delegates := false
	if resource {
		named, byAccount := awsPrincipalNamed(st.Principal, req)
		if len(st.NotPrincipal) > 0 {
			n, a := awsPrincipalNamed(st.NotPrincipal, req)
			named, byAccount = !n && !a, false
		}
		if !named && !byAccount {
			return triFalse, false, ""
		}
		// In a Deny the account stands for all its principals.
		delegates = !named && st.Effect == "Allow"
	}
	// A resource policy's statement without Resource is about the
	// resource it is attached to.
	resourceMatch := resource && len(st.Resource)+len(st.NotResource) == 0 ||
		listedOrNot(st.Resource, st.NotResource, req.Resource, resourceListed)
	if !resourceMatch || !listedOrNot(st.Action, st.NotAction, req.Action, actionListed) {
		return triFalse, false, ""
	}
	m := triTrue
	var why string
	for _, opName := range slices.Sorted(maps.Keys(st.Condition)) {
		op := parseOperator(opName)
		for _, key := range sortedConditionKeys(st.Condition[opName]) {
			res, w := env.judge(op, key, st.Condition[opName][key])
			if res == triUnknown && why == "" {
				why = strings.TrimSuffix(w, "; STS decides") + "; AWS decides"
			}
			m = triAnd(m, res)
		}
	}
	return m, delegates, why
}

// awsPrincipalNamed reports whether a Principal element names the request's
// principal itself (everyone, or its ARN), or only its account.
func awsPrincipalNamed(m map[string][]string, req AccessRequest) (named, byAccount bool) {
	if slices.Contains(m["*"], "*") {
		return true, false
	}
	for _, p := range m["AWS"] {
		switch {
		case p == "*" || p == req.PrincipalARN:
			named = true
		case p == req.Account || strings.HasPrefix(p, "arn:") && strings.HasSuffix(p, ":iam::"+req.Account+":root"):
			byAccount = true
		}
	}
	return named, byAccount
}

// listedOrNot matches v against an element or its Not form; a statement
// with neither matches nothing.
func listedOrNot(list, notList []string, v string, listed func([]string, string) bool) bool {
	switch {
	case len(list) > 0:
		return listed(list, v)
	case len(notList) > 0:
		return !listed(notList, v)
	}
	return false
}

// resourceListed matches an ARN against patterns with * and ? wildcards,
// case-sensitively, as IAM matches the Resource element
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html).
func resourceListed(patterns []string, arn string) bool {
	for _, p := range patterns {
		if globMatchText(p, arn) {
			return true
		}
	}
	return false
}

// Explain says, in one line, what decided.
func (d AccessDecision) Explain() string {
	switch {
	case d.Deny != nil:
		return "denied explicitly by " + d.Deny.String()
	case d.Verdict == VerdictUnknown:
		return "cannot be judged: " + strings.Join(d.Unjudged, "; ")
	case d.Allowed():
		return "allowed by " + joinRefs(append(slices.Clone(d.ResourceAllows), d.IdentityAllows...))
	}
	return "implicitly denied: no statement of the resource policy or the identity policies allows it"
}

func joinRefs(refs []StatementRef) string {
	s := make([]string, len(refs))
	for i, r := range refs {
		s[i] = r.String()
	}
	return strings.Join(s, ", ")
}
