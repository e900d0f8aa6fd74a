package airflow

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file renders and parses connections in the two textual forms Airflow
// reads from AIRFLOW_CONN_<ID> variables and secrets backends: the URI form
// (airflow.models.connection.Connection.get_uri and Connection(uri=...)) and
// the JSON form (Connection.as_json and Connection.from_json).
//
// The rules are ported from Airflow 3's connection.py; the parts of
// CPython's urllib.parse they rely on are in urlparse.go. Where Airflow 2
// behaves differently, Airflow 3 is followed; the differences are noted
// where they apply.

// extraQueryKey is the query parameter that carries the whole extra as a
// JSON string when it cannot be flattened (Connection.EXTRA_KEY).
const extraQueryKey = "__extra__"

// ConnectionURI renders c exactly as Airflow's Connection.get_uri() does
// (ConnectionID is not part of the URI). An invalid extra (not a JSON
// object) is an error naming the extra field.
//
// Two inputs that Airflow would render into a URI it cannot read back are
// refused as well: a conn_type that is not a URI scheme (an ASCII letter
// followed by letters, digits, "+", "-", "." or "_"; "_" is rendered as
// "-"), and a port outside 0-65535. A port of 0 is left out, as Airflow
// does.
//
// Airflow's rendering is lossy in a few places, which ParseConnectionURI
// reproduces: conn_type is lower-cased and "-" comes back as "_" (and
// "postgresql" as "postgres"); an empty password is dropped, as Airflow
// ignores it; host letters before the first character
// that needs percent-encoding are lower-cased unless the host contains "/";
// a missing host or schema comes back as ""; an empty login without a
// password is dropped, and a password without a login gives an empty
// login; flattened extra values that are themselves JSON (such as "1" or
// "true") come back decoded.
func ConnectionURI(c *Connection) (string, error) {
	extra, err := renderableExtra(c)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString(uriScheme(c.ConnType))
	protocol, host := splitHostProtocol(c.Host, c.ConnType)
	b.WriteString(protocol)
	authority := uriAuthority(c.Login, c.Password)
	b.WriteString(authority)
	schema := strOrEmpty(c.Schema)
	b.WriteString(uriHostBlock(host, c.Port, authority != "", schema))
	if c.Extra != nil && *c.Extra != "" {
		if schema != "" {
			b.WriteString("?")
		} else {
			b.WriteString("/?")
		}
		query, err := uriQuery(*c.Extra, extra)
		if err != nil {
			return "", err
		}
		b.WriteString(query)
	}
	return b.String(), nil
}

// renderableExtra refuses a connection that ConnectionURI cannot render
// into a URI Airflow reads back (no connection, a conn_type that is not a
// URI scheme, a port outside 0-65535, an extra that is not a JSON object)
// and returns the extra's members.
func renderableExtra(c *Connection) ([]member, error) {
	if c == nil {
		return nil, errors.New("rendering connection URI: connection is nil")
	}
	if err := checkConnType(c.ConnType); err != nil {
		return nil, err
	}
	if c.Port != nil && (*c.Port < 0 || *c.Port > 65535) {
		return nil, fmt.Errorf("rendering connection URI: port %d is outside 0-65535", *c.Port)
	}
	if c.Extra == nil || *c.Extra == "" {
		return nil, nil
	}
	return parseExtra(*c.Extra)
}

// uriScheme is the URI's start: conn_type lower-cased with "_" as "-",
// then "://", or just "//" without a conn_type.
func uriScheme(connType string) string {
	if connType == "" {
		return "//"
	}
	return strings.ReplaceAll(strings.ToLower(connType), "_", "-") + "://"
}

// splitHostProtocol splits a host with "://" into the protocol, which is
// written before the authority as is (with its "://"), and the rest,
// unless the protocol equals conn_type, in which case the whole host is
// percent-encoded as the host. (Airflow 2 always splits the protocol off.)
func splitHostProtocol(host *string, connType string) (protocol, rest string) {
	h := strOrEmpty(host)
	p, after, ok := strings.Cut(h, "://")
	if !ok || p == connType {
		return "", h
	}
	if p == "" {
		return "", after
	}
	return p + "://", after
}

