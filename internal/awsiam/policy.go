package awsiam

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"slices"
	"sort"
	"strings"
)

// Names used in trust policies for Google web-identity federation.
const (
	// GoogleFederatedPrincipal is the Federated principal for Google ID tokens.
	GoogleFederatedPrincipal = "accounts.google.com"
	// ActionAssumeRoleWithWebIdentity is the action a web-identity exchange asks for.
	ActionAssumeRoleWithWebIdentity = "sts:AssumeRoleWithWebIdentity"
	// KeyGoogleAud is compared with the token's azp claim when it has one
	// (the service account's numeric unique ID for tokens minted by the
	// metadata server or the IAM Credentials API, its email for tokens minted
	// from a key file), and with the aud claim otherwise.
	KeyGoogleAud = "accounts.google.com:aud"
	// KeyGoogleOaud is compared with the token's aud claim (the audience)
	// when the token has an azp claim.
	KeyGoogleOaud = "accounts.google.com:oaud"
	// KeyGoogleSub is compared with the token's sub claim (the service
	// account's numeric unique ID).
	KeyGoogleSub = "accounts.google.com:sub"
)

// Policy language versions IAM accepts.
const (
	polVersionCurrent = "2012-10-17"
	polVersionLegacy  = "2008-10-17"
)

// PolicyDocument is a parsed IAM policy (trust or permissions).
//
// A top-level Id element is accepted by ParsePolicy but not kept.
type PolicyDocument struct {
	Version    string
	Statements []Statement
}

// Statement is one statement of a policy. Every element that IAM allows as a
// single string or a list is held as a list.
type Statement struct {
	Sid          string
	Effect       string
	Principal    map[string][]string // "*" is stored as {"*": ["*"]}
	NotPrincipal map[string][]string
	Action       []string
	NotAction    []string
	Resource     []string
	NotResource  []string
	Condition    map[string]map[string][]string // operator -> key -> values
}

// ParsePolicy parses a JSON policy document. A document that does not start
// with '{' is URL-decoded first, as IAM's GetRole and GetRolePolicy return
// documents percent-encoded. Errors name the element that is wrong, e.g.
// `Statement[1].Effect must be Allow or Deny, got "Permit"`.
func ParsePolicy(doc string) (*PolicyDocument, error) {
	s := strings.TrimSpace(doc)
	if s == "" {
		return nil, errors.New("policy document is empty")
	}
	if !strings.HasPrefix(s, "{") {
		decoded, err := url.QueryUnescape(s)
		if err != nil {
			return nil, fmt.Errorf("policy document is neither a JSON object nor URL-encoded JSON: %v", err)
		}
		s = strings.TrimSpace(decoded)
		if !strings.HasPrefix(s, "{") {
			return nil, fmt.Errorf("policy document must be a JSON object, but it starts with %s", polStartOf(s))
		}
	}

	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var top map[string]json.RawMessage
	if err := dec.Decode(&top); err != nil {
		return nil, fmt.Errorf("policy document is not valid JSON: %v", err)
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); err != io.EOF {
		if err != nil {
			return nil, fmt.Errorf("policy document is not valid JSON after its top-level object: %v", err)
		}
		return nil, errors.New("policy document is not valid JSON: unexpected data after its top-level object")
	}

	for _, k := range slices.Sorted(maps.Keys(top)) {
		switch k {
		case "Version", "Id", "Statement":
		default:
			return nil, polUnknownElement("policy document", k, []string{"Version", "Id", "Statement"})
		}
	}

	p := &PolicyDocument{}
	if raw, ok := top["Version"]; ok && !polIsNull(raw) {
		v, err := polString("Version", raw)
		if err != nil {
			return nil, err
		}
		if v != polVersionCurrent && v != polVersionLegacy {
			return nil, fmt.Errorf("policy Version must be %q or %q, got %q", polVersionCurrent, polVersionLegacy, v)
		}
		p.Version = v
	}
	if raw, ok := top["Id"]; ok && !polIsNull(raw) {
		if _, err := polString("Id", raw); err != nil {
			return nil, err
		}
	}

	raw, ok := top["Statement"]
	if !ok || polIsNull(raw) {
		return nil, errors.New("Statement is missing: a policy needs at least one statement")
	}
	var rawStatements []json.RawMessage
	switch polTypeOf(raw) {
	case "object":
		rawStatements = []json.RawMessage{raw}
	case "array":
		if err := json.Unmarshal(raw, &rawStatements); err != nil {
			return nil, fmt.Errorf("Statement: %v", err)
		}
		if len(rawStatements) == 0 {
			return nil, errors.New("Statement must not be an empty list: a policy needs at least one statement")
		}
	default:
		return nil, fmt.Errorf("Statement must be an object or a list of objects, got %s", polTypeOf(raw))
	}
	for i, rs := range rawStatements {
		st, err := polParseStatement(fmt.Sprintf("Statement[%d]", i), rs)
		if err != nil {
			return nil, err
		}
		p.Statements = append(p.Statements, st)
	}
	return p, nil
}

