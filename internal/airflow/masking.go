package airflow

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// UnmaskExtra puts known values back where Airflow masked them, and returns
// the extra in canonical form: compact, keys sorted, numbers as written (the
// form Terraform's jsonencode produces), so an imported extra compares equal
// to a configured one.
//
// Airflow replaces the value of every extra key it treats as sensitive (any
// key whose name contains password, secret, token, api_key, private_key and
// so on, plus names an operator configures) with "***", at any depth, and
// Airflow 2 also masks any value equal to a secret it knows. Which keys are
// masked therefore cannot be predicted; what can be seen is a "***" where a
// value was expected. For each such place, UnmaskExtra takes the value at the
// same path in known (the configuration, or the prior state). Everything
// else comes from returned, so keys added, removed or changed out of band
// still show as drift. Where known has nothing at that path the mask stays.
//
// An empty returned is passed through; a known that is empty or not JSON
// fills nothing in.
func UnmaskExtra(returned, known string) (string, error) {
	if returned == "" {
		return "", nil
	}
	ret, err := decodeJSON(returned)
	if err != nil {
		return "", fmt.Errorf("decoding extra returned by Airflow: %w", err)
	}
	if k, err := decodeJSON(known); known != "" && err == nil {
		ret, _ = unmask(ret, k)
	}
	out, err := json.Marshal(ret)
	if err != nil {
		return "", fmt.Errorf("encoding extra: %w", err)
	}
	return string(out), nil
}

func decodeJSON(s string) (any, error) {
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// unmask returns ret with masked leaves replaced from known, and whether it
// replaced anything.
func unmask(ret, known any) (any, bool) {
	switch r := ret.(type) {
	case string:
		return unmaskString(r, known)
	case map[string]any:
		k, ok := known.(map[string]any)
		if !ok {
			return r, false
		}
		return r, unmaskMap(r, k)
	case []any:
		k, ok := known.([]any)
		if !ok || len(k) != len(r) {
			return r, false
		}
		return r, unmaskList(r, k)
	default:
		return ret, false
	}
}

// unmaskString is the known value for a masked string, unless that is
// missing or masked too.
func unmaskString(r string, known any) (any, bool) {
	if r == MaskedValue && known != nil {
		if ks, ok := known.(string); !ok || ks != MaskedValue {
			return known, true
		}
	}
	return r, false
}

// unmaskMap unmasks, in place, the values of r whose keys known has too.
func unmaskMap(r, known map[string]any) bool {
	changed := false
	for key, v := range r {
		kv, present := known[key]
		if !present {
			continue
		}
		if nv, c := unmask(v, kv); c {
			r[key] = nv
			changed = true
		}
	}
	return changed
}

// unmaskList unmasks, in place, each item of r from the item of known at
// the same index.
func unmaskList(r, known []any) bool {
	changed := false
	for i := range r {
		if nv, c := unmask(r[i], known[i]); c {
			r[i] = nv
			changed = true
		}
	}
	return changed
}