// uriAuthority is the percent-encoded login and password followed by "@",
// or "" when there is neither. Airflow ignores an empty password (its
// password setter stores only a non-empty one, in Airflow 2 and 3), so ""
// is the same as none.
func uriAuthority(login, password *string) string {
	authority := ""
	if login != nil {
		authority += pyQuote(*login, false)
	}
	if password != nil && *password != "" {
		authority += ":" + pyQuote(*password, false)
	}
	if authority == "" {
		return ""
	}
	return authority + "@"
}

// uriHostBlock is the percent-encoded host, the port unless it is 0, and
// "/" with the percent-encoded schema unless it is empty. A port with
// neither host nor credentials needs an "@" before it.
func uriHostBlock(host string, port *int64, hasAuthority bool, schema string) string {
	block := pyQuote(host, false)
	if port != nil && *port != 0 {
		if block == "" && !hasAuthority {
			block += "@"
		}
		block += ":" + strconv.FormatInt(*port, 10)
	}
	if schema != "" {
		block += "/" + pyQuote(schema, false)
	}
	return block
}

// uriQuery is the query that carries the extra. Extras are flattened into
// query parameters only when every value is a string (Airflow 3; Airflow 2
// also tried other scalars, which never survived its equality check) and
// there is at least one. Otherwise the extra string itself, unchanged, is
// the value of __extra__.
func uriQuery(extraText string, extra []member) (string, error) {
	if !allStrings(extra) {
		return extraQueryKey + "=" + pyQuote(extraText, true), nil
	}
	var b strings.Builder
	for i, m := range extra {
		var v string
		if err := json.Unmarshal(m.value, &v); err != nil {
			return "", fmt.Errorf("rendering connection URI: extra key %q: %w", m.key, err)
		}
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(pyQuote(m.key, true))
		b.WriteByte('=')
		b.WriteString(pyQuote(v, true))
	}
	return b.String(), nil
}

// allStrings reports whether there are members and every value is a JSON
// string.
func allStrings(members []member) bool {
	if len(members) == 0 {
		return false
	}
	for _, m := range members {
		if !m.isString() {
			return false
		}
	}
	return true
}

// ParseConnectionURI parses a URI the way Airflow does
// (Connection(uri=...)); the result's ConnectionID is "". Errors name what
// is wrong.
//
// As in Airflow, Host and Schema are never nil (a missing one is ""), Login
// and Password are nil when the URI has no "@" or no ":" in its user
// information (an empty password is nil too: Airflow ignores it), and
// Port is nil when the URI has none. Extra is nil when the
// URI has no query or an empty __extra__. Without __extra__, each query
// parameter becomes an extra key; a non-empty value that is valid JSON is
// decoded (Airflow 3; Airflow 2 keeps every value a string). The extra
// built from parameters is compact JSON with keys in the order they first
// appear; numbers keep their text. A parameter whose value Python would
// read as NaN or Infinity is an error, since JSON cannot hold it.
func ParseConnectionURI(uri string) (*Connection, error) {
	scheme, rest, withProtocol, err := splitConnectionURI(uri)
	if err != nil {
		return nil, err
	}
	c := &Connection{ConnType: normalizeConnType(scheme)}
	host := rest.netlocHostname()
	if host != "" && withProtocol && rest.scheme != "" {
		host = rest.scheme + "://" + host
	}
	c.Host = &host
	schema := uriSchema(rest.path)
	c.Schema = &schema
	c.Login, c.Password = uriCredentials(rest)
	if c.Port, err = rest.port(); err != nil {
		return nil, err
	}
	if c.Extra, err = uriExtra(rest.query); err != nil {
		return nil, err
	}
	return c, nil
}

// splitConnectionURI takes the conn_type off the URI as Airflow does and
// splits the rest, whose scheme is the host's protocol when the URI has a
// second "://" (withProtocol).
func splitConnectionURI(uri string) (scheme string, rest splitResult, withProtocol bool, err error) {
	if uri == "" {
		return "", rest, false, errors.New("parsing connection URI: the URI is empty")
	}
	schemes := strings.Count(uri, "://")
	if schemes > 2 {
		return "", rest, false, errors.New(`parsing connection URI: more than two "://" in the URI`)
	}
	withProtocol = schemes == 2
	parts, err := pyURLSplit(uri)
	if err != nil {
		return "", rest, false, err
	}
	replacement := "//"
	if withProtocol {
		replacement = ""
	}
	restText := strings.ReplaceAll(uri, parts.scheme+"://", replacement)
	if withProtocol {
		first, _, _ := strings.Cut(restText, "://")
		if strings.ContainsAny(first, "@:") {
			return "", rest, false, errors.New(`parsing connection URI: the protocol of the host (before its "://") contains "@" or ":"`)
		}
	}
	rest, err = pyURLSplit(restText)
	return parts.scheme, rest, withProtocol, err
}

