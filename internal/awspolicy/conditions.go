package awspolicy

import (
	"encoding/base64"
	"fmt"
	"math/big"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file holds the condition operators of IAM policies, as AWS documents
// them:
//
//   - operators: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
//   - set operators and multivalued keys: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
//   - policy variables: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
//
// A condition is judged in three values: it holds, it does not, or the
// evaluator cannot tell (an operator it does not know, a key whose value
// only AWS knows at request time). Only STS can decide the last.

// tri is a three-valued truth.
type tri int8

const (
	triFalse tri = iota
	triTrue
	triUnknown
)

func triOf(b bool) tri {
	if b {
		return triTrue
	}
	return triFalse
}

// triAnd is Kleene conjunction: false wins, then unknown.
func triAnd(a, b tri) tri {
	switch {
	case a == triFalse || b == triFalse:
		return triFalse
	case a == triUnknown || b == triUnknown:
		return triUnknown
	default:
		return triTrue
	}
}

// Operator families.
const (
	famString  = "String"
	famNumeric = "Numeric"
	famDate    = "Date"
	famBool    = "Bool"
	famBinary  = "Binary"
	famIP      = "IpAddress"
	famARN     = "Arn"
	famNull    = "Null"
)

// operatorInfo describes a base operator (without set qualifier or
// IfExists).
type operatorInfo struct {
	family  string
	negated bool   // matches when the positive comparison does not
	cmp     string // the comparison: "eq", "eqi", "like", "lt", "le", "gt", "ge"
}

// operators lists every base operator of the condition operators page.
// Operator names are matched exactly as written there.
var operators = map[string]operatorInfo{
	"StringEquals":              {famString, false, "eq"},
	"StringNotEquals":           {famString, true, "eq"},
	"StringEqualsIgnoreCase":    {famString, false, "eqi"},
	"StringNotEqualsIgnoreCase": {famString, true, "eqi"},
	"StringLike":                {famString, false, "like"},
	"StringNotLike":             {famString, true, "like"},

	"NumericEquals":            {famNumeric, false, "eq"},
	"NumericNotEquals":         {famNumeric, true, "eq"},
	"NumericLessThan":          {famNumeric, false, "lt"},
	"NumericLessThanEquals":    {famNumeric, false, "le"},
	"NumericGreaterThan":       {famNumeric, false, "gt"},
	"NumericGreaterThanEquals": {famNumeric, false, "ge"},

	"DateEquals":            {famDate, false, "eq"},
	"DateNotEquals":         {famDate, true, "eq"},
	"DateLessThan":          {famDate, false, "lt"},
	"DateLessThanEquals":    {famDate, false, "le"},
	"DateGreaterThan":       {famDate, false, "gt"},
	"DateGreaterThanEquals": {famDate, false, "ge"},

	"Bool":         {famBool, false, "eq"},
	"BinaryEquals": {famBinary, false, "eq"},

	"IpAddress":    {famIP, false, "eq"},
	"NotIpAddress": {famIP, true, "eq"},

	// ArnEquals and ArnLike behave alike: each of the six colon-separated
	// parts is compared on its own and may hold * and ? wildcards.
	"ArnEquals":    {famARN, false, "like"},
	"ArnLike":      {famARN, false, "like"},
	"ArnNotEquals": {famARN, true, "like"},
	"ArnNotLike":   {famARN, true, "like"},

	"Null": {famNull, false, "eq"},
}

// operator is a parsed operator such as "ForAnyValue:StringLikeIfExists".
type operator struct {
	name     string // as written
	set      string // "", "ForAnyValue" or "ForAllValues"
	base     string // e.g. "StringLike"
	ifExists bool
	known    bool
	info     operatorInfo
}

// parseOperator splits an operator into its set qualifier, base operator and
// IfExists suffix. Null has no IfExists form; an unknown name is reported
// as not known.
func parseOperator(op string) operator {
	o := operator{name: op, base: op}
	for _, q := range []string{"ForAnyValue", "ForAllValues"} {
		if rest, ok := strings.CutPrefix(o.base, q+":"); ok {
			o.set, o.base = q, rest
			break
		}
	}
	if rest, ok := strings.CutSuffix(o.base, "IfExists"); ok && rest != "Null" {
		o.ifExists, o.base = true, rest
	}
	o.info, o.known = operators[o.base]
	return o
}

// isNegated reports whether base is a negated operator (StringNotEquals,
// NotIpAddress, ArnNotLike, ...).
func isNegated(base string) bool { return operators[base].negated }

// keyState says what the evaluator knows of a condition key.
type keyState int8

const (
	keyAbsent keyState = iota
	keyPresent
	keyUnknown
)

// requestEnv is the request as conditions see it.
type requestEnv struct {
	ctx       map[string][]string // lower-cased keys
	provider  string
	complete  bool
	variables bool // policy Version 2012-10-17: ${...} are variables
}

// lookup finds a key's values. A key the request does not hold is absent
// when the evaluator knows AWS would not provide it, else unknown.
func (e *requestEnv) lookup(key string) ([]string, keyState) {
	lk := strings.ToLower(key)
	if lk == keyGoogleEmail && strings.EqualFold(e.provider, GoogleFederatedPrincipal) {
		// AWS provides no accounts.google.com:email key; the request holds
		// the email for explanations only.
		return nil, keyAbsent
	}
	if vals := e.ctx[lk]; len(vals) > 0 {
		return vals, keyPresent
	}
	if e.complete {
		return nil, keyAbsent
	}
	ns, _, ok := strings.Cut(lk, ":")
	switch {
	case !ok:
		return nil, keyUnknown
	case ns == strings.ToLower(e.provider):
		// AWS derives the provider's keys from the token, and the request
		// holds every one it derives
		// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#condition-keys-wif),
		// except the Google organization number, which depends on claims
		// a service account's token does not show here.
		if lk == "accounts.google.com:google/organization_number" {
			return nil, keyUnknown
		}
		return nil, keyAbsent
	case strings.ContainsAny(ns, "./"):
		// Another identity provider's keys: AWS sets only those of the
		// provider that issued the token.
		return nil, keyAbsent
	default:
		// aws:SourceIp, aws:CurrentTime, aws:PrincipalTag/..., aws:RequestTag/...,
		// sts:RoleSessionName and the like: only AWS knows them at request time.
		return nil, keyUnknown
	}
}

// valuePattern is a policy value after variable substitution. lit marks
// characters that came from ${*}, ${?} and ${$} (or a substituted value),
// which are never wildcards.
type valuePattern struct {
	text []rune
	lit  []bool
	// unresolved: a policy variable in it could not be resolved, so the
	// value matches nothing, not even for a negated operator.
	unresolved bool
}

func (p valuePattern) String() string { return string(p.text) }

func (p *valuePattern) add(s string, literal bool) {
	for _, r := range s {
		p.text = append(p.text, r)
		p.lit = append(p.lit, literal)
	}
}

// resolve substitutes policy variables in a policy value. It reports
// ok=false when a variable cannot be resolved (its key absent, no default),
// so that the value matches nothing, and a non-empty unknown naming the
// key when its value is not known here.
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
func (e *requestEnv) resolve(v string, family string) (p valuePattern, ok bool, unknown string) {
	if !e.variables || (family != famString && family != famARN) || !strings.Contains(v, "${") {
		p.add(v, false)
		return p, true, ""
	}
	ok = true
	rest := v
	for {
		i := strings.Index(rest, "${")
		if i < 0 {
			p.add(rest, false)
			return p, ok, unknown
		}
		j := strings.Index(rest[i:], "}")
		if j < 0 {
			p.add(rest, false)
			return p, ok, unknown
		}
		p.add(rest[:i], false)
		body := rest[i+2 : i+j]
		rest = rest[i+j+1:]
		switch strings.TrimSpace(body) {
		case "*", "?", "$":
			p.add(strings.TrimSpace(body), true)
			continue
		}
		key, def, hasDef := splitVariable(body)
		vals, st := e.lookup(key)
		switch {
		case st == keyUnknown:
			unknown = key
		case st == keyPresent && len(vals) == 1:
			p.add(vals[0], true)
		case hasDef:
			// A missing key (or a multivalued one, which cannot be
			// substituted) takes the default.
			p.add(def, true)
		default:
			ok = false
		}
	}
}

// splitVariable splits the inside of ${key, 'default'}: the default
// follows a comma and a space, in single quotes
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html#policy-vars-default-values).
// Anything else names a key.
func splitVariable(body string) (key, def string, hasDef bool) {
	k, d, found := strings.Cut(body, ", ")
	if !found {
		return strings.TrimSpace(body), "", false
	}
	d = strings.TrimSpace(d)
	if len(d) < 2 || d[0] != '\'' || d[len(d)-1] != '\'' || strings.Contains(d[1:len(d)-1], "'") {
		return strings.TrimSpace(body), "", false
	}
	return strings.TrimSpace(k), d[1 : len(d)-1], true
}

// judge evaluates one key of a condition block.
func (e *requestEnv) judge(op operator, key string, expected []string) (tri, string) {
	if why := op.unjudgeable(key, expected); why != "" {
		return triUnknown, why
	}
	actual, st := e.lookup(key)
	if st == keyUnknown {
		return triUnknown, fmt.Sprintf("cannot judge %s %s: the value of %s is known only to AWS at request time; STS decides", op.name, key, key)
	}
	if op.info.family == famNull {
		return triOf(nullHolds(expected, st == keyAbsent)), ""
	}
	pats, why := e.patterns(op, key, expected)
	if why != "" {
		return triUnknown, why
	}
	if op.set == "" && isMultivalued(key, actual) {
		// AWS documents set operators for multivalued keys; how a plain
		// operator treats one is not documented
		// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html).
		return triUnknown, fmt.Sprintf("cannot judge %s %s without ForAnyValue or ForAllValues: %s is multivalued, and how AWS applies a plain operator to it is not documented; STS decides", op.name, key, key)
	}
	return triOf(setMatch(op, pats, actual)), ""
}

// unjudgeable says why a condition with this operator, key and policy
// values cannot be judged whatever the request holds, or "" when it can
// be: the operator is unknown, the list of values is empty, or Null comes
// with a set operator.
func (op operator) unjudgeable(key string, expected []string) string {
	switch {
	case !op.known:
		return fmt.Sprintf("cannot judge the condition operator %s, which the evaluator does not know; STS decides", op.name)
	case len(expected) == 0:
		return fmt.Sprintf("cannot judge %s %s with an empty list of values, which AWS does not document; STS decides", op.name, key)
	case op.info.family == famNull && op.set != "":
		return fmt.Sprintf("cannot judge %s %s: AWS does not document Null with a set operator; STS decides", op.name, key)
	}
	return ""
}

// nullHolds is the Null operator: a value "true" holds when the key is
// absent, "false" when it is present.
func nullHolds(expected []string, absent bool) bool {
	hit := false
	for _, v := range expected {
		if b, ok := parseBool(v); ok && b == absent {
			hit = true
		}
	}
	return hit
}

// patterns are the policy values with their policy variables substituted,
// or a reason why they cannot be judged: a variable whose value only AWS
// knows, or a variable in a Bool value.
func (e *requestEnv) patterns(op operator, key string, expected []string) ([]valuePattern, string) {
	var pats []valuePattern
	for _, v := range expected {
		if op.info.family == famBool && e.variables && strings.Contains(v, "${") {
			// The operators page allows policy variables with Bool, the
			// variables page allows them only with String and ARN operators.
			return nil, fmt.Sprintf("cannot judge %s %s: its value %q holds a policy variable, which AWS's pages disagree on for Bool "+
				"(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_Boolean, "+
				"https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html#policy-vars-conditionelement); STS decides", op.name, key, v)
		}
		p, ok, unknown := e.resolve(v, op.info.family)
		if unknown != "" {
			return nil, fmt.Sprintf("cannot judge %s %s: its value uses the policy variable ${%s}, whose value is known only to AWS at request time; STS decides", op.name, key, unknown)
		}
		p.unresolved = !ok
		pats = append(pats, p)
	}
	return pats, ""
}

// isMultivalued reports whether the key holds a set of values: the request
// has several, or AWS documents the key as multivalued.
func isMultivalued(key string, actual []string) bool {
	return len(actual) > 1 || (len(actual) == 1 && multivaluedKeys[strings.ToLower(key)])
}

// setMatch applies the operator, its set qualifier and IfExists to the
// request's values (nil when the key is absent). ForAllValues, and a plain
// negated operator, need every request value to satisfy the operator;
// ForAnyValue and a plain positive operator need one.
func setMatch(op operator, pats []valuePattern, actual []string) bool {
	if len(actual) == 0 {
		return absentKeyMatches(op)
	}
	satisfies := func(v string) bool { return valueSatisfies(op.info, pats, v) }
	if op.set == "ForAllValues" || (op.set == "" && op.info.negated) {
		return !slices.ContainsFunc(actual, func(v string) bool { return !satisfies(v) })
	}
	return slices.ContainsFunc(actual, satisfies)
}

// absentKeyMatches is the outcome of a condition on a key the request
// lacks (or holds as an empty set).
func absentKeyMatches(op operator) bool {
	switch op.set {
	case "ForAllValues":
		return true // vacuously true for a missing or empty key
	case "ForAnyValue":
		return op.ifExists
	default:
		return op.ifExists || op.info.negated
	}
}

// valueSatisfies reports whether one request value satisfies the operator.
// The policy values are alternatives; a value that does not parse for the
// operator (or has an unresolved variable) matches nothing: it never
// satisfies a positive operator, and a negated one fails on it too.
func valueSatisfies(info operatorInfo, pats []valuePattern, v string) bool {
	for _, p := range pats {
		match, valid := false, false
		if !p.unresolved {
			match, valid = compareValues(info, v, p)
		}
		switch {
		case !info.negated && valid && match:
			return true
		case info.negated && (!valid || match):
			return false
		}
	}
	return info.negated
}

// compareValues applies the positive comparison of an operator to a request
// value and a policy value. valid is false when either does not parse for
// the operator's family.
func compareValues(info operatorInfo, v string, p valuePattern) (match, valid bool) {
	switch info.family {
	case famString:
		return compareStrings(info.cmp, v, p), true
	case famARN:
		return arnMatch(p, v)
	case famNumeric:
		return compareParsed(info.cmp, v, p.String(), parseNumber, (*big.Rat).Cmp)
	case famDate:
		return compareParsed(info.cmp, v, p.String(), parseDate, time.Time.Compare)
	case famBool:
		return compareParsed("eq", v, p.String(), parseBool, compareBools)
	case famBinary:
		return binaryEqual(v, p.String()), true
	case famIP:
		return ipMatch(p.String(), v)
	}
	return false, false
}

// compareStrings is the String operators' comparison: exact, case-blind,
// or with wildcards.
func compareStrings(cmp, v string, p valuePattern) bool {
	switch cmp {
	case "eq":
		return v == p.String()
	case "eqi":
		return strings.EqualFold(v, p.String())
	default:
		return globMatch(p, v)
	}
}

// compareParsed parses both values for the operator's family and orders
// them; valid is false when either does not parse.
func compareParsed[T any](cmp, v, policy string, parse func(string) (T, bool), order func(a, b T) int) (match, valid bool) {
	a, ok1 := parse(v)
	b, ok2 := parse(policy)
	if !ok1 || !ok2 {
		return false, false
	}
	return orderHolds(cmp, order(a, b)), true
}

// compareBools orders booleans only as equal or not, which is all Bool
// asks.
func compareBools(a, b bool) int {
	if a == b {
		return 0
	}
	return 1
}

// binaryEqual compares base64 texts: equal texts, or texts that decode to
// the same bytes, match.
func binaryEqual(v, policy string) bool {
	if v == policy {
		return true
	}
	a, err1 := base64.StdEncoding.DecodeString(v)
	b, err2 := base64.StdEncoding.DecodeString(policy)
	return err1 == nil && err2 == nil && string(a) == string(b)
}

// multivaluedKeys are context keys AWS documents as multivalued
// (ArrayOf... types) that a trust policy may meet.
var multivaluedKeys = map[string]bool{
	"aws:tagkeys":                        true,
	"aws:calledvia":                      true,
	"aws:principalservicenameslist":      true,
	"sts:transitivetagkeys":              true,
	"cognito-identity.amazonaws.com:amr": true,
}

func orderHolds(cmp string, c int) bool {
	switch cmp {
	case "eq":
		return c == 0
	case "lt":
		return c < 0
	case "le":
		return c <= 0
	case "gt":
		return c > 0
	case "ge":
		return c >= 0
	}
	return false
}

// numberRE is an integer or decimal value, the forms the Numeric
// operators compare.
var numberRE = regexp.MustCompile(`^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$`)

func parseNumber(s string) (*big.Rat, bool) {
	s = strings.TrimSpace(s)
	if !numberRE.MatchString(s) {
		return nil, false
	}
	r, ok := new(big.Rat).SetString(s)
	return r, ok
}

// dateLayouts are the ISO 8601 forms accepted for Date operators (the
// W3C profile the operators page names, from year and month to fractions
// of a second).
var dateLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05Z0700",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04:05",
	"2006-01-02T15:04",
	"2006-01-02",
	"2006-01",
	// A year alone ("2027") is not accepted: digits alone are epoch time.
}

