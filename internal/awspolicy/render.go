package awspolicy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
)

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
	rendered := make([]string, len(p.Statements))
	for i, st := range p.Statements {
		rendered[i] = statementJSON(st)
	}
	return documentJSON(p.Version, rendered)
}

// documentJSON is a policy document of the given version and rendered
// statements, in that order.
func documentJSON(version string, statements []string) string {
	var b strings.Builder
	b.WriteByte('{')
	if version != "" {
		b.WriteString(`"Version":`)
		b.WriteString(quoteJSON(version))
		b.WriteByte(',')
	}
	b.WriteString(`"Statement":[`)
	b.WriteString(strings.Join(statements, ","))
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
	if ops := conditionOperators(st.Condition); len(ops) > 0 {
		field("Condition")
		writeCondition(&b, st.Condition, ops)
	}
	b.WriteByte('}')
	return b.String()
}

// conditionOperators are the sorted operators of a Condition that have at
// least one key.
func conditionOperators(cond map[string]map[string][]string) []string {
	ops := make([]string, 0, len(cond))
	for op, keys := range cond {
		if len(keys) > 0 {
			ops = append(ops, op)
		}
	}
	sort.Strings(ops)
	return ops
}

// writeCondition renders the Condition's blocks of the operators ops, in
// that order, each with its keys in sortedConditionKeys order.
func writeCondition(b *strings.Builder, cond map[string]map[string][]string, ops []string) {
	b.WriteByte('{')
	for i, op := range ops {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(quoteJSON(op))
		b.WriteString(":{")
		for j, k := range sortedConditionKeys(cond[op]) {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(quoteJSON(k))
			b.WriteByte(':')
			writeList(b, cond[op][k])
		}
		b.WriteByte('}')
	}
	b.WriteByte('}')
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
	return documentJSON(p.Version, rendered)
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
