package awspolicy

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// roleResourceName is the resource of this provider that writes Google trust
// policies, named in suggestions.
const roleResourceName = "airflowiam_web_identity_role"

// implicitDeny explains the denial of a request that no statement allows,
// by how far the Allow statements got: some trust the provider for the
// action but fail a condition, there is no Allow at all, they trust the
// provider but not for the action, or they do not trust the provider.
func implicitDeny(p *Document, req WebIdentityRequest, results []statementResult) Decision {
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
	switch {
	case len(candidates) > 0:
		return denyFailingConditions(p, req, results, candidates)
	case len(allows) == 0:
		return denyNoAllow(req)
	case len(trusting) > 0:
		return denyActionNotAllowed(p, req, trusting)
	default:
		return denyProviderNotTrusted(p, req, allows)
	}
}

// denyFailingConditions: the candidates trust the provider for the action,
// but each has a condition that fails.
func denyFailingConditions(p *Document, req WebIdentityRequest, results []statementResult, candidates []int) Decision {
	d := Decision{Verdict: VerdictDenied, Statement: -1}
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
	if len(candidates) > 1 {
		d.Reason = fmt.Sprintf("implicit deny: %d Allow statements trust %s for %s, but each has a failing condition",
			len(candidates), req.Provider, req.Action)
		return d
	}
	i := candidates[0]
	r := results[i]
	failing := "its condition fails"
	if r.conditions != 1 {
		failing = fmt.Sprintf("%d of its %d conditions %s", len(r.failures), r.conditions, verbFor(len(r.failures), "fails", "fail"))
	}
	d.Reason = fmt.Sprintf("implicit deny: %s trusts %s for %s, but %s",
		statementLabel(i, p.Statements[i].Sid), req.Provider, req.Action, failing)
	return d
}

// denyNoAllow: the policy has only Deny statements.
func denyNoAllow(req WebIdentityRequest) Decision {
	return Decision{
		Verdict:   VerdictDenied,
		Statement: -1,
		Reason:    "implicit deny: the policy has no Allow statement",
		Mismatches: []Mismatch{{
			Statement: -1, Key: "Effect", Expected: []string{"Allow"},
			Note: "the policy has only Deny statements, so nothing is allowed",
		}},
		Fix: trustFix(req),
	}
}

// denyActionNotAllowed: the trusting statements trust the provider, but
// none allows the action.
func denyActionNotAllowed(p *Document, req WebIdentityRequest, trusting []int) Decision {
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
	return Decision{
		Verdict:   VerdictDenied,
		Statement: -1,
		Reason:    fmt.Sprintf("implicit deny: no Allow statement allows %s for %s", req.Action, req.Provider),
		Mismatches: []Mismatch{{
			Statement: st, Key: "Action", Expected: uniqueSorted(expected), Actual: []string{req.Action},
			Note: fmt.Sprintf("the statements that trust %s do not allow %s", req.Provider, req.Action),
		}},
		Fix: fmt.Sprintf("add %s to the Action of the statement that trusts %s", req.Action, req.Provider),
	}
}

