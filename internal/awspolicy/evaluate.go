package awspolicy

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// keyGoogleEmail carries the token's email claim. AWS provides no such
// condition key; GoogleRequest sets it for information.
const keyGoogleEmail = "accounts.google.com:email"

// roleResourceName is the resource of this provider that writes Google trust
// policies, named in suggestions.
const roleResourceName = "airflowiam_web_identity_role"

// WebIdentityRequest is a web-identity AssumeRole request, as a trust policy
// sees it.
type WebIdentityRequest struct {
	Provider string              // federated principal, e.g. "accounts.google.com"
	Action   string              // usually ActionAssumeRoleWithWebIdentity; empty means that
	Context  map[string][]string // condition key (any case) -> request values
	// ContextComplete says that Context holds every key the request has, so
	// any other key is absent. Otherwise a key outside Context is absent only
	// when it belongs to an identity provider's namespace (AWS derives those
	// from the token); any other key (aws:SourceIp, aws:CurrentTime,
	// aws:PrincipalTag/..., sts:RoleSessionName, ...) is unknown, and
	// conditions on it cannot be judged.
	ContextComplete bool
}

// Keys of the request time. AWS sets them on every request; the evaluator
// knows them only when WithTime supplies them.
const (
	KeyCurrentTime = "aws:CurrentTime"
	KeyEpochTime   = "aws:EpochTime"
)

// WithTime returns the request with aws:CurrentTime and aws:EpochTime set
// to t, for judging Date conditions on them.
func (r WebIdentityRequest) WithTime(t time.Time) WebIdentityRequest {
	ctx := make(map[string][]string, len(r.Context)+2)
	for k, v := range r.Context {
		ctx[k] = v
	}
	ctx[KeyCurrentTime] = []string{t.UTC().Format(time.RFC3339)}
	ctx[KeyEpochTime] = []string{strconv.FormatInt(t.Unix(), 10)}
	r.Context = ctx
	return r
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
		ctx[keyGoogleEmail] = []string{email}
	}
	return WebIdentityRequest{Provider: GoogleFederatedPrincipal, Action: ActionAssumeRoleWithWebIdentity, Context: ctx}
}

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

	results := make([]statementResult, len(p.Statements))
	for i, st := range p.Statements {
		results[i] = judgeStatement(i, st, req, env)
	}

	for i, st := range p.Statements {
		if st.Effect == "Deny" && results[i].matches() {
			label := statementLabel(i, st.Sid)
			return Decision{
				Verdict:   VerdictDenied,
				Statement: i,
				Sid:       st.Sid,
				Reason:    fmt.Sprintf("%s denies: it is an explicit Deny and its %s", label, matchSummary(results[i])),
				Fix:       fmt.Sprintf("remove or narrow Deny %s: an explicit Deny overrides every Allow", label),
			}
		}
	}

	var maybeDeny, maybeAllow []int
	allow := -1
	for i, st := range p.Statements {
		switch m := results[i].match(); {
		case st.Effect == "Deny" && m == triUnknown:
			maybeDeny = append(maybeDeny, i)
		case st.Effect == "Allow" && m == triTrue && allow < 0:
			allow = i
		case st.Effect == "Allow" && m == triUnknown:
			maybeAllow = append(maybeAllow, i)
		}
	}

	switch {
	case allow >= 0 && len(maybeDeny) == 0:
		st := p.Statements[allow]
		return Decision{Verdict: VerdictAllowed, Allowed: true, Statement: allow, Sid: st.Sid,
			Reason: fmt.Sprintf("%s allows: %s", statementLabel(allow, st.Sid), matchSummary(results[allow]))}
	case allow >= 0:
		d := unknownDecision(p, results, maybeDeny)
		d.Reason = fmt.Sprintf("cannot judge whether %s applies: %s allows, but the Deny may override it; STS decides",
			statementLabels(p, maybeDeny, "Deny "), statementLabel(allow, p.Statements[allow].Sid))
		return d
	case len(maybeAllow) > 0:
		d := unknownDecision(p, results, append(maybeAllow, maybeDeny...))
		first := results[maybeAllow[0]].unjudged[0]
		d.Reason = fmt.Sprintf("cannot judge whether %s allows: %s",
			statementLabels(p, maybeAllow, ""), strings.TrimPrefix(first, "cannot judge "))
		return d
	}
	// No Allow can match: the request is denied whatever the Deny
	// statements that could not be judged would do.
	d := implicitDeny(p, req, results)
	if len(maybeDeny) > 0 {
		d.Unjudged = unknownDecision(p, results, maybeDeny).Unjudged
	}
	return d
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