// parseDate reads an ISO 8601 date or an epoch time in seconds.
func parseDate(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0).UTC(), true
	}
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func parseBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

// ipMatch reports whether the address ip lies in the policy's CIDR
// block or equals its address.
func ipMatch(policy, ip string) (match, valid bool) {
	addr, err := netip.ParseAddr(strings.TrimSpace(ip))
	if err != nil {
		return false, false
	}
	policy = strings.TrimSpace(policy)
	if pfx, err := netip.ParsePrefix(policy); err == nil {
		return pfx.Contains(addr.Unmap()), true
	}
	if a, err := netip.ParseAddr(policy); err == nil {
		return a.Unmap() == addr.Unmap(), true
	}
	return false, false
}

// arnMatch compares the six colon-separated parts of an ARN, each with
// * and ? wildcards; the last part takes any further colons. A request
// value or pattern with fewer parts is not an ARN.
func arnMatch(p valuePattern, arn string) (match, valid bool) {
	vparts := strings.SplitN(arn, ":", 6)
	if len(vparts) != 6 {
		return false, false
	}
	var pparts []valuePattern
	cur := valuePattern{}
	for i, r := range p.text {
		if r == ':' && !p.lit[i] && len(pparts) < 5 {
			pparts = append(pparts, cur)
			cur = valuePattern{}
			continue
		}
		cur.text = append(cur.text, r)
		cur.lit = append(cur.lit, p.lit[i])
	}
	pparts = append(pparts, cur)
	if len(pparts) != 6 {
		return false, false
	}
	for i := range pparts {
		if !globMatch(pparts[i], vparts[i]) {
			return false, true
		}
	}
	return true, true
}

