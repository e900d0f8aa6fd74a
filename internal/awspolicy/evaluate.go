package awspolicy

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Verdict is what the evaluator concludes.
type Verdict string

// The verdicts.
const (
	VerdictAllowed Verdict = "allowed"
	VerdictDenied  Verdict = "denied"
	// VerdictUnknown: the outcome depends on something the evaluator cannot
	// know or does not understand; STS decides.
	VerdictUnknown Verdict = "unknown"
)

// Decision is the outcome of evaluating a request against a trust policy.
type Decision struct {
	Verdict Verdict
	Allowed bool // Verdict == VerdictAllowed
	// Statement is the index of the deciding statement (the matching Deny,
	// or the matching Allow), -1 for implicit deny and for an unknown
	// verdict.
	Statement int
	Sid       string
	Reason    string // one line
	// Mismatches explain an implicit deny: for each Allow statement whose
	// principal and action matched, the conditions that failed; if no Allow
	// statement matched principal and action, one entry saying so.
	Mismatches []Mismatch
	Fix        string // a concrete suggestion when one is known, else ""
	// Unjudged lists what could not be judged, each as "cannot judge ...;
	// STS decides": for an unknown verdict, what it depends on; for an
	// implicit deny, Deny statements that might also apply (the request is
	// denied either way, explicitly or implicitly).
	Unjudged []string
}

// Mismatch is one reason a statement did not match. Statement is -1 when the
// entry is about the policy as a whole.
type Mismatch struct {
	Statement int
	Operator  string   // e.g. "StringEquals"; "" for Principal, Action and Effect entries
	Key       string   // as written in the policy, or "Principal", "Action", "Effect"
	Expected  []string // policy values
	Actual    []string // request values (nil when absent)
	Note      string
}

// statementResult is how one statement fared.
type statementResult struct {
	principal  bool
	action     bool
	cond       tri // all conditions together
	conditions int // number of condition keys
	failures   []Mismatch
	fixes      []string
	unjudged   []string // why cond is unknown
}

// match is the statement's match in three values.
func (r statementResult) match() tri {
	if !r.principal || !r.action {
		return triFalse
	}
	return r.cond
}

func (r statementResult) matches() bool { return r.match() == triTrue }

// Evaluate decides whether the trust policy p lets req assume the role: a
// matching Deny wins, otherwise a matching Allow allows, otherwise the
// request is implicitly denied. A statement matches when its principal, its
// action and all its conditions match; conditions of one operator and
// several keys, and of several operators, must all hold, while the values
// of one key are alternatives (none may match for a negated operator)
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-logic-multiple-context-keys-or-values.html).
//
// When a condition cannot be judged (an unknown operator, a key only AWS
// knows at request time) and the outcome depends on it, the verdict is
// VerdictUnknown; when the outcome is the same either way, it is decided.
func Evaluate(p *Document, req WebIdentityRequest) Decision {
	if req.Action == "" {
		req.Action = ActionAssumeRoleWithWebIdentity
	}
	if p == nil || len(p.Statements) == 0 {
		return noStatementsDecision(req)
	}

	env := newRequestEnv(p, req)
	results := make([]statementResult, len(p.Statements))
	for i, st := range p.Statements {
		results[i] = judgeStatement(i, st, req, env)
	}

	if d, denied := explicitDeny(p, results); denied {
		return d
	}
	o := sortStatements(p, results)
	switch {
	case o.allow >= 0 && len(o.maybeDeny) == 0:
		st := p.Statements[o.allow]
		return Decision{Verdict: VerdictAllowed, Allowed: true, Statement: o.allow, Sid: st.Sid,
			Reason: fmt.Sprintf("%s allows: %s", statementLabel(o.allow, st.Sid), matchSummary(results[o.allow]))}
	case o.allow >= 0:
		d := unknownDecision(p, results, o.maybeDeny)
		d.Reason = fmt.Sprintf("cannot judge whether %s applies: %s allows, but the Deny may override it; STS decides",
			statementLabels(p, o.maybeDeny, "Deny "), statementLabel(o.allow, p.Statements[o.allow].Sid))
		return d
	case len(o.maybeAllow) > 0:
		d := unknownDecision(p, results, append(o.maybeAllow, o.maybeDeny...))
		first := results[o.maybeAllow[0]].unjudged[0]
		d.Reason = fmt.Sprintf("cannot judge whether %s allows: %s",
			statementLabels(p, o.maybeAllow, ""), strings.TrimPrefix(first, "cannot judge "))
		return d
	}
	// No Allow can match: the request is denied whatever the Deny
	// statements that could not be judged would do.
	d := implicitDeny(p, req, results)
	if len(o.maybeDeny) > 0 {
		d.Unjudged = unknownDecision(p, results, o.maybeDeny).Unjudged
	}
	return d
}

// noStatementsDecision is the implicit deny of a policy without
// statements.
func noStatementsDecision(req WebIdentityRequest) Decision {
	return Decision{
		Verdict:   VerdictDenied,
		Statement: -1,
		Reason:    "implicit deny: the policy has no statements",
		Mismatches: []Mismatch{{
			Statement: -1, Key: "Statement",
			Note: "the policy has no statements, so nothing is allowed",
		}},
		Fix: trustFix(req),
	}
}

// newRequestEnv is the request as the conditions of p see it.
func newRequestEnv(p *Document, req WebIdentityRequest) *requestEnv {
	env := &requestEnv{
		ctx:      make(map[string][]string, len(req.Context)),
		provider: req.Provider,
		complete: req.ContextComplete,
		// Policy variables exist only in Version 2012-10-17; in older
		// documents ${...} is plain text.
		variables: p.Version == versionCurrent,
	}
	for k, v := range req.Context {
		lk := strings.ToLower(k)
		env.ctx[lk] = append(env.ctx[lk], v...)
	}
	return env
}

