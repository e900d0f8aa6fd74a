package airflow

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// This file reads and writes the value of a secret that holds one
// connection, as Airflow's secrets backends do: the value is the URI form,
// or the JSON form when it starts with "{" (BaseSecretsBackend's
// deserialize_connection).

// Secret formats.
const (
	FormatURI  = "uri"
	FormatJSON = "json"
)

// EncodeSecretValue renders c in format (FormatURI or FormatJSON).
// Description is left out of both: the URI form has no place for it, and
// Amazon's SecretsManagerBackend drops it from the JSON form.
func EncodeSecretValue(c *Connection, format string) (string, error) {
	if c == nil {
		return "", errors.New("rendering secret value: connection is nil")
	}
	withoutDescription := *c
	withoutDescription.Description = nil
	switch format {
	case FormatURI:
		return ConnectionURI(&withoutDescription)
	case FormatJSON:
		return ConnectionJSON(&withoutDescription)
	}
	return "", fmt.Errorf("rendering secret value: unknown format %q (want %q or %q)", format, FormatURI, FormatJSON)
}

// SecretValueFormat says which form a backend reads value as.
func SecretValueFormat(value string) string {
	if strings.HasPrefix(strings.TrimSpace(value), "{") {
		return FormatJSON
	}
	return FormatURI
}

// DecodeSecretValue reads value as a secrets backend does: trimmed, then
// the JSON form if it starts with "{", else the URI form. It returns the
// connection and the format it found.
func DecodeSecretValue(value string) (*Connection, string, error) {
	value = strings.TrimSpace(value)
	if value == "" {
		return nil, "", errors.New("the secret value is empty")
	}
	if SecretValueFormat(value) == FormatJSON {
		c, err := ParseConnectionJSON(value)
		return c, FormatJSON, err
	}
	c, err := ParseConnectionURI(value)
	return c, FormatURI, err
}