func implicitDeny(p *Document, req WebIdentityRequest, results []statementResult) Decision {
	d := Decision{Verdict: VerdictDenied, Statement: -1}
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
				if !slices.Contains(fixes, f) {
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
				failing = fmt.Sprintf("%d of its %d conditions %s", len(r.failures), r.conditions, verbFor(len(r.failures), "fails", "fail"))
			}
			d.Reason = fmt.Sprintf("implicit deny: %s trusts %s for %s, but %s",
				statementLabel(i, p.Statements[i].Sid), req.Provider, req.Action, failing)
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
		d.Fix = trustFix(req)

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
			Statement: st, Key: "Action", Expected: uniqueSorted(expected), Actual: []string{req.Action},
			Note: fmt.Sprintf("the statements that trust %s do not allow %s", req.Provider, req.Action),
		}}
		d.Fix = fmt.Sprintf("add %s to the Action of the statement that trusts %s", req.Action, req.Provider)

	default:
		var expected []string
		for _, i := range allows {
			expected = append(expected, principalNames(p.Statements[i])...)
		}
		expected = uniqueSorted(expected)
		d.Reason = fmt.Sprintf("implicit deny: the role does not trust %s", req.Provider)
		d.Mismatches = []Mismatch{{
			Statement: only, Key: "Principal", Expected: expected, Actual: []string{"Federated:" + req.Provider},
			Note: fmt.Sprintf("the role does not trust %s: its Allow statements trust %s", req.Provider, quotedList(expected)),
		}}
		d.Fix = trustFix(req)
	}
	return d
}

// trustFix suggests trusting the request's provider.
func trustFix(req WebIdentityRequest) string {
	fix := fmt.Sprintf("the trust policy needs an Allow statement with Principal {\"Federated\": %q} and Action %s", req.Provider, req.Action)
	if req.Provider == GoogleFederatedPrincipal {
		fix += fmt.Sprintf(" (the %s resource writes one for a Google service account)", roleResourceName)
	}
	return fix + ", or the token must come from the identity provider the role trusts"
}

// principalNames lists a statement's principals as "Type:value".
func principalNames(st Statement) []string {
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
		op := parseOperator(opName)
		block := st.Condition[opName]
		if !op.known && len(block) == 0 {
			r.cond = triAnd(r.cond, triUnknown)
			r.unjudged = append(r.unjudged, fmt.Sprintf("cannot judge the condition operator %s, which the evaluator does not know; STS decides", opName))
		}
		for _, key := range sortedConditionKeys(block) {
			r.conditions++
			expected := block[key]
			res, why := env.judge(op, key, expected)
			r.cond = triAnd(r.cond, res)
			switch res {
			case triTrue:
				continue
			case triUnknown:
				if !slices.Contains(r.unjudged, why) {
					r.unjudged = append(r.unjudged, why)
				}
				continue
			}
			actual, _ := env.lookup(key)
			note, fix := explainFailure(op.set, op.base, key, expected, actual)
			r.failures = append(r.failures, Mismatch{
				Statement: idx, Operator: opName, Key: key, Expected: expected, Actual: actual, Note: note,
			})
			if fix != "" && !slices.Contains(r.fixes, fix) {
				r.fixes = append(r.fixes, fix)
			}
		}
	}
	return r
}

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

// explainFailure says why a supported condition failed and, when it
// can, what would fix it.
func explainFailure(set, base, key string, expected, actual []string) (note, fix string) {
	negated := isNegated(base)
	lkey := strings.ToLower(key)
	family := operators[base].family

	if lkey == keyGoogleEmail {
		return "AWS provides no accounts.google.com:email condition key, so a condition on it is judged as if the key were absent",
			"compare the service account's unique ID in accounts.google.com:sub (and accounts.google.com:aud) instead of its email"
	}
	if family == famNull {
		want := "absent"
		for _, v := range expected {
			if b, ok := parseBool(v); ok && !b {
				want = "present"
			}
		}
		have := "absent"
		if len(actual) > 0 {
			have = "present"
		}
		return fmt.Sprintf("Null requires %s to be %s, but it is %s in the request", key, want, have), ""
	}

	if !negated && set != "ForAllValues" && family == famString {
		switch lkey {
		case KeyGoogleAud:
			return explainAud(expected, actual)
		case KeyGoogleOaud:
			if len(actual) == 0 {
				return "the request has no accounts.google.com:oaud value: AWS provides it only for tokens with an azp claim (service-account tokens have one)",
					"use an ID token minted for the service account (it has an azp claim)"
			}
			return fmt.Sprintf("the audience the token was requested for (its aud claim, %s) differs from the audience the role expects (%s)", quotedList(actual), quotedList(expected)),
				fmt.Sprintf("request the ID token for the audience the role expects (%s), or change the role's audience to %s", quotedList(expected), quotedList(actual))
		case KeyGoogleSub:
			if len(actual) == 0 {
				return "the request has no accounts.google.com:sub value (the token has no sub claim)", ""
			}
			if allEmails(expected) {
				return fmt.Sprintf("accounts.google.com:sub lists an email, but the token's sub claim is always the service account's numeric unique ID (%s)", quotedList(actual)),
					fmt.Sprintf("put the unique ID %s in accounts.google.com:sub", actual[0])
			}
			return fmt.Sprintf("the token's sub %s (the numeric unique ID of the service account it was minted for) is not the one the role trusts (%s): the token belongs to a different service account", quotedList(actual), quotedList(expected)),
				otherAccountFix
		}
	}

	switch {
	case len(actual) == 0:
		return fmt.Sprintf("the request has no value for %s", key), ""
	case set == "ForAllValues":
		for _, v := range actual {
			if !conditionHolds("", base, false, expected, []string{v}) {
				return fmt.Sprintf("with ForAllValues every request value must satisfy %s, but %q does not", base, v), ""
			}
		}
		return "not every request value satisfies the condition", ""
	case negated:
		return fmt.Sprintf("the request value %s is one the policy excludes with %s", quotedList(actual), base), ""
	default:
		return fmt.Sprintf("no request value satisfies %s %s", base, quotedList(expected)), ""
	}
}

