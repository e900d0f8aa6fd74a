package awsiam

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// evalKeyGoogleEmail carries the token's email claim. AWS provides no such
// condition key; GoogleRequest sets it for information.
const evalKeyGoogleEmail = "accounts.google.com:email"

// evalResourceName is the resource of this provider that writes Google trust
// policies, named in suggestions.
const evalResourceName = "airflowiam_web_identity_role"

// WebIdentityRequest is a web-identity AssumeRole request, as a trust policy
// sees it.
type WebIdentityRequest struct {
	Provider string              // federated principal, e.g. "accounts.google.com"
	Action   string              // usually ActionAssumeRoleWithWebIdentity; empty means that
	Context  map[string][]string // condition key (any case) -> request values
}

// GoogleRequest builds the request AWS evaluates for a Google ID token with
// the given claims. When the token has an azp claim (all service-account
// tokens do), accounts.google.com:aud holds azp and accounts.google.com:oaud
// holds aud; without azp, accounts.google.com:aud holds aud and there is no
// oaud. accounts.google.com:sub holds sub. The email goes under
// "accounts.google.com:email" for information only: AWS provides no such key.
func GoogleRequest(aud, azp, sub, email string) WebIdentityRequest {
	ctx := map[string][]string{}
	if azp != "" {
		ctx[KeyGoogleAud] = []string{azp}
		if aud != "" {
			ctx[KeyGoogleOaud] = []string{aud}
		}
	} else if aud != "" {
		ctx[KeyGoogleAud] = []string{aud}
	}
	if sub != "" {
		ctx[KeyGoogleSub] = []string{sub}
	}
	if email != "" {
		ctx[evalKeyGoogleEmail] = []string{email}
	}
	return WebIdentityRequest{Provider: GoogleFederatedPrincipal, Action: ActionAssumeRoleWithWebIdentity, Context: ctx}
}

