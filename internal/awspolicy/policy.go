// Package awspolicy holds the IAM policy document model and what the
// provider does with trust policies: parsing documents as IAM accepts them
// (plain or URL-encoded JSON), building the trust policy for a Google
// service account, rendering documents canonically and comparing them, and
// evaluating a web-identity request against a trust policy with an
// explanation of the verdict. It calls no AWS API and knows nothing of
// Terraform.
package awspolicy

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
	versionCurrent = "2012-10-17"
	versionLegacy  = "2008-10-17"
)

// Document is a parsed IAM policy (trust or permissions).
//
// A top-level Id element is accepted by Parse but not kept.
type Document struct {
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

// Parse parses a JSON policy document. A document that does not start
// with '{' is URL-decoded first, as IAM's GetRole and GetRolePolicy return
// documents percent-encoded. Errors name the element that is wrong, e.g.
// `Statement[1].Effect must be Allow or Deny, got "Permit"`.
func Parse(doc string) (*Document, error) {
	s, err := documentText(doc)
	if err != nil {
		return nil, err
	}
	top, err := decodeDocument(s)
	if err != nil {
		return nil, err
	}
	if err := checkElements("policy document", top, documentElements); err != nil {
		return nil, err
	}
	p := &Document{}
	if p.Version, err = parseVersion(top); err != nil {
		return nil, err
	}
	if present(top, "Id") {
		if _, err := parseString("Id", top["Id"]); err != nil {
			return nil, err
		}
	}
	rawStatements, err := statementList(top)
	if err != nil {
		return nil, err
	}
	for i, rs := range rawStatements {
		st, err := parseStatement(fmt.Sprintf("Statement[%d]", i), rs)
		if err != nil {
			return nil, err
		}
		p.Statements = append(p.Statements, st)
	}
	return p, nil
}

// documentElements are the top-level elements of a policy document.
var documentElements = []string{"Version", "Id", "Statement"}

// statementElements are the elements of a statement.
var statementElements = []string{"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition"}

// documentText is the JSON text of a policy document: trimmed, and
// URL-decoded when it does not start with '{'.
func documentText(doc string) (string, error) {
	s := strings.TrimSpace(doc)
	if s == "" {
		return "", errors.New("policy document is empty")
	}
	if strings.HasPrefix(s, "{") {
		return s, nil
	}
	decoded, err := url.QueryUnescape(s)
	if err != nil {
		return "", fmt.Errorf("policy document is neither a JSON object nor URL-encoded JSON: %v", err)
	}
	s = strings.TrimSpace(decoded)
	if !strings.HasPrefix(s, "{") {
		return "", fmt.Errorf("policy document must be a JSON object, but it starts with %s", quotedStart(s))
	}
	return s, nil
}

// decodeDocument reads the top-level object of a document, numbers kept as
// written, and refuses anything after it.
func decodeDocument(s string) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var top map[string]json.RawMessage
	if err := dec.Decode(&top); err != nil {
		return nil, fmt.Errorf("policy document is not valid JSON: %v", err)
	}
	var extra json.RawMessage
	switch err := dec.Decode(&extra); {
	case err == io.EOF:
		return top, nil
	case err != nil:
		return nil, fmt.Errorf("policy document is not valid JSON after its top-level object: %v", err)
	default:
		return nil, errors.New("policy document is not valid JSON: unexpected data after its top-level object")
	}
}

// parseVersion reads the optional Version element, which must name a
// policy language version IAM accepts.
func parseVersion(top map[string]json.RawMessage) (string, error) {
	if !present(top, "Version") {
		return "", nil
	}
	v, err := parseString("Version", top["Version"])
	if err != nil {
		return "", err
	}
	if v != versionCurrent && v != versionLegacy {
		return "", fmt.Errorf("policy Version must be %q or %q, got %q", versionCurrent, versionLegacy, v)
	}
	return v, nil
}