// ParseConnectionJSON parses the JSON form as Connection.from_json does:
// extra may be an object or a string, a falsy extra, conn_type or port is
// dropped, conn_type is normalised ("postgresql" is "postgres", "-" is
// "_"), port may be a number or a numeric string, and an empty password is
// ignored. Any key other than a connection field is an error, as it is a
// TypeError in Airflow.
func ParseConnectionJSON(value string) (*Connection, error) {
	members, err := parseObject(value)
	if err != nil {
		return nil, fmt.Errorf("parsing connection JSON: %w", err)
	}
	c := &Connection{}
	for _, m := range members {
		if string(m.value) == "null" {
			continue
		}
		if err := setJSONMember(c, m); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// setJSONMember sets the field of c that one key of the JSON form names.
func setJSONMember(c *Connection, m member) error {
	var err error
	switch m.key {
	case FieldConnType:
		var s string
		if s, err = memberString(m); err == nil && s != "" {
			c.ConnType = normalizeConnType(s)
		}
	case FieldDescription:
		err = setText(&c.Description, m, false)
	case FieldHost:
		err = setText(&c.Host, m, false)
	case FieldLogin:
		err = setText(&c.Login, m, false)
	case FieldSchema:
		err = setText(&c.Schema, m, false)
	case FieldPassword:
		err = setText(&c.Password, m, true) // Airflow's setter ignores an empty password
	case FieldPort:
		c.Port, err = jsonPort(m.value)
	case FieldExtra:
		c.Extra, err = jsonExtra(m.value)
	default:
		err = fmt.Errorf("parsing connection JSON: unexpected key %q (Airflow accepts only conn_type, description, host, login, password, schema, port and extra)", m.key)
	}
	return err
}

// setText sets an optional string field from a member, which must be a
// string; skipEmpty leaves the field alone for "".
func setText(dst **string, m member, skipEmpty bool) error {
	s, err := memberString(m)
	if err != nil {
		return err
	}
	if s != "" || !skipEmpty {
		*dst = &s
	}
	return nil
}

// StandardizeAWSSecretJSON rewrites the keys of a JSON secret as Amazon's
// SecretsManagerBackend does before Airflow parses it: each connection
// field takes the value of the first key (in the secret's order) among its
// aliases, and every other key (description included) is dropped.
func StandardizeAWSSecretJSON(value string) (string, error) {
	members, err := parseObject(value)
	if err != nil {
		return "", fmt.Errorf("parsing connection JSON: %w", err)
	}
	aliases := []struct {
		field string
		words []string
	}{
		{FieldLogin, []string{"login", "user", "username", "user_name"}},
		{FieldPassword, []string{"password", "pass", "key"}},
		{FieldHost, []string{"host", "remote_host", "server"}},
		{FieldPort, []string{"port"}},
		{FieldSchema, []string{"database", "schema"}},
		{FieldConnType, []string{"conn_type", "conn_id", "connection_type", "engine"}},
		{FieldExtra, []string{"extra"}},
	}
	var out []member
	for _, a := range aliases {
		for _, m := range members {
			if slices.Contains(a.words, m.key) {
				out = append(out, member{key: a.field, value: m.value})
				break
			}
		}
	}
	return encodeMembers(out), nil
}

// DifferingField compares two connections as Airflow would see them and
// returns the first field that differs, or "". The password is compared
// only when withPassword is set; description is not compared.
func DifferingField(a, b *Connection, withPassword bool) string {
	for _, f := range []string{FieldConnType, FieldHost, FieldLogin, FieldSchema, FieldPassword, FieldPort, FieldExtra} {
		if f == FieldPassword && !withPassword {
			continue
		}
		if !SameField(a, b, f) {
			return f
		}
	}
	return ""
}

// SameField says whether one field of two connections is the same as
// Airflow would see it: a missing string field equals "", a missing port
// equals 0, a missing extra equals "{}", and extras compare as JSON values.
func SameField(a, b *Connection, field string) bool {
	switch field {
	case FieldConnType:
		return a.ConnType == b.ConnType
	case FieldHost:
		return strOrEmpty(a.Host) == strOrEmpty(b.Host)
	case FieldLogin:
		return strOrEmpty(a.Login) == strOrEmpty(b.Login)
	case FieldSchema:
		return strOrEmpty(a.Schema) == strOrEmpty(b.Schema)
	case FieldPassword:
		return strOrEmpty(a.Password) == strOrEmpty(b.Password)
	case FieldPort:
		return intOrZero(a.Port) == intOrZero(b.Port)
	case FieldExtra:
		return sameExtra(a.Extra, b.Extra)
	}
	return true
}

// FieldValue returns a connection field by name, for messages; the
// password is never returned.
func FieldValue(c *Connection, field string) string {
	switch field {
	case FieldConnType:
		return c.ConnType
	case FieldHost:
		return strOrEmpty(c.Host)
	case FieldLogin:
		return strOrEmpty(c.Login)
	case FieldSchema:
		return strOrEmpty(c.Schema)
	case FieldPort:
		if c.Port == nil {
			return ""
		}
		return strconv.FormatInt(*c.Port, 10)
	case FieldExtra:
		return strOrEmpty(c.Extra)
	}
	return ""
}

func strOrEmpty(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func intOrZero(i *int64) int64 {
	if i == nil {
		return 0
	}
	return *i
}

func sameExtra(a, b *string) bool {
	decode := func(s *string) (any, bool) {
		if s == nil || strings.TrimSpace(*s) == "" {
			return map[string]any{}, true
		}
		var v any
		if err := json.Unmarshal([]byte(*s), &v); err != nil {
			return nil, false
		}
		return v, true
	}
	x, okX := decode(a)
	y, okY := decode(b)
	if !okX || !okY {
		return strOrEmpty(a) == strOrEmpty(b)
	}
	return reflect.DeepEqual(x, y)
}

// parseObject decodes a JSON object into its members, in Python's dict
// order.
func parseObject(value string) ([]member, error) {
	if !json.Valid([]byte(value)) {
		return nil, errors.New("the value is not valid JSON")
	}
	members, err := parseExtra(value)
	if err != nil {
		return nil, errors.New(strings.Replace(err.Error(), "extra is", "the value is", 1))
	}
	return members, nil
}

func memberString(m member) (string, error) {
	var s string
	if err := json.Unmarshal(m.value, &s); err != nil {
		return "", fmt.Errorf("parsing connection JSON: %s must be a string, not %s", m.key, m.value)
	}
	return s, nil
}

// jsonPort is int(port) for a truthy port: a number (truncated toward
// zero, as int() does with a float) or a string of an integer.
func jsonPort(raw json.RawMessage) (*int64, error) {
	bad := fmt.Errorf("parsing connection JSON: expected an integer port, not %s", raw)
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, bad
	}
	var port int64
	switch v := v.(type) {
	case json.Number:
		f, err := v.Float64()
		if err != nil || math.IsInf(f, 0) || math.Abs(f) > math.MaxInt64 {
			return nil, bad
		}
		if i, err := v.Int64(); err == nil {
			port = i
		} else {
			port = int64(f)
		}
	case string:
		if v == "" {
			return nil, nil
		}
		i, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return nil, bad
		}
		port = i
	case bool:
		if v {
			port = 1
		}
	default:
		return nil, bad
	}
	if port == 0 {
		return nil, nil
	}
	return &port, nil
}

// jsonExtra is from_json's extra: a string is kept as it is, an object is
// re-encoded, and a falsy value is dropped.
func jsonExtra(raw json.RawMessage) (*string, error) {
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		if s == "" {
			return nil, nil
		}
		if _, err := parseExtra(s); err != nil {
			return nil, fmt.Errorf("parsing connection JSON: %w", err)
		}
		return &s, nil
	case '{':
		members, err := parseExtra(string(raw))
		if err != nil {
			return nil, fmt.Errorf("parsing connection JSON: %w", err)
		}
		if len(members) == 0 {
			return nil, nil
		}
		s := encodeMembers(members)
		return &s, nil
	}
	return nil, fmt.Errorf("parsing connection JSON: extra must be a JSON object or a string holding one, not %s", raw)
}