var polStatementElements = []string{"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition"}

func polParseStatement(path string, raw json.RawMessage) (Statement, error) {
	var st Statement
	if t := polTypeOf(raw); t != "object" {
		return st, fmt.Errorf("%s must be an object, got %s", path, t)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return st, fmt.Errorf("%s: %v", path, err)
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		known := false
		for _, e := range polStatementElements {
			if k == e {
				known = true
				break
			}
		}
		if !known {
			return st, polUnknownElement(path, k, polStatementElements)
		}
	}
	present := func(k string) bool {
		r, ok := m[k]
		return ok && !polIsNull(r)
	}

	if present("Sid") {
		sid, err := polString(path+".Sid", m["Sid"])
		if err != nil {
			return st, err
		}
		st.Sid = sid
	}

	if !present("Effect") {
		return st, fmt.Errorf("%s.Effect is missing: it must be Allow or Deny", path)
	}
	effect, err := polString(path+".Effect", m["Effect"])
	if err != nil {
		return st, err
	}
	if effect != "Allow" && effect != "Deny" {
		return st, fmt.Errorf("%s.Effect must be Allow or Deny, got %q", path, effect)
	}
	st.Effect = effect

	if present("Principal") && present("NotPrincipal") {
		return st, fmt.Errorf("%s has both Principal and NotPrincipal; use one", path)
	}
	if present("Principal") {
		if st.Principal, err = polPrincipal(path+".Principal", m["Principal"]); err != nil {
			return st, err
		}
	}
	if present("NotPrincipal") {
		if st.NotPrincipal, err = polPrincipal(path+".NotPrincipal", m["NotPrincipal"]); err != nil {
			return st, err
		}
	}

	if present("Action") && present("NotAction") {
		return st, fmt.Errorf("%s has both Action and NotAction; use one", path)
	}
	if !present("Action") && !present("NotAction") {
		return st, fmt.Errorf("%s.Action is missing: a statement needs Action or NotAction", path)
	}
	if present("Action") {
		if st.Action, err = polStringList(path+".Action", m["Action"], false); err != nil {
			return st, err
		}
	}
	if present("NotAction") {
		if st.NotAction, err = polStringList(path+".NotAction", m["NotAction"], false); err != nil {
			return st, err
		}
	}

	if present("Resource") && present("NotResource") {
		return st, fmt.Errorf("%s has both Resource and NotResource; use one", path)
	}
	if present("Resource") {
		if st.Resource, err = polStringList(path+".Resource", m["Resource"], false); err != nil {
			return st, err
		}
	}
	if present("NotResource") {
		if st.NotResource, err = polStringList(path+".NotResource", m["NotResource"], false); err != nil {
			return st, err
		}
	}

	if present("Condition") {
		if st.Condition, err = polCondition(path+".Condition", m["Condition"]); err != nil {
			return st, err
		}
	}
	return st, nil
}