// Decision is the outcome of evaluating a request against a trust policy.
type Decision struct {
	Allowed bool
	// Statement is the index of the deciding statement (the matching Deny,
	// or the matching Allow), -1 for implicit deny.
	Statement int
	Sid       string
	Reason    string // one line
	// Mismatches explain an implicit deny: for each Allow statement whose
	// principal and action matched, the conditions that failed; if no Allow
	// statement matched principal and action, one entry saying so.
	Mismatches []Mismatch
	Fix        string // a concrete suggestion when one is known, else ""
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

// evalResult is how one statement fared.
type evalResult struct {
	principal   bool
	action      bool
	conditions  int // number of condition keys
	failures    []Mismatch
	fixes       []string
	unsupported []string // operators the evaluator does not support
}

func (r evalResult) matches() bool {
	return r.principal && r.action && len(r.failures) == 0
}

// Evaluate decides whether the trust policy p lets req assume the role: a
// matching Deny wins, otherwise a matching Allow allows, otherwise the
// request is implicitly denied. A statement matches when its principal, its
// action and all its conditions match. Conditions with operators the
// evaluator does not support never match.
func Evaluate(p *PolicyDocument, req WebIdentityRequest) Decision {
	if req.Action == "" {
		req.Action = ActionAssumeRoleWithWebIdentity
	}
	if p == nil || len(p.Statements) == 0 {
		return Decision{
			Statement: -1,
			Reason:    "implicit deny: the policy has no statements",
			Mismatches: []Mismatch{{
				Statement: -1, Key: "Statement",
				Note: "the policy has no statements, so nothing is allowed",
			}},
			Fix: evalTrustFix(req),
		}
	}

	ctx := make(map[string][]string, len(req.Context))
	for k, v := range req.Context {
		lk := strings.ToLower(k)
		ctx[lk] = append(ctx[lk], v...)
	}

	results := make([]evalResult, len(p.Statements))
	for i, st := range p.Statements {
		results[i] = evalStatement(i, st, req, ctx)
	}

	for i, st := range p.Statements {
		if st.Effect == "Deny" && results[i].matches() {
			label := evalLabel(i, st.Sid)
			return Decision{
				Statement: i,
				Sid:       st.Sid,
				Reason:    fmt.Sprintf("%s denies: it is an explicit Deny and its %s", label, evalSummary(results[i])),
				Fix:       fmt.Sprintf("remove or narrow Deny %s: an explicit Deny overrides every Allow", label),
			}
		}
	}

	for i, st := range p.Statements {
		if st.Effect == "Allow" && results[i].matches() {
			reason := fmt.Sprintf("%s allows: %s", evalLabel(i, st.Sid), evalSummary(results[i]))
			for j, dst := range p.Statements {
				r := results[j]
				if dst.Effect == "Deny" && r.principal && r.action && len(r.unsupported) > 0 {
					reason += fmt.Sprintf("; caution: Deny %s uses %s, which the evaluator does not support, so it was treated as not matching and AWS may still deny",
						evalLabel(j, dst.Sid), strings.Join(r.unsupported, ", "))
				}
			}
			return Decision{Allowed: true, Statement: i, Sid: st.Sid, Reason: reason}
		}
	}

	return evalImplicitDeny(p, req, results)
}

func evalImplicitDeny(p *PolicyDocument, req WebIdentityRequest, results []evalResult) Decision {
	d := Decision{Statement: -1}
	var allows, trusting, candidates []int
	for i, st := range p.Statements {
		if st.Effect != "Allow" {
			continue
		}
		allows = append(allows, i)
		if results[i].principal {
			trusting = append(trusting, i)
			if results[i].action {
				candidates = append(candidates, i)
			}
		}
	}
	only := -1
	if len(allows) == 1 {
		only = allows[0]
	}

	switch {
	case len(candidates) > 0:
		var fixes []string
		for _, i := range candidates {
			d.Mismatches = append(d.Mismatches, results[i].failures...)
			for _, f := range results[i].fixes {
				if !evalContains(fixes, f) {
					fixes = append(fixes, f)
				}
			}
		}
		d.Fix = strings.Join(fixes, "; also, ")
		if len(candidates) == 1 {
			i := candidates[0]
			r := results[i]
			failing := "its condition fails"
			if r.conditions != 1 {
				failing = fmt.Sprintf("%d of its %d conditions %s", len(r.failures), r.conditions, evalVerb(len(r.failures), "fails", "fail"))
			}
			d.Reason = fmt.Sprintf("implicit deny: %s trusts %s for %s, but %s",
				evalLabel(i, p.Statements[i].Sid), req.Provider, req.Action, failing)
		} else {
			d.Reason = fmt.Sprintf("implicit deny: %d Allow statements trust %s for %s, but each has a failing condition",
				len(candidates), req.Provider, req.Action)
		}

	case len(allows) == 0:
		d.Reason = "implicit deny: the policy has no Allow statement"
		d.Mismatches = []Mismatch{{
			Statement: -1, Key: "Effect", Expected: []string{"Allow"},
			Note: "the policy has only Deny statements, so nothing is allowed",
		}}
		d.Fix = evalTrustFix(req)

	case len(trusting) > 0:
		var expected []string
		for _, i := range trusting {
			st := p.Statements[i]
			expected = append(expected, st.Action...)
			for _, a := range st.NotAction {
				expected = append(expected, "NotAction "+a)
			}
		}
		st := -1
		if len(trusting) == 1 {
			st = trusting[0]
		}
		d.Reason = fmt.Sprintf("implicit deny: no Allow statement allows %s for %s", req.Action, req.Provider)
		d.Mismatches = []Mismatch{{
			Statement: st, Key: "Action", Expected: polUniqueSorted(expected), Actual: []string{req.Action},
			Note: fmt.Sprintf("the statements that trust %s do not allow %s", req.Provider, req.Action),
		}}
		d.Fix = fmt.Sprintf("add %s to the Action of the statement that trusts %s", req.Action, req.Provider)

	default:
		var expected []string
		for _, i := range allows {
			expected = append(expected, evalPrincipalNames(p.Statements[i])...)
		}
		expected = polUniqueSorted(expected)
		d.Reason = fmt.Sprintf("implicit deny: the role does not trust %s", req.Provider)
		d.Mismatches = []Mismatch{{
			Statement: only, Key: "Principal", Expected: expected, Actual: []string{"Federated:" + req.Provider},
			Note: fmt.Sprintf("the role does not trust %s: its Allow statements trust %s", req.Provider, evalList(expected)),
		}}
		d.Fix = evalTrustFix(req)
	}
	return d
}

// evalTrustFix suggests trusting the request's provider.
func evalTrustFix(req WebIdentityRequest) string {
	fix := fmt.Sprintf("the trust policy needs an Allow statement with Principal {\"Federated\": %q} and Action %s", req.Provider, req.Action)
	if req.Provider == GoogleFederatedPrincipal {
		fix += fmt.Sprintf(" (the %s resource writes one for a Google service account)", evalResourceName)
	}
	return fix + ", or the token must come from the identity provider the role trusts"
}

// evalPrincipalNames lists a statement's principals as "Type:value".
func evalPrincipalNames(st Statement) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(st.Principal)) {
		for _, v := range st.Principal[k] {
			if k == "*" {
				out = append(out, "*")
			} else {
				out = append(out, k+":"+v)
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(st.NotPrincipal)) {
		for _, v := range st.NotPrincipal[k] {
			out = append(out, "everyone but "+k+":"+v)
		}
	}
	if len(out) == 0 {
		out = append(out, "no principal")
	}
	return out
}

func evalStatement(idx int, st Statement, req WebIdentityRequest, ctx map[string][]string) evalResult {
	var r evalResult
	switch {
	case len(st.Principal) > 0:
		r.principal = evalPrincipalListed(st.Principal, req.Provider)
	case len(st.NotPrincipal) > 0:
		r.principal = !evalPrincipalListed(st.NotPrincipal, req.Provider)
	}
	switch {
	case len(st.Action) > 0:
		r.action = evalActionListed(st.Action, req.Action)
	case len(st.NotAction) > 0:
		r.action = !evalActionListed(st.NotAction, req.Action)
	}

	for _, op := range slices.Sorted(maps.Keys(st.Condition)) {
		set, base, ifExists, supported := evalParseOperator(op)
		block := st.Condition[op]
		if !supported {
			r.unsupported = append(r.unsupported, op)
			if len(block) == 0 {
				r.failures = append(r.failures, Mismatch{
					Statement: idx, Operator: op,
					Note: fmt.Sprintf("the operator %s is not supported by the evaluator, so the statement is treated as not matching", op),
				})
			}
		}
		for _, key := range polConditionKeys(block) {
			r.conditions++
			expected := block[key]
			actual := ctx[strings.ToLower(key)]
			if len(actual) == 0 {
				actual = nil
			}
			if !supported {
				r.failures = append(r.failures, Mismatch{
					Statement: idx, Operator: op, Key: key, Expected: expected, Actual: actual,
					Note: fmt.Sprintf("the operator %s is not supported by the evaluator, so the statement is treated as not matching; AWS may decide differently", op),
				})
				continue
			}
			if evalCondition(set, base, ifExists, expected, actual) {
				continue
			}
			note, fix := evalExplainFailure(set, base, key, expected, actual)
			r.failures = append(r.failures, Mismatch{
				Statement: idx, Operator: op, Key: key, Expected: expected, Actual: actual, Note: note,
			})
			if fix != "" && !evalContains(r.fixes, fix) {
				r.fixes = append(r.fixes, fix)
			}
		}
	}
	return r
}

func evalPrincipalListed(m map[string][]string, provider string) bool {
	if evalContains(m["*"], "*") || evalContains(m["AWS"], "*") {
		return true
	}
	return evalContains(m["Federated"], provider)
}

// evalActionListed matches an action against patterns, case-insensitively,
// with * and ? wildcards.
func evalActionListed(patterns []string, action string) bool {
	a := strings.ToLower(action)
	for _, p := range patterns {
		if evalGlob(strings.ToLower(p), a) {
			return true
		}
	}
	return false
}

var evalSupportedOperators = map[string]bool{
	"StringEquals":              true,
	"StringNotEquals":           true,
	"StringEqualsIgnoreCase":    true,
	"StringNotEqualsIgnoreCase": true,
	"StringLike":                true,
	"StringNotLike":             true,
}

// evalParseOperator splits e.g. "ForAnyValue:StringLikeIfExists" into its
// set qualifier, base operator and IfExists suffix. Operator names are
// case-sensitive.
func evalParseOperator(op string) (set, base string, ifExists, supported bool) {
	base = op
	for _, q := range []string{"ForAnyValue", "ForAllValues"} {
		if strings.HasPrefix(base, q+":") {
			set = q
			base = strings.TrimPrefix(base, q+":")
			break
		}
	}
	if strings.HasSuffix(base, "IfExists") {
		ifExists = true
		base = strings.TrimSuffix(base, "IfExists")
	}
	return set, base, ifExists, evalSupportedOperators[base]
}

func evalNegated(base string) bool { return strings.HasPrefix(base, "StringNot") }

// evalCondition evaluates one condition key. actual is nil when the request
// lacks the key.
func evalCondition(set, base string, ifExists bool, expected, actual []string) bool {
	negated := evalNegated(base)
	if len(actual) == 0 {
		switch set {
		case "ForAllValues":
			return true
		case "ForAnyValue":
			return ifExists
		default:
			return ifExists || negated
		}
	}
	// ok reports whether one request value satisfies the operator.
	ok := func(v string) bool {
		hit := false
		for _, e := range expected {
			if evalCompare(base, v, e) {
				hit = true
				break
			}
		}
		return hit != negated
	}
	switch {
	case set == "ForAllValues" || (set == "" && negated):
		for _, v := range actual {
			if !ok(v) {
				return false
			}
		}
		return true
	default: // ForAnyValue, or a plain positive operator
		for _, v := range actual {
			if ok(v) {
				return true
			}
		}
		return false
	}
}

// evalCompare applies the positive form of base to a request value and a
// policy value.
func evalCompare(base, v, e string) bool {
	switch base {
	case "StringEquals", "StringNotEquals":
		return v == e
	case "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase":
		return strings.EqualFold(v, e)
	case "StringLike", "StringNotLike":
		return evalGlob(e, v)
	}
	return false
}

// evalGlob matches s against pattern, where * matches any run of characters
// and ? any single character.
func evalGlob(pattern, s string) bool {
	p, r := []rune(pattern), []rune(s)
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(r) {
		switch {
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case pi < len(p) && (p[pi] == '?' || p[pi] == r[si]):
			pi++
			si++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// evalExplainFailure says why a supported condition failed and, when it
// can, what would fix it.
func evalExplainFailure(set, base, key string, expected, actual []string) (note, fix string) {
	negated := evalNegated(base)
	lkey := strings.ToLower(key)

	if !negated && set != "ForAllValues" {
		switch lkey {
		case KeyGoogleAud:
			return evalExplainAud(expected, actual)
		case KeyGoogleOaud:
			if len(actual) == 0 {
				return "the request has no accounts.google.com:oaud value: AWS provides it only for tokens with an azp claim (service-account tokens have one)",
					"use an ID token minted for the service account (it has an azp claim)"
			}
			return fmt.Sprintf("the audience the token was requested for (its aud claim, %s) differs from the audience the role expects (%s)", evalList(actual), evalList(expected)),
				fmt.Sprintf("request the ID token for the audience the role expects (%s), or change the role's audience to %s", evalList(expected), evalList(actual))
		case KeyGoogleSub:
			if len(actual) == 0 {
				return "the request has no accounts.google.com:sub value (the token has no sub claim)", ""
			}
			if evalAllEmails(expected) {
				return fmt.Sprintf("accounts.google.com:sub lists an email, but the token's sub claim is always the service account's numeric unique ID (%s)", evalList(actual)),
					fmt.Sprintf("put the unique ID %s in accounts.google.com:sub", actual[0])
			}
			return fmt.Sprintf("the token's sub %s (the numeric unique ID of the service account it was minted for) is not the one the role trusts (%s): the token belongs to a different service account", evalList(actual), evalList(expected)),
				evalOtherAccountFix
		}
	}

	switch {
	case len(actual) == 0:
		return fmt.Sprintf("the request has no value for %s", key), ""
	case set == "ForAllValues":
		for _, v := range actual {
			if !evalCondition("", base, false, expected, []string{v}) {
				return fmt.Sprintf("with ForAllValues every request value must satisfy %s, but %q does not", base, v), ""
			}
		}
		return "not every request value satisfies the condition", ""
	case negated:
		return fmt.Sprintf("the request value %s is one the policy excludes with %s", evalList(actual), base), ""
	default:
		return fmt.Sprintf("no request value satisfies %s %s", base, evalList(expected)), ""
	}
}

// evalOtherAccountFix is the fix for a token of another service account.
const evalOtherAccountFix = "use a token of the service account the role trusts, or make the role trust this service account (its unique ID in accounts.google.com:sub, its unique ID and email in accounts.google.com:aud)"

// evalExplainAud explains an accounts.google.com:aud mismatch, which
// compares the token's azp claim.
func evalExplainAud(expected, actual []string) (note, fix string) {
	if len(actual) == 0 {
		return "the request has no accounts.google.com:aud value (the token has neither an azp nor an aud claim)", ""
	}
	azp := actual[0]
	switch {
	case evalAllEmails(expected) && evalNumeric(azp):
		return fmt.Sprintf("the policy lists the service account's email (%s), but the token's azp claim is the numeric unique ID %s (tokens from the metadata server or the IAM Credentials API carry the unique ID): add the unique ID to accounts.google.com:aud", evalList(expected), azp),
			fmt.Sprintf("put the service account's unique ID %s (the token's azp) in accounts.google.com:aud; the %s resource trusts both the unique ID and the email", azp, evalResourceName)
	case evalAllNumeric(expected) && strings.Contains(azp, "@"):
		return fmt.Sprintf("the policy lists the numeric unique ID (%s), but the token's azp claim is the email %s (tokens minted from a service-account key file carry the email): add the email to accounts.google.com:aud", evalList(expected), azp),
			fmt.Sprintf("put the service account's email %s (the token's azp) in accounts.google.com:aud, or mint the token through the metadata server or the IAM Credentials API; the %s resource trusts both the unique ID and the email", azp, evalResourceName)
	default:
		return fmt.Sprintf("the token's azp claim %s (the service account the token was minted for) is not among the values the role trusts (%s): the token belongs to a different service account", evalList(actual), evalList(expected)),
			evalOtherAccountFix
	}
}

func evalAllEmails(vals []string) bool {
	if len(vals) == 0 {
		return false
	}
	for _, v := range vals {
		if !strings.Contains(v, "@") {
			return false
		}
	}
	return true
}

func evalAllNumeric(vals []string) bool {
	if len(vals) == 0 {
		return false
	}
	for _, v := range vals {
		if !evalNumeric(v) {
			return false
		}
	}
	return true
}

func evalNumeric(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func evalContains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func evalLabel(i int, sid string) string {
	if sid == "" {
		return fmt.Sprintf("statement %d", i)
	}
	return fmt.Sprintf("statement %d (Sid %q)", i, sid)
}

func evalSummary(r evalResult) string {
	if r.conditions == 0 {
		return "principal and action match (no conditions)"
	}
	return fmt.Sprintf("principal, action and %s match", evalPlural(r.conditions, "condition"))
}

func evalPlural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func evalVerb(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// evalList renders values as a JSON-style list of strings.
func evalList(vals []string) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = polQuote(v)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// Explain renders the decision for people: the decision and its reason, the
// deciding statement, each mismatch with its note, and the fix.
func (d Decision) Explain() string {
	var b strings.Builder
	if d.Allowed {
		b.WriteString("ALLOWED: ")
	} else {
		b.WriteString("DENIED: ")
	}
	b.WriteString(d.Reason)
	b.WriteByte('\n')
	if d.Statement >= 0 {
		fmt.Fprintf(&b, "deciding statement: %s\n", evalLabel(d.Statement, d.Sid))
	} else {
		b.WriteString("deciding statement: none (implicit deny)\n")
	}
	if len(d.Mismatches) > 0 {
		b.WriteString("mismatches:\n")
	}
	for _, m := range d.Mismatches {
		where := "policy"
		if m.Statement >= 0 {
			where = fmt.Sprintf("statement %d", m.Statement)
		}
		what := m.Key
		if m.Operator != "" {
			what = m.Operator + " " + m.Key
		}
		has := "nothing"
		if len(m.Actual) > 0 {
			has = evalList(m.Actual)
		}
		fmt.Fprintf(&b, "  - %s: %s: expected %s, token has %s\n", where, what, evalList(m.Expected), has)
		if m.Note != "" {
			fmt.Fprintf(&b, "    note: %s\n", m.Note)
		}
	}
	if d.Fix != "" {
		fmt.Fprintf(&b, "fix: %s\n", d.Fix)
	}
	return strings.TrimSuffix(b.String(), "\n")
}