// otherAccountFix is the fix for a token of another service account.
const otherAccountFix = "use a token of the service account the role trusts, or make the role trust this service account (its unique ID in accounts.google.com:sub, its unique ID and email in accounts.google.com:aud)"

// explainAud explains an accounts.google.com:aud mismatch, which
// compares the token's azp claim.
func explainAud(expected, actual []string) (note, fix string) {
	if len(actual) == 0 {
		return "the request has no accounts.google.com:aud value (the token has neither an azp nor an aud claim)", ""
	}
	azp := actual[0]
	switch {
	case allEmails(expected) && isDigits(azp):
		return fmt.Sprintf("the policy lists the service account's email (%s), but the token's azp claim is the numeric unique ID %s (tokens from the metadata server or the IAM Credentials API carry the unique ID): add the unique ID to accounts.google.com:aud", quotedList(expected), azp),
			fmt.Sprintf("put the service account's unique ID %s (the token's azp) in accounts.google.com:aud; the %s resource trusts both the unique ID and the email", azp, roleResourceName)
	case allNumeric(expected) && strings.Contains(azp, "@"):
		return fmt.Sprintf("the policy lists the numeric unique ID (%s), but the token's azp claim is the email %s (tokens minted from a service-account key file carry the email): add the email to accounts.google.com:aud", quotedList(expected), azp),
			fmt.Sprintf("put the service account's email %s (the token's azp) in accounts.google.com:aud, or mint the token through the metadata server or the IAM Credentials API; the %s resource trusts both the unique ID and the email", azp, roleResourceName)
	default:
		return fmt.Sprintf("the token's azp claim %s (the service account the token was minted for) is not among the values the role trusts (%s): the token belongs to a different service account", quotedList(actual), quotedList(expected)),
			otherAccountFix
	}
}

func allEmails(vals []string) bool {
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

func allNumeric(vals []string) bool {
	if len(vals) == 0 {
		return false
	}
	for _, v := range vals {
		if !isDigits(v) {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
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

// quotedList renders values as a JSON-style list of strings.
func quotedList(vals []string) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = quoteJSON(v)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// Explain renders the decision for people: the decision and its reason, the
// deciding statement, each mismatch with its note, and the fix.
func (d Decision) Explain() string {
	var b strings.Builder
	switch {
	case d.Allowed:
		b.WriteString("ALLOWED: ")
	case d.Verdict == VerdictUnknown:
		b.WriteString("UNKNOWN: ")
	default:
		b.WriteString("DENIED: ")
	}
	b.WriteString(d.Reason)
	b.WriteByte('\n')
	switch {
	case d.Statement >= 0:
		fmt.Fprintf(&b, "deciding statement: %s\n", statementLabel(d.Statement, d.Sid))
	case d.Verdict == VerdictUnknown:
		b.WriteString("deciding statement: none (not judged; STS decides)\n")
	default:
		b.WriteString("deciding statement: none (implicit deny)\n")
	}
	if len(d.Unjudged) > 0 && d.Verdict != VerdictUnknown {
		b.WriteString("not judged (the verdict does not depend on it):\n")
		for _, u := range d.Unjudged {
			fmt.Fprintf(&b, "  - %s\n", u)
		}
	} else if len(d.Unjudged) > 0 {
		b.WriteString("not judged:\n")
		for _, u := range d.Unjudged {
			fmt.Fprintf(&b, "  - %s\n", u)
		}
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
			has = quotedList(m.Actual)
		}
		fmt.Fprintf(&b, "  - %s: %s: expected %s, token has %s\n", where, what, quotedList(m.Expected), has)
		if m.Note != "" {
			fmt.Fprintf(&b, "    note: %s\n", m.Note)
		}
	}
	if d.Fix != "" {
		fmt.Fprintf(&b, "fix: %s\n", d.Fix)
	}
	return strings.TrimSuffix(b.String(), "\n")
}