func polPrincipal(path string, raw json.RawMessage) (map[string][]string, error) {
	switch polTypeOf(raw) {
	case "string":
		s, _ := polString(path, raw)
		if s != "*" {
			return nil, fmt.Errorf("%s must be \"*\" or an object such as {\"Federated\": %q}, got the string %q", path, GoogleFederatedPrincipal, s)
		}
		return map[string][]string{"*": {"*"}}, nil
	case "object":
	default:
		return nil, fmt.Errorf("%s must be \"*\" or an object, got %s", path, polTypeOf(raw))
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("%s must not be empty", path)
	}
	out := make(map[string][]string, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		vals, err := polStringList(path+"."+k, m[k], false)
		if err != nil {
			return nil, err
		}
		out[k] = vals
	}
	return out, nil
}

func polCondition(path string, raw json.RawMessage) (map[string]map[string][]string, error) {
	if t := polTypeOf(raw); t != "object" {
		return nil, fmt.Errorf("%s must be an object of operators, got %s", path, t)
	}
	var ops map[string]json.RawMessage
	if err := json.Unmarshal(raw, &ops); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	out := make(map[string]map[string][]string, len(ops))
	for _, op := range slices.Sorted(maps.Keys(ops)) {
		opPath := path + "." + op
		if t := polTypeOf(ops[op]); t != "object" {
			return nil, fmt.Errorf("%s must be an object of condition keys, got %s", opPath, t)
		}
		var keys map[string]json.RawMessage
		if err := json.Unmarshal(ops[op], &keys); err != nil {
			return nil, fmt.Errorf("%s: %v", opPath, err)
		}
		block := make(map[string][]string, len(keys))
		seen := make(map[string]string, len(keys))
		for _, k := range slices.Sorted(maps.Keys(keys)) {
			if other, dup := seen[strings.ToLower(k)]; dup {
				return nil, fmt.Errorf("%s has the keys %q and %q, which differ only in case (condition keys are case-insensitive): merge them", opPath, other, k)
			}
			seen[strings.ToLower(k)] = k
			vals, err := polStringList(opPath+"."+k, keys[k], true)
			if err != nil {
				return nil, err
			}
			block[k] = vals
		}
		out[op] = block
	}
	return out, nil
}

