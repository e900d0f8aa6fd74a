package airflow

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// ExtraObject reads an extra as configured: one JSON object, with no key
// repeated at any depth. Airflow's Python would keep the last of repeated
// keys silently; a configuration that repeats one is almost always a
// mistake, so it is refused, naming the key. Errors say where the text
// goes wrong (line and column) but never quote it: an extra may hold
// secrets.
func ExtraObject(s string) (map[string]any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, syntaxError(s, dec, err)
	}
	if tok != json.Delim('{') {
		return nil, fmt.Errorf("got a JSON %s", tokenKind(tok))
	}
	obj, err := readObject(s, dec, "")
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		line, col := position(s, dec.InputOffset())
		return nil, fmt.Errorf("unexpected text after the JSON object at line %d, column %d", line, col)
	}
	return obj, nil
}

// readObject reads the members of an object whose '{' was just read.
func readObject(s string, dec *json.Decoder, at string) (map[string]any, error) {
	obj := map[string]any{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, syntaxError(s, dec, err)
		}
		key, _ := tok.(string)
		if _, dup := obj[key]; dup {
			line, col := position(s, dec.InputOffset())
			return nil, fmt.Errorf("the key %q appears more than once%s (again at line %d, column %d); "+
				"Airflow would keep only the last", key, inObject(at), line, col)
		}
		v, err := readValue(s, dec, joinKey(at, key))
		if err != nil {
			return nil, err
		}
		obj[key] = v
	}
	if _, err := dec.Token(); err != nil { // '}'
		return nil, syntaxError(s, dec, err)
	}
	return obj, nil
}

func readValue(s string, dec *json.Decoder, at string) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, syntaxError(s, dec, err)
	}
	switch tok {
	case json.Delim('{'):
		return readObject(s, dec, at)
	case json.Delim('['):
		var list []any
		for dec.More() {
			v, err := readValue(s, dec, at)
			if err != nil {
				return nil, err
			}
			list = append(list, v)
		}
		if _, err := dec.Token(); err != nil { // ']'
			return nil, syntaxError(s, dec, err)
		}
		return list, nil
	default:
		return tok, nil
	}
}

func joinKey(at, key string) string {
	if at == "" {
		return key
	}
	return at + "." + key
}

func inObject(at string) string {
	if at == "" {
		return ""
	}
	return fmt.Sprintf(" in %q", at)
}

// syntaxError says where s stops being JSON. The streaming decoder's
// offsets are approximate, so s is decoded once more whole.
func syntaxError(s string, dec *json.Decoder, err error) error {
	var v any
	var se *json.SyntaxError
	if uerr := json.Unmarshal([]byte(s), &v); errors.As(uerr, &se) {
		line, col := position(s, max(se.Offset-1, 0))
		return fmt.Errorf("not valid JSON at line %d, column %d: %s", line, col, se.Error())
	} else if uerr != nil {
		// The text ends before the value does.
		line, col := position(s, int64(len(s)))
		return fmt.Errorf("not valid JSON: the text ends early, at line %d, column %d", line, col)
	}
	line, col := position(s, dec.InputOffset())
	return fmt.Errorf("not valid JSON at line %d, column %d: %s", line, col, err)
}

// position is the 1-based line and column of byte offset in s.
func position(s string, offset int64) (line, col int) {
	if offset > int64(len(s)) {
		offset = int64(len(s))
	}
	before := s[:offset]
	line = strings.Count(before, "\n") + 1
	col = len(before) - strings.LastIndex(before, "\n")
	return line, col
}

func tokenKind(tok json.Token) string {
	switch tok.(type) {
	case nil:
		return "null"
	case json.Delim:
		return "array"
	case string:
		return "string"
	case bool:
		return "boolean"
	default:
		return "number"
	}
}

// MergeExtra is extra (which may be empty) with the members of add after
// its own, as one compact JSON object. A key of add that extra has too
// takes add's value.
func MergeExtra(extra, add string) (string, error) {
	var members []member
	if strings.TrimSpace(extra) != "" {
		m, err := parseExtra(extra)
		if err != nil {
			return "", err
		}
		members = m
	}
	more, err := parseExtra(add)
	if err != nil {
		return "", err
	}
	for _, m := range more {
		if i := slices.IndexFunc(members, func(o member) bool { return o.key == m.key }); i >= 0 {
			members[i].value = m.value
			continue
		}
		members = append(members, m)
	}
	return encodeMembers(members), nil
}

// WithoutExtraKeys is extra without the top-level keys, and whether one of
// them was not there.
func WithoutExtraKeys(extra string, keys []string) (string, bool, error) {
	members, err := parseExtra(extra)
	if err != nil {
		return "", false, err
	}
	found := 0
	kept := members[:0]
	for _, m := range members {
		if slices.Contains(keys, m.key) {
			found++
			continue
		}
		kept = append(kept, m)
	}
	return encodeMembers(kept), found < len(keys), nil
}