// explicitDeny is the decision of the first Deny statement that matches,
// if one does.
func explicitDeny(p *Document, results []statementResult) (Decision, bool) {
	for i, st := range p.Statements {
		if st.Effect != "Deny" || !results[i].matches() {
			continue
		}
		label := statementLabel(i, st.Sid)
		return Decision{
			Verdict:   VerdictDenied,
			Statement: i,
			Sid:       st.Sid,
			Reason:    fmt.Sprintf("%s denies: it is an explicit Deny and its %s", label, matchSummary(results[i])),
			Fix:       fmt.Sprintf("remove or narrow Deny %s: an explicit Deny overrides every Allow", label),
		}, true
	}
	return Decision{}, false
}

// standing sorts the statements that no matching Deny overrides: the
// first Allow that matches, and the Allow and Deny statements that might
// match but could not be judged.
type standing struct {
	allow                 int // -1 when no Allow matches
	maybeAllow, maybeDeny []int
}

func sortStatements(p *Document, results []statementResult) standing {
	s := standing{allow: -1}
	for i, st := range p.Statements {
		switch m := results[i].match(); {
		case st.Effect == "Deny" && m == triUnknown:
			s.maybeDeny = append(s.maybeDeny, i)
		case st.Effect == "Allow" && m == triTrue && s.allow < 0:
			s.allow = i
		case st.Effect == "Allow" && m == triUnknown:
			s.maybeAllow = append(s.maybeAllow, i)
		}
	}
	return s
}

// unknownDecision is the decision when statements could not be judged.
func unknownDecision(p *Document, results []statementResult, stmts []int) Decision {
	d := Decision{Verdict: VerdictUnknown, Statement: -1}
	for _, i := range stmts {
		for _, u := range results[i].unjudged {
			u = statementLabel(i, p.Statements[i].Sid) + ": " + u
			if !slices.Contains(d.Unjudged, u) {
				d.Unjudged = append(d.Unjudged, u)
			}
		}
	}
	return d
}

// statementLabels names statements, e.g. "Deny statement 1 or statement 2".
func statementLabels(p *Document, stmts []int, prefix string) string {
	labels := make([]string, len(stmts))
	for k, i := range stmts {
		labels[k] = statementLabel(i, p.Statements[i].Sid)
	}
	return prefix + strings.Join(labels, " or ")
}

func judgeStatement(idx int, st Statement, req WebIdentityRequest, env *requestEnv) statementResult {
	r := statementResult{cond: triTrue}
	switch {
	case len(st.Principal) > 0:
		r.principal = principalListed(st.Principal, req.Provider)
	case len(st.NotPrincipal) > 0:
		r.principal = !principalListed(st.NotPrincipal, req.Provider)
	}
	switch {
	case len(st.Action) > 0:
		r.action = actionListed(st.Action, req.Action)
	case len(st.NotAction) > 0:
		r.action = !actionListed(st.NotAction, req.Action)
	}

	for _, opName := range slices.Sorted(maps.Keys(st.Condition)) {
		r.judgeBlock(idx, opName, st.Condition[opName], env)
	}
	return r
}

// judgeBlock judges the keys of one operator's block of conditions and
// records how they fared.
func (r *statementResult) judgeBlock(idx int, opName string, block map[string][]string, env *requestEnv) {
	op := parseOperator(opName)
	if !op.known && len(block) == 0 {
		r.cond = triAnd(r.cond, triUnknown)
		r.unjudged = append(r.unjudged, fmt.Sprintf("cannot judge the condition operator %s, which the evaluator does not know; STS decides", opName))
	}
	for _, key := range sortedConditionKeys(block) {
		r.conditions++
		res, why := env.judge(op, key, block[key])
		r.cond = triAnd(r.cond, res)
		switch res {
		case triUnknown:
			r.unjudged = appendNew(r.unjudged, why)
		case triFalse:
			r.recordFailure(idx, op, key, block[key], env)
		}
	}
}

// recordFailure records a failed condition with its explanation and fix.
func (r *statementResult) recordFailure(idx int, op operator, key string, expected []string, env *requestEnv) {
	actual, _ := env.lookup(key)
	note, fix := explainFailure(op.set, op.base, key, expected, actual)
	r.failures = append(r.failures, Mismatch{
		Statement: idx, Operator: op.name, Key: key, Expected: expected, Actual: actual, Note: note,
	})
	if fix != "" {
		r.fixes = appendNew(r.fixes, fix)
	}
}

// appendNew appends s unless the list holds it already.
func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// principalListed reports whether a Principal (or NotPrincipal) element
// names the provider: everyone ("*", or "*" as AWS) or the provider as
// Federated.
func principalListed(m map[string][]string, provider string) bool {
	if slices.Contains(m["*"], "*") || slices.Contains(m["AWS"], "*") {
		return true
	}
	return slices.Contains(m["Federated"], provider)
}

// actionListed matches an action against patterns, case-insensitively,
// with * and ? wildcards.
func actionListed(patterns []string, action string) bool {
	a := strings.ToLower(action)
	for _, p := range patterns {
		if globMatchText(strings.ToLower(p), a) {
			return true
		}
	}
	return false
}

func statementLabel(i int, sid string) string {
	if sid == "" {
		return fmt.Sprintf("statement %d", i)
	}
	return fmt.Sprintf("statement %d (Sid %q)", i, sid)
}

func matchSummary(r statementResult) string {
	if r.conditions == 0 {
		return "principal and action match (no conditions)"
	}
	return fmt.Sprintf("principal, action and %s match", plural(r.conditions, "condition"))
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func verbFor(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