// polStringList reads a string or a list of strings. For condition values
// (scalars), numbers and booleans stand for their text and the list may be
// empty.
func polStringList(path string, raw json.RawMessage, scalars bool) ([]string, error) {
	what := "a string or a list of strings"
	if scalars {
		what = "a string, number, boolean or a list of them"
	}
	switch polTypeOf(raw) {
	case "array":
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		if len(items) == 0 && !scalars {
			return nil, fmt.Errorf("%s must not be an empty list", path)
		}
		out := make([]string, 0, len(items))
		for i, it := range items {
			s, err := polScalar(fmt.Sprintf("%s[%d]", path, i), it, scalars)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	case "string", "number", "boolean":
		if polTypeOf(raw) != "string" && !scalars {
			return nil, fmt.Errorf("%s must be %s, got %s", path, what, polTypeOf(raw))
		}
		s, err := polScalar(path, raw, scalars)
		if err != nil {
			return nil, err
		}
		return []string{s}, nil
	default:
		return nil, fmt.Errorf("%s must be %s, got %s", path, what, polTypeOf(raw))
	}
}

func polScalar(path string, raw json.RawMessage, scalars bool) (string, error) {
	switch t := polTypeOf(raw); t {
	case "string":
		return polString(path, raw)
	case "number", "boolean":
		if scalars {
			return string(bytes.TrimSpace(raw)), nil
		}
		return "", fmt.Errorf("%s must be a string, got %s", path, t)
	default:
		if scalars {
			return "", fmt.Errorf("%s must be a string, number or boolean, got %s", path, t)
		}
		return "", fmt.Errorf("%s must be a string, got %s", path, t)
	}
}

func polString(path string, raw json.RawMessage) (string, error) {
	if t := polTypeOf(raw); t != "string" {
		return "", fmt.Errorf("%s must be a string, got %s", path, t)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%s: %v", path, err)
	}
	return s, nil
}

// polTypeOf names the JSON type of a raw value.
func polTypeOf(raw json.RawMessage) string {
	b := bytes.TrimSpace(raw)
	if len(b) == 0 {
		return "nothing"
	}
	switch b[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		return "number"
	}
}

func polIsNull(raw json.RawMessage) bool { return polTypeOf(raw) == "null" }

func polUnknownElement(where, k string, known []string) error {
	for _, e := range known {
		if strings.EqualFold(e, k) {
			return fmt.Errorf("%s has the element %q: element names are case-sensitive, did you mean %q?", where, k, e)
		}
	}
	return fmt.Errorf("%s has the unknown element %q (known: %s)", where, k, strings.Join(known, ", "))
}

func polStartOf(s string) string {
	r := []rune(s)
	if len(r) > 20 {
		return fmt.Sprintf("%q...", string(r[:20]))
	}
	return fmt.Sprintf("%q", s)
}

// GoogleTrustPolicy builds the trust policy for a Google service account:
// one Allow statement for the Federated principal accounts.google.com and
// sts:AssumeRoleWithWebIdentity, with StringEquals conditions on
// accounts.google.com:aud (both the unique ID and the email, so tokens from
// the metadata server or IAM Credentials API and tokens minted from a key
// file both work), accounts.google.com:sub (the unique ID) and
// accounts.google.com:oaud (the audience).
func GoogleTrustPolicy(uniqueID, email, audience string) *PolicyDocument {
	aud := []string{uniqueID}
	if email != "" && email != uniqueID {
		aud = append(aud, email)
	}
	return &PolicyDocument{
		Version: polVersionCurrent,
		Statements: []Statement{{
			Effect:    "Allow",
			Principal: map[string][]string{"Federated": {GoogleFederatedPrincipal}},
			Action:    []string{ActionAssumeRoleWithWebIdentity},
			Condition: map[string]map[string][]string{
				"StringEquals": {
					KeyGoogleAud:  aud,
					KeyGoogleSub:  {uniqueID},
					KeyGoogleOaud: {audience},
				},
			},
		}},
	}
}

// JSON renders the document canonically and compactly: Version first, then
// Statement, always a list, in the document's order. Statement elements come
// in a fixed order (Sid, Effect, Principal, NotPrincipal, Action, NotAction,
// Resource, NotResource, Condition), empty ones are left out, map keys are
// sorted, and lists are deduplicated and sorted, a list of one rendered as a
// plain string. Documents that differ only in those respects render to the
// same bytes.
func (p *PolicyDocument) JSON() string {
	if p == nil {
		return "null"
	}
	var b strings.Builder
	b.WriteByte('{')
	if p.Version != "" {
		b.WriteString(`"Version":`)
		b.WriteString(polQuote(p.Version))
		b.WriteByte(',')
	}
	b.WriteString(`"Statement":[`)
	for i, st := range p.Statements {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(polStatementJSON(st))
	}
	b.WriteString("]}")
	return b.String()
}

func polStatementJSON(st Statement) string {
	var b strings.Builder
	b.WriteByte('{')
	n := 0
	field := func(name string) {
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		b.WriteString(polQuote(name))
		b.WriteByte(':')
	}
	if st.Sid != "" {
		field("Sid")
		b.WriteString(polQuote(st.Sid))
	}
	if st.Effect != "" {
		field("Effect")
		b.WriteString(polQuote(st.Effect))
	}
	if len(st.Principal) > 0 {
		field("Principal")
		polWritePrincipal(&b, st.Principal)
	}
	if len(st.NotPrincipal) > 0 {
		field("NotPrincipal")
		polWritePrincipal(&b, st.NotPrincipal)
	}
	for _, l := range []struct {
		name string
		vals []string
	}{{"Action", st.Action}, {"NotAction", st.NotAction}, {"Resource", st.Resource}, {"NotResource", st.NotResource}} {
		if len(l.vals) > 0 {
			field(l.name)
			polWriteList(&b, l.vals)
		}
	}
	ops := make([]string, 0, len(st.Condition))
	for op, keys := range st.Condition {
		if len(keys) > 0 {
			ops = append(ops, op)
		}
	}
	if len(ops) > 0 {
		sort.Strings(ops)
		field("Condition")
		b.WriteByte('{')
		for i, op := range ops {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(polQuote(op))
			b.WriteString(":{")
			for j, k := range polConditionKeys(st.Condition[op]) {
				if j > 0 {
					b.WriteByte(',')
				}
				b.WriteString(polQuote(k))
				b.WriteByte(':')
				polWriteList(&b, st.Condition[op][k])
			}
			b.WriteByte('}')
		}
		b.WriteByte('}')
	}
	b.WriteByte('}')
	return b.String()
}

// polConditionKeys sorts condition keys case-insensitively, ties broken by
// the exact text, so the order does not depend on how keys are cased.
func polConditionKeys(m map[string][]string) []string {
	keys := slices.Sorted(maps.Keys(m))
	sort.SliceStable(keys, func(i, j int) bool {
		return strings.ToLower(keys[i]) < strings.ToLower(keys[j])
	})
	return keys
}

func polWritePrincipal(b *strings.Builder, m map[string][]string) {
	if len(m) == 1 {
		if v, ok := m["*"]; ok && len(polUniqueSorted(v)) == 1 && v[0] == "*" {
			b.WriteString(`"*"`)
			return
		}
	}
	b.WriteByte('{')
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(polQuote(k))
		b.WriteByte(':')
		polWriteList(b, m[k])
	}
	b.WriteByte('}')
}

