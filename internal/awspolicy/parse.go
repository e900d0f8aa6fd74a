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
	"strings"
)

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