// statementList reads the Statement element, a single statement or a
// non-empty list of them, leaving each statement raw.
func statementList(top map[string]json.RawMessage) ([]json.RawMessage, error) {
	if !present(top, "Statement") {
		return nil, errors.New("Statement is missing: a policy needs at least one statement")
	}
	raw := top["Statement"]
	switch jsonType(raw) {
	case "object":
		return []json.RawMessage{raw}, nil
	case "array":
		var list []json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, fmt.Errorf("Statement: %v", err)
		}
		if len(list) == 0 {
			return nil, errors.New("Statement must not be an empty list: a policy needs at least one statement")
		}
		return list, nil
	default:
		return nil, fmt.Errorf("Statement must be an object or a list of objects, got %s", jsonType(raw))
	}
}

func parseStatement(path string, raw json.RawMessage) (Statement, error) {
	var st Statement
	if t := jsonType(raw); t != "object" {
		return st, fmt.Errorf("%s must be an object, got %s", path, t)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return st, fmt.Errorf("%s: %v", path, err)
	}
	if err := checkElements(path, m, statementElements); err != nil {
		return st, err
	}
	var err error
	if present(m, "Sid") {
		if st.Sid, err = parseString(path+".Sid", m["Sid"]); err != nil {
			return st, err
		}
	}
	if st.Effect, err = parseEffect(path, m); err != nil {
		return st, err
	}
	if st.Principal, st.NotPrincipal, err = parseEither(path, m, "Principal", false, parsePrincipal); err != nil {
		return st, err
	}
	if st.Action, st.NotAction, err = parseEither(path, m, "Action", true, parseNames); err != nil {
		return st, err
	}
	if st.Resource, st.NotResource, err = parseEither(path, m, "Resource", false, parseNames); err != nil {
		return st, err
	}
	if present(m, "Condition") {
		if st.Condition, err = parseCondition(path+".Condition", m["Condition"]); err != nil {
			return st, err
		}
	}
	return st, nil
}

// parseEffect reads a statement's Effect, which must be Allow or Deny.
func parseEffect(path string, m map[string]json.RawMessage) (string, error) {
	if !present(m, "Effect") {
		return "", fmt.Errorf("%s.Effect is missing: it must be Allow or Deny", path)
	}
	effect, err := parseString(path+".Effect", m["Effect"])
	if err != nil {
		return "", err
	}
	if effect != "Allow" && effect != "Deny" {
		return "", fmt.Errorf("%s.Effect must be Allow or Deny, got %q", path, effect)
	}
	return effect, nil
}

// parseEither reads an element that has a negated twin (Principal and
// NotPrincipal, Action and NotAction, Resource and NotResource): at most
// one of the two may be present and, when required, one must be. The value
// read goes to x for the element and to notX for its twin.
func parseEither[T any](path string, m map[string]json.RawMessage, name string, required bool,
	parse func(path string, raw json.RawMessage) (T, error)) (x, notX T, err error) {
	notName := "Not" + name
	has, hasNot := present(m, name), present(m, notName)
	switch {
	case has && hasNot:
		err = fmt.Errorf("%s has both %s and %s; use one", path, name, notName)
	case has:
		x, err = parse(path+"."+name, m[name])
	case hasNot:
		notX, err = parse(path+"."+notName, m[notName])
	case required:
		err = fmt.Errorf("%s.%s is missing: a statement needs %s or %s", path, name, name, notName)
	}
	return x, notX, err
}

// parseNames reads Action, Resource and their twins: a string or a
// non-empty list of strings.
func parseNames(path string, raw json.RawMessage) ([]string, error) {
	return parseStringList(path, raw, false)
}

// present reports whether the object has the element with a non-null
// value.
func present(m map[string]json.RawMessage, k string) bool {
	raw, ok := m[k]
	return ok && !isNull(raw)
}

// checkElements refuses any element of the object at where that is not
// among known.
func checkElements(where string, m map[string]json.RawMessage, known []string) error {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if !slices.Contains(known, k) {
			return unknownElementError(where, k, known)
		}
	}
	return nil
}

func parsePrincipal(path string, raw json.RawMessage) (map[string][]string, error) {
	switch jsonType(raw) {
	case "string":
		s, _ := parseString(path, raw)
		if s != "*" {
			return nil, fmt.Errorf("%s must be \"*\" or an object such as {\"Federated\": %q}, got the string %q", path, GoogleFederatedPrincipal, s)
		}
		return map[string][]string{"*": {"*"}}, nil
	case "object":
	default:
		return nil, fmt.Errorf("%s must be \"*\" or an object, got %s", path, jsonType(raw))
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
		vals, err := parseStringList(path+"."+k, m[k], false)
		if err != nil {
			return nil, err
		}
		out[k] = vals
	}
	return out, nil
}