// denyProviderNotTrusted: no Allow statement trusts the provider.
func denyProviderNotTrusted(p *Document, req WebIdentityRequest, allows []int) Decision {
	var expected []string
	for _, i := range allows {
		expected = append(expected, principalNames(p.Statements[i])...)
	}
	expected = uniqueSorted(expected)
	only := -1
	if len(allows) == 1 {
		only = allows[0]
	}
	return Decision{
		Verdict:   VerdictDenied,
		Statement: -1,
		Reason:    fmt.Sprintf("implicit deny: the role does not trust %s", req.Provider),
		Mismatches: []Mismatch{{
			Statement: only, Key: "Principal", Expected: expected, Actual: []string{"Federated:" + req.Provider},
			Note: fmt.Sprintf("the role does not trust %s: its Allow statements trust %s", req.Provider, quotedList(expected)),
		}},
		Fix: trustFix(req),
	}
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

// explainFailure says why a supported condition failed and, when it
// can, what would fix it. Google's keys compared for equality or likeness
// get explanations in terms of the token's claims; other conditions are
// explained by their operator.
func explainFailure(set, base, key string, expected, actual []string) (note, fix string) {
	lkey := strings.ToLower(key)
	family := operators[base].family
	switch {
	case lkey == keyGoogleEmail:
		return "AWS provides no accounts.google.com:email condition key, so a condition on it is judged as if the key were absent",
			"compare the service account's unique ID in accounts.google.com:sub (and accounts.google.com:aud) instead of its email"
	case family == famNull:
		return explainNull(key, expected, actual), ""
	case family == famString && !isNegated(base) && set != "ForAllValues" && isGoogleClaimKey(lkey):
		return explainGoogleClaim(lkey, expected, actual)
	}
	return explainOperator(set, base, key, expected, actual), ""
}

// isGoogleClaimKey reports whether the lower-cased key is one of the keys
// AWS fills from a Google token's claims.
func isGoogleClaimKey(lkey string) bool {
	return lkey == KeyGoogleAud || lkey == KeyGoogleOaud || lkey == KeyGoogleSub
}

// explainGoogleClaim explains a failed match on accounts.google.com:aud,
// :oaud or :sub by the token claim behind it.
func explainGoogleClaim(lkey string, expected, actual []string) (note, fix string) {
	switch lkey {
	case KeyGoogleAud:
		return explainAud(expected, actual)
	case KeyGoogleOaud:
		return explainOaud(expected, actual)
	default:
		return explainSub(expected, actual)
	}
}

// explainOaud explains an accounts.google.com:oaud mismatch, which
// compares the token's aud claim (the audience).
func explainOaud(expected, actual []string) (note, fix string) {
	if len(actual) == 0 {
		return "the request has no accounts.google.com:oaud value: AWS provides it only for tokens with an azp claim (service-account tokens have one)",
			"use an ID token minted for the service account (it has an azp claim)"
	}
	return fmt.Sprintf("the audience the token was requested for (its aud claim, %s) differs from the audience the role expects (%s)", quotedList(actual), quotedList(expected)),
		fmt.Sprintf("request the ID token for the audience the role expects (%s), or change the role's audience to %s", quotedList(expected), quotedList(actual))
}

// explainSub explains an accounts.google.com:sub mismatch, which compares
// the token's sub claim (the service account's unique ID).
func explainSub(expected, actual []string) (note, fix string) {
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

// explainNull explains a failed Null condition: the key is present where
// it must be absent, or the other way round.
func explainNull(key string, expected, actual []string) string {
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
	return fmt.Sprintf("Null requires %s to be %s, but it is %s in the request", key, want, have)
}

// explainOperator explains any other failed condition by what its operator
// asks of the request's values.
func explainOperator(set, base, key string, expected, actual []string) string {
	switch {
	case len(actual) == 0:
		return fmt.Sprintf("the request has no value for %s", key)
	case set == "ForAllValues":
		for _, v := range actual {
			if !conditionHolds("", base, false, expected, []string{v}) {
				return fmt.Sprintf("with ForAllValues every request value must satisfy %s, but %q does not", base, v)
			}
		}
		return "not every request value satisfies the condition"
	case isNegated(base):
		return fmt.Sprintf("the request value %s is one the policy excludes with %s", quotedList(actual), base)
	default:
		return fmt.Sprintf("no request value satisfies %s %s", base, quotedList(expected))
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

// quotedList renders values as a JSON-style list of strings.
func quotedList(vals []string) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = quoteJSON(v)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// Explain renders the decision for people: the decision and its reason, the
// deciding statement, what was not judged, each mismatch with its note, and
// the fix.
func (d Decision) Explain() string {
	var b strings.Builder
	b.WriteString(d.headline())
	b.WriteByte('\n')
	fmt.Fprintf(&b, "deciding statement: %s\n", d.decidingStatement())
	if len(d.Unjudged) > 0 {
		if d.Verdict == VerdictUnknown {
			b.WriteString("not judged:\n")
		} else {
			b.WriteString("not judged (the verdict does not depend on it):\n")
		}
		for _, u := range d.Unjudged {
			fmt.Fprintf(&b, "  - %s\n", u)
		}
	}
	if len(d.Mismatches) > 0 {
		b.WriteString("mismatches:\n")
	}
	for _, m := range d.Mismatches {
		writeMismatch(&b, m)
	}
	if d.Fix != "" {
		fmt.Fprintf(&b, "fix: %s\n", d.Fix)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// headline is the verdict in capitals and the reason.
func (d Decision) headline() string {
	switch {
	case d.Allowed:
		return "ALLOWED: " + d.Reason
	case d.Verdict == VerdictUnknown:
		return "UNKNOWN: " + d.Reason
	default:
		return "DENIED: " + d.Reason
	}
}

// decidingStatement names the deciding statement, or says why there is
// none.
func (d Decision) decidingStatement() string {
	switch {
	case d.Statement >= 0:
		return statementLabel(d.Statement, d.Sid)
	case d.Verdict == VerdictUnknown:
		return "none (not judged; STS decides)"
	default:
		return "none (implicit deny)"
	}
}

// writeMismatch renders one mismatch as a list item, with its note below.
func writeMismatch(b *strings.Builder, m Mismatch) {
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
	fmt.Fprintf(b, "  - %s: %s: expected %s, token has %s\n", where, what, quotedList(m.Expected), has)
	if m.Note != "" {
		fmt.Fprintf(b, "    note: %s\n", m.Note)
	}
}