func polWriteList(b *strings.Builder, vals []string) {
	u := polUniqueSorted(vals)
	if len(u) == 1 {
		b.WriteString(polQuote(u[0]))
		return
	}
	b.WriteByte('[')
	for i, v := range u {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(polQuote(v))
	}
	b.WriteByte(']')
}

func polUniqueSorted(vals []string) []string {
	u := append([]string(nil), vals...)
	sort.Strings(u)
	out := u[:0]
	for i, v := range u {
		if i == 0 || v != u[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// polQuote renders s as a JSON string without HTML escaping.
func polQuote(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // encoding a string cannot fail
	return strings.TrimSuffix(b.String(), "\n")
}

// CanonicalPolicy parses doc and renders it as JSON does, with the
// statements sorted by their rendering, so the result does not depend on
// statement order either.
func CanonicalPolicy(doc string) (string, error) {
	p, err := ParsePolicy(doc)
	if err != nil {
		return "", err
	}
	return polCanonical(p, false), nil
}

// polCanonical renders p with sorted statements; foldKeys lower-cases
// condition keys, for comparisons.
func polCanonical(p *PolicyDocument, foldKeys bool) string {
	rendered := make([]string, len(p.Statements))
	for i, st := range p.Statements {
		if foldKeys && len(st.Condition) > 0 {
			folded := make(map[string]map[string][]string, len(st.Condition))
			for op, keys := range st.Condition {
				fk := make(map[string][]string, len(keys))
				for k, v := range keys {
					lk := strings.ToLower(k)
					fk[lk] = append(fk[lk], v...)
				}
				folded[op] = fk
			}
			st.Condition = folded
		}
		rendered[i] = polStatementJSON(st)
	}
	sort.Strings(rendered)
	var b strings.Builder
	b.WriteByte('{')
	if p.Version != "" {
		b.WriteString(`"Version":`)
		b.WriteString(polQuote(p.Version))
		b.WriteByte(',')
	}
	b.WriteString(`"Statement":[`)
	b.WriteString(strings.Join(rendered, ","))
	b.WriteString("]}")
	return b.String()
}

// PoliciesEqual reports whether two policy documents mean the same: the
// order of statements, keys and list members, a single value against a list
// of one, whitespace, URL encoding and the case of condition keys make no
// difference, and an empty Sid equals a missing one.
func PoliciesEqual(a, b string) (bool, error) {
	pa, err := ParsePolicy(a)
	if err != nil {
		return false, fmt.Errorf("first policy: %w", err)
	}
	pb, err := ParsePolicy(b)
	if err != nil {
		return false, fmt.Errorf("second policy: %w", err)
	}
	return polCanonical(pa, true) == polCanonical(pb, true), nil
}