func parseCondition(path string, raw json.RawMessage) (map[string]map[string][]string, error) {
	if t := jsonType(raw); t != "object" {
		return nil, fmt.Errorf("%s must be an object of operators, got %s", path, t)
	}
	var ops map[string]json.RawMessage
	if err := json.Unmarshal(raw, &ops); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	out := make(map[string]map[string][]string, len(ops))
	for _, op := range slices.Sorted(maps.Keys(ops)) {
		opPath := path + "." + op
		if t := jsonType(ops[op]); t != "object" {
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
			vals, err := parseStringList(opPath+"."+k, keys[k], true)
			if err != nil {
				return nil, err
			}
			block[k] = vals
		}
		out[op] = block
	}
	return out, nil
}

// parseStringList reads a string or a list of strings. For condition values
// (scalars), numbers and booleans stand for their text and the list may be
// empty.
func parseStringList(path string, raw json.RawMessage, scalars bool) ([]string, error) {
	what := "a string or a list of strings"
	if scalars {
		what = "a string, number, boolean or a list of them"
	}
	switch jsonType(raw) {
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
			s, err := parseScalar(fmt.Sprintf("%s[%d]", path, i), it, scalars)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	case "string", "number", "boolean":
		if jsonType(raw) != "string" && !scalars {
			return nil, fmt.Errorf("%s must be %s, got %s", path, what, jsonType(raw))
		}
		s, err := parseScalar(path, raw, scalars)
		if err != nil {
			return nil, err
		}
		return []string{s}, nil
	default:
		return nil, fmt.Errorf("%s must be %s, got %s", path, what, jsonType(raw))
	}
}