// globMatch matches s against a pattern whose unmarked * matches any
// run of characters and unmarked ? any one character.
func globMatch(p valuePattern, s string) bool {
	r := []rune(s)
	pi, si := 0, 0
	star, mark := -1, 0
	wild := func(i int, c rune) bool { return p.text[i] == c && !p.lit[i] }
	for si < len(r) {
		switch {
		case pi < len(p.text) && wild(pi, '*'):
			star, mark = pi, si
			pi++
		case pi < len(p.text) && (wild(pi, '?') || p.text[pi] == r[si]):
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
	for pi < len(p.text) && wild(pi, '*') {
		pi++
	}
	return pi == len(p.text)
}

// globMatchText matches s against pattern, where * matches any run of
// characters and ? any single character.
func globMatchText(pattern, s string) bool {
	var p valuePattern
	p.add(pattern, false)
	return globMatch(p, s)
}

// conditionHolds evaluates one condition key against request values (nil
// when the request lacks the key), without policy variables.
func conditionHolds(set, base string, ifExists bool, expected, actual []string) bool {
	info, ok := operators[base]
	if !ok {
		return false
	}
	op := operator{set: set, base: base, ifExists: ifExists, known: true, info: info}
	if info.family == famNull {
		return nullHolds(expected, len(actual) == 0)
	}
	pats := make([]valuePattern, len(expected))
	for i, v := range expected {
		pats[i].add(v, false)
	}
	return setMatch(op, pats, actual)
}