// uriSchema is the unquoted path without its first character (the "/").
func uriSchema(path string) string {
	if _, size := utf8.DecodeRuneInString(path); size > 0 {
		return pyUnquote(path[size:])
	}
	return ""
}

// uriCredentials are the unquoted login and password: both nil without
// user information, the password nil without ":" or when empty (Airflow
// ignores an empty password).
func uriCredentials(r splitResult) (login, password *string) {
	user, pw, ok := r.userinfo()
	if !ok {
		return nil, nil
	}
	user = pyUnquote(user)
	if pw != nil && *pw != "" {
		p := pyUnquote(*pw)
		password = &p
	}
	return &user, password
}

// uriExtra is the extra a URI's query carries, nil when there is none or
// __extra__ is empty; it must be a JSON object.
func uriExtra(query string) (*string, error) {
	if query == "" {
		return nil, nil
	}
	extra, err := extraFromQuery(query)
	if err != nil || extra == "" {
		return nil, err
	}
	if _, err := parseExtra(extra); err != nil {
		return nil, fmt.Errorf("parsing connection URI: %w", err)
	}
	return &extra, nil
}

// ConnectionJSON renders the JSON form Airflow accepts in AIRFLOW_CONN_<ID>
// and its secrets backends (as Connection.as_json() does, with extra as in
// as_json), keys sorted, compact.
//
// As in as_json, nil fields and an empty password (which Airflow ignores)
// are left out, extra is a JSON object (not a
// string) and is left out when it is empty, and conn_id is not included.
// conn_type is always included.
func ConnectionJSON(c *Connection) (string, error) {
	if c == nil {
		return "", errors.New("rendering connection JSON: connection is nil")
	}
	fields, err := jsonTextFields(c)
	if err != nil {
		return "", err
	}
	if c.Port != nil {
		fields[FieldPort] = json.RawMessage(strconv.FormatInt(*c.Port, 10))
	}
	if c.Extra != nil && *c.Extra != "" {
		extra, err := parseExtra(*c.Extra)
		if err != nil {
			return "", err
		}
		if len(extra) > 0 {
			fields[FieldExtra] = json.RawMessage(encodeMembers(extra))
		}
	}
	out, err := marshalNoEscape(fields)
	if err != nil {
		return "", fmt.Errorf("rendering connection JSON: %w", err)
	}
	return string(out), nil
}

// jsonTextFields are the JSON form's string fields: conn_type always, the
// others when set, an empty password left out as Airflow ignores it.
func jsonTextFields(c *Connection) (map[string]json.RawMessage, error) {
	fields := map[string]json.RawMessage{}
	for _, f := range []struct {
		key   string
		value *string
	}{
		{FieldConnType, &c.ConnType}, {FieldDescription, c.Description}, {FieldHost, c.Host},
		{FieldLogin, c.Login}, {FieldPassword, c.Password}, {FieldSchema, c.Schema},
	} {
		if f.value == nil || (f.key == FieldPassword && *f.value == "") {
			continue
		}
		raw, err := marshalNoEscape(*f.value)
		if err != nil {
			return nil, fmt.Errorf("rendering connection JSON: %s: %w", f.key, err)
		}
		fields[f.key] = raw
	}
	return fields, nil
}

// normalizeConnType is Connection._normalize_conn_type: "postgresql" is
// "postgres", and "-" is "_".
func normalizeConnType(connType string) string {
	if connType == "postgresql" {
		return "postgres"
	}
	return strings.ReplaceAll(connType, "-", "_")
}

var connTypeScheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.\-_]*$`)

func checkConnType(connType string) error {
	if connType == "" || connTypeScheme.MatchString(connType) {
		return nil
	}
	return fmt.Errorf("rendering connection URI: conn_type %q cannot be a URI scheme: it must be an ASCII letter followed by letters, digits, \"+\", \"-\", \".\" or \"_\"", connType)
}

// member is one key of a JSON object, with its value as raw JSON.
type member struct {
	key   string
	value json.RawMessage
}

func (m member) isString() bool {
	return len(m.value) > 0 && m.value[0] == '"'
}

// parseExtra decodes an extra, which must be a JSON object, into its keys in
// the order Python's dict would keep them: a repeated key keeps the place
// of its first occurrence and the value of its last. Values are compact
// JSON; numbers keep their text.
func parseExtra(extra string) ([]member, error) {
	dec := json.NewDecoder(strings.NewReader(extra))
	dec.UseNumber()
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("extra is not valid JSON: %w", err)
	}
	if _, err := dec.Token(); err == nil {
		return nil, errors.New("extra is not valid JSON: data after the JSON object")
	}
	tokens := json.NewDecoder(bytes.NewReader(raw))
	tokens.UseNumber()
	if tok, err := tokens.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("extra is not a JSON object")
	}
	var members []member
	index := map[string]int{}
	for tokens.More() {
		tok, err := tokens.Token()
		if err != nil {
			return nil, fmt.Errorf("extra is not valid JSON: %w", err)
		}
		key, _ := tok.(string)
		var value json.RawMessage
		if err := tokens.Decode(&value); err != nil {
			return nil, fmt.Errorf("extra is not valid JSON: %w", err)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, value); err != nil {
			return nil, fmt.Errorf("extra is not valid JSON: %w", err)
		}
		if i, ok := index[key]; ok {
			members[i].value = compact.Bytes()
			continue
		}
		index[key] = len(members)
		members = append(members, member{key: key, value: compact.Bytes()})
	}
	return members, nil
}

// encodeMembers renders members as a compact JSON object in their order.
func encodeMembers(members []member) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, m := range members {
		if i > 0 {
			b.WriteByte(',')
		}
		key, _ := marshalNoEscape(m.key)
		b.Write(key)
		b.WriteByte(':')
		b.Write(m.value)
	}
	b.WriteByte('}')
	return b.String()
}

func marshalNoEscape(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// extraFromQuery turns a URI query into an extra as Airflow 3 does: the
// value of __extra__ if present, otherwise an object of the parameters,
// each non-empty value decoded as JSON when it is JSON. (Airflow 2 keeps the
// values as strings.)
func extraFromQuery(query string) (string, error) {
	var params []member
	index := map[string]int{}
	var extra *string
	for _, kv := range pyParseQSL(query) {
		if kv[0] == extraQueryKey {
			v := kv[1]
			extra = &v
		}
		if i, ok := index[kv[0]]; ok {
			params[i].value = json.RawMessage(kv[1])
			continue
		}
		index[kv[0]] = len(params)
		params = append(params, member{key: kv[0], value: json.RawMessage(kv[1])})
	}
	if extra != nil {
		return *extra, nil
	}
	for i, p := range params {
		text := string(p.value)
		switch t := strings.Trim(text, " \t\n\r"); t {
		case "NaN", "Infinity", "-Infinity":
			return "", fmt.Errorf("parsing connection URI: extra parameter %q: %s cannot be held in JSON", p.key, t)
		}
		var compact bytes.Buffer
		if text != "" && json.Valid(p.value) && json.Compact(&compact, p.value) == nil {
			params[i].value = compact.Bytes()
			continue
		}
		encoded, err := marshalNoEscape(text)
		if err != nil {
			return "", fmt.Errorf("parsing connection URI: extra parameter %q: %w", p.key, err)
		}
		params[i].value = encoded
	}
	return encodeMembers(params), nil
}

// netlocHostname is Airflow's _parse_netloc_to_hostname: SplitResult.hostname
// (lower-cased up to the first "%"), unquoted, unless that contains "/", in
// which case the netloc after any "@" and before any ":" is used as is,
// unquoted.
func (r splitResult) netlocHostname() string {
	host, _ := r.hostinfo()
	if before, after, ok := strings.Cut(host, "%"); ok {
		host = strings.ToLower(before) + "%" + after
	} else {
		host = strings.ToLower(host)
	}
	host = pyUnquote(host)
	if strings.Contains(host, "/") {
		host = r.netloc
		if i := strings.LastIndex(host, "@"); i >= 0 {
			host = host[i+1:]
		}
		host, _, _ = strings.Cut(host, ":")
		host = pyUnquote(host)
	}
	return host
}