func parseScalar(path string, raw json.RawMessage, scalars bool) (string, error) {
	switch t := jsonType(raw); t {
	case "string":
		return parseString(path, raw)
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

func parseString(path string, raw json.RawMessage) (string, error) {
	if t := jsonType(raw); t != "string" {
		return "", fmt.Errorf("%s must be a string, got %s", path, t)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%s: %v", path, err)
	}
	return s, nil
}

// jsonType names the JSON type of a raw value.
func jsonType(raw json.RawMessage) string {
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

func isNull(raw json.RawMessage) bool { return jsonType(raw) == "null" }

func unknownElementError(where, k string, known []string) error {
	for _, e := range known {
		if strings.EqualFold(e, k) {
			return fmt.Errorf("%s has the element %q: element names are case-sensitive, did you mean %q?", where, k, e)
		}
	}
	return fmt.Errorf("%s has the unknown element %q (known: %s)", where, k, strings.Join(known, ", "))
}

func quotedStart(s string) string {
	r := []rune(s)
	if len(r) > 20 {
		return fmt.Sprintf("%q...", string(r[:20]))
	}
	return fmt.Sprintf("%q", s)
}

// GoogleTrust builds the trust policy for a Google service account:
// one Allow statement for the Federated principal accounts.google.com and
// sts:AssumeRoleWithWebIdentity, with StringEquals conditions on
// accounts.google.com:aud (both the unique ID and the email, so tokens from
// the metadata server or IAM Credentials API and tokens minted from a key
// file both work), accounts.google.com:sub (the unique ID) and
// accounts.google.com:oaud (the audience).
func GoogleTrust(uniqueID, email, audience string) *Document {
	aud := []string{uniqueID}
	if email != "" && email != uniqueID {
		aud = append(aud, email)
	}
	return &Document{
		Version: versionCurrent,
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
func (p *Document) JSON() string {
	if p == nil {
		return "null"
	}
	var b strings.Builder
	b.WriteByte('{')
	if p.Version != "" {
		b.WriteString(`"Version":`)
		b.WriteString(quoteJSON(p.Version))
		b.WriteByte(',')
	}
	b.WriteString(`"Statement":[`)
	for i, st := range p.Statements {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(statementJSON(st))
	}
	b.WriteString("]}")
	return b.String()
}

func statementJSON(st Statement) string {
	var b strings.Builder
	b.WriteByte('{')
	n := 0
	field := func(name string) {
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		b.WriteString(quoteJSON(name))
		b.WriteByte(':')
	}
	if st.Sid != "" {
		field("Sid")
		b.WriteString(quoteJSON(st.Sid))
	}
	if st.Effect != "" {
		field("Effect")
		b.WriteString(quoteJSON(st.Effect))
	}
	if len(st.Principal) > 0 {
		field("Principal")
		writePrincipal(&b, st.Principal)
	}
	if len(st.NotPrincipal) > 0 {
		field("NotPrincipal")
		writePrincipal(&b, st.NotPrincipal)
	}
	for _, l := range []struct {
		name string
		vals []string
	}{{"Action", st.Action}, {"NotAction", st.NotAction}, {"Resource", st.Resource}, {"NotResource", st.NotResource}} {
		if len(l.vals) > 0 {
			field(l.name)
			writeList(&b, l.vals)
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
			b.WriteString(quoteJSON(op))
			b.WriteString(":{")
			for j, k := range sortedConditionKeys(st.Condition[op]) {
				if j > 0 {
					b.WriteByte(',')
				}
				b.WriteString(quoteJSON(k))
				b.WriteByte(':')
				writeList(&b, st.Condition[op][k])
			}
			b.WriteByte('}')
		}
		b.WriteByte('}')
	}
	b.WriteByte('}')
	return b.String()
}

// sortedConditionKeys sorts condition keys case-insensitively, ties broken by
// the exact text, so the order does not depend on how keys are cased.
func sortedConditionKeys(m map[string][]string) []string {
	keys := slices.Sorted(maps.Keys(m))
	sort.SliceStable(keys, func(i, j int) bool {
		return strings.ToLower(keys[i]) < strings.ToLower(keys[j])
	})
	return keys
}

func writePrincipal(b *strings.Builder, m map[string][]string) {
	if len(m) == 1 {
		if v, ok := m["*"]; ok && len(uniqueSorted(v)) == 1 && v[0] == "*" {
			b.WriteString(`"*"`)
			return
		}
	}
	b.WriteByte('{')
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(quoteJSON(k))
		b.WriteByte(':')
		writeList(b, m[k])
	}
	b.WriteByte('}')
}

func writeList(b *strings.Builder, vals []string) {
	u := uniqueSorted(vals)
	if len(u) == 1 {
		b.WriteString(quoteJSON(u[0]))
		return
	}
	b.WriteByte('[')
	for i, v := range u {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(quoteJSON(v))
	}
	b.WriteByte(']')
}

func uniqueSorted(vals []string) []string {
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

// quoteJSON renders s as a JSON string without HTML escaping.
func quoteJSON(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // encoding a string cannot fail
	return strings.TrimSuffix(b.String(), "\n")
}

// Canonical parses doc and renders it as JSON does, with the
// statements sorted by their rendering, so the result does not depend on
// statement order either.
func Canonical(doc string) (string, error) {
	p, err := Parse(doc)
	if err != nil {
		return "", err
	}
	return canonical(p, false), nil
}

// canonical renders p with sorted statements; foldKeys lower-cases
// condition keys, for comparisons.
func canonical(p *Document, foldKeys bool) string {
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
		rendered[i] = statementJSON(st)
	}
	sort.Strings(rendered)
	var b strings.Builder
	b.WriteByte('{')
	if p.Version != "" {
		b.WriteString(`"Version":`)
		b.WriteString(quoteJSON(p.Version))
		b.WriteByte(',')
	}
	b.WriteString(`"Statement":[`)
	b.WriteString(strings.Join(rendered, ","))
	b.WriteString("]}")
	return b.String()
}

// Equal reports whether two policy documents mean the same: the
// order of statements, keys and list members, a single value against a list
// of one, whitespace, URL encoding and the case of condition keys make no
// difference, and an empty Sid equals a missing one.
func Equal(a, b string) (bool, error) {
	pa, err := Parse(a)
	if err != nil {
		return false, fmt.Errorf("first policy: %w", err)
	}
	pb, err := Parse(b)
	if err != nil {
		return false, fmt.Errorf("second policy: %w", err)
	}
	return canonical(pa, true) == canonical(pb, true), nil
}
