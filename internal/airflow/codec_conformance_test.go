package airflow

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestConnectionCodecConformance checks ConnectionURI, ParseConnectionURI
// and ConnectionJSON against Airflow 3's own Connection class, run once for
// the whole batch by testdata/conformance.py in the venv that
// scripts/testenv.sh provides. It runs when TF_ACC is set.
func TestConnectionCodecConformance(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("TF_ACC is not set; the conformance test needs the Airflow 3 venv")
	}
	python := airflowPython(t)

	cases := conformanceCases()
	dir := t.TempDir()
	path := filepath.Join(dir, "cases.jsonl")
	var buf bytes.Buffer
	uris := make([]string, len(cases))
	for i, c := range cases {
		uri, err := ConnectionURI(c)
		if err != nil {
			t.Fatalf("case %d %s: ConnectionURI: %v", i, dump(c), err)
		}
		uris[i] = uri
		js, err := ConnectionJSON(c)
		if err != nil {
			t.Fatalf("case %d %s: ConnectionJSON: %v", i, dump(c), err)
		}
		var uriExpect map[string]any
		if parsed, err := ParseConnectionURI(uri); err == nil {
			uriExpect = fieldsOf(parsed)
		}
		line, err := json.Marshal(map[string]any{
			"i": i, "fields": fieldsOf(c), "uri": uri, "uri_expect": uriExpect,
			"json": js, "json_expect": jsonExpect(c),
		})
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(line)
		buf.WriteByte('\n')
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(python, filepath.Join("testdata", "conformance.py"), path)
	cmd.Env = append(withoutAirflowEnv(os.Environ()),
		"AIRFLOW_HOME="+filepath.Join(dir, "airflow"),
		"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=sqlite:///"+filepath.Join(dir, "airflow.db"),
		"PYTHONIOENCODING=utf-8",
	)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("conformance.py: %v\n%s", err, tail(stderr.String(), 4000))
	}

	var results []conformanceResult
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "RESULT ")
		if !ok {
			continue
		}
		var r conformanceResult
		dec := json.NewDecoder(strings.NewReader(line))
		dec.UseNumber()
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("result line %q: %v", line, err)
		}
		results = append(results, r)
	}
	if len(results) != len(cases) {
		t.Fatalf("conformance.py gave %d results for %d cases\n%s", len(results), len(cases), tail(stderr.String(), 4000))
	}

	failed, uriDiffs, parseDiffs := 0, 0, 0
	for _, r := range results {
		c := cases[r.I]
		bad := false
		for _, p := range r.Problems {
			t.Errorf("case %d %s: %s", r.I, dump(c), p)
			bad = true
		}
		switch {
		case r.AirflowURIError != "":
			t.Errorf("case %d %s: Airflow's get_uri failed: %s", r.I, dump(c), r.AirflowURIError)
			bad = true
		case r.AirflowURI != uris[r.I]:
			t.Errorf("case %d %s: URI differs\n airflow %q\n go      %q", r.I, dump(c), r.AirflowURI, uris[r.I])
			uriDiffs++
			bad = true
		}
		if r.AirflowURI != "" || r.AirflowURIError == "" {
			parsed, err := ParseConnectionURI(r.AirflowURI)
			switch {
			case r.AirflowParseError != "" && err == nil:
				t.Errorf("case %d: Airflow could not parse %q (%s), ParseConnectionURI could", r.I, r.AirflowURI, r.AirflowParseError)
				parseDiffs++
				bad = true
			case r.AirflowParseError == "" && err != nil:
				t.Errorf("case %d: ParseConnectionURI(%q): %v; Airflow parsed it", r.I, r.AirflowURI, err)
				parseDiffs++
				bad = true
			case err == nil:
				if diff := compareFields(r.AirflowFields, parsed); diff != "" {
					t.Errorf("case %d: ParseConnectionURI(%q) differs from Airflow: %s", r.I, r.AirflowURI, diff)
					parseDiffs++
					bad = true
				}
			}
		}
		if !r.OK {
			bad = true
		}
		if bad {
			failed++
		}
	}
	t.Logf("conformance: %d cases, %d passed, %d failed; %d URIs differ from Airflow's get_uri, %d parses of Airflow's URI differ",
		len(cases), len(cases)-failed, failed, uriDiffs, parseDiffs)
}

type conformanceResult struct {
	I                 int            `json:"i"`
	OK                bool           `json:"ok"`
	Problems          []string       `json:"problems"`
	AirflowURI        string         `json:"airflow_uri"`
	AirflowURIError   string         `json:"airflow_uri_error"`
	AirflowFields     map[string]any `json:"airflow_fields"`
	AirflowParseError string         `json:"airflow_parse_error"`
}

// airflowPython is the python of the Airflow 3 venv; it fails the test when
// the venv cannot be had.
func airflowPython(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
	cmd := exec.Command(filepath.Join(dir, "scripts", "testenv.sh"), "venv", "airflow3")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scripts/testenv.sh venv airflow3: %v\n%s", err, tail(stderr.String(), 4000))
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	venv := strings.TrimSpace(lines[len(lines)-1])
	python := filepath.Join(venv, "bin", "python")
	if _, err := os.Stat(python); err != nil {
		t.Fatalf("Airflow 3 venv %q has no python: %v", venv, err)
	}
	return python
}

func withoutAirflowEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "AIRFLOW") {
			out = append(out, kv)
		}
	}
	return out
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// fieldsOf is c as conformance.py takes it: the extra stays a string.
func fieldsOf(c *Connection) map[string]any {
	m := map[string]any{
		"conn_type": c.ConnType, "description": c.Description, "host": c.Host,
		"login": c.Login, "password": c.Password, "schema": c.Schema, "port": c.Port,
		"extra": c.Extra,
	}
	return m
}

// jsonExpect is what Airflow's from_json should read from ConnectionJSON(c):
// conn_type normalized (nil when empty), a port of 0 dropped, an empty
// extra dropped.
func jsonExpect(c *Connection) map[string]any {
	m := fieldsOf(c)
	if c.ConnType == "" {
		m["conn_type"] = nil
	} else {
		m["conn_type"] = normalizeConnType(c.ConnType)
	}
	if c.Port != nil && *c.Port == 0 {
		m["port"] = nil
	}
	if c.Password != nil && *c.Password == "" {
		m["password"] = nil
	}
	return m
}

// compareFields compares Airflow's reading of a URI (extra decoded) with
// ours; numbers are compared by value.
func compareFields(airflow map[string]any, c *Connection) string {
	want := map[string]any{
		"conn_type": c.ConnType, "host": deref(c.Host), "login": deref(c.Login),
		"password": deref(c.Password), "schema": deref(c.Schema),
	}
	if c.Port != nil {
		want["port"] = json.Number(fmt.Sprint(*c.Port))
	} else {
		want["port"] = nil
	}
	var extra any = map[string]any{}
	if c.Extra != nil {
		dec := json.NewDecoder(strings.NewReader(*c.Extra))
		dec.UseNumber()
		if err := dec.Decode(&extra); err != nil {
			return "our extra: " + err.Error()
		}
	}
	want["extra"] = canonicalNumbers(extra)
	var diffs []string
	for k, v := range want {
		got := canonicalNumbers(airflow[k])
		if k != "extra" {
			got = airflow[k]
		}
		if !reflect.DeepEqual(got, v) {
			diffs = append(diffs, fmt.Sprintf("%s: airflow %#v, go %#v", k, got, v))
		}
	}
	return strings.Join(diffs, "; ")
}

func deref(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

// canonicalNumbers rewrites json.Numbers so that equal values have equal
// text: integers in decimal, others as the shortest float64 text (Python
// reads non-integers as floats).
func canonicalNumbers(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range v {
			out[k] = canonicalNumbers(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = canonicalNumbers(e)
		}
		return out
	case json.Number:
		if n, ok := new(big.Int).SetString(string(v), 10); ok {
			return "int:" + n.String()
		}
		f, err := v.Float64()
		if err != nil {
			return "num:" + string(v)
		}
		return fmt.Sprintf("float:%v", f)
	}
	return v
}

// conformanceCases are the connections checked against Airflow: hand-picked
// edge cases and 300 generated with a fixed seed.
func conformanceCases() []*Connection {
	cases := edgeCaseConnections()
	rng := rand.New(rand.NewPCG(20240601, 42))
	for range 300 {
		cases = append(cases, randomConnection(rng, false))
	}
	return cases
}

// edgeCaseConnections are shared by the unit and conformance tests.
func edgeCaseConnections() []*Connection {
	s := func(v string) *string { return &v }
	p := func(v int64) *int64 { return &v }
	reserved := ":/@?#%+ &=;[]$!'()*,\"<>\\^`{|}"
	return []*Connection{
		{ConnType: "http"},
		{ConnType: "http", Host: s("example.com")},
		{ConnType: "http", Host: s("")},
		{ConnType: "my_type", Host: s("h")},
		{ConnType: "my-type", Host: s("h")},
		{ConnType: "postgresql", Host: s("db"), Schema: s("x")},
		{ConnType: "postgres", Login: s("u"), Password: s("p")},
		{ConnType: "HTTP", Host: s("Example.COM")},
		{ConnType: "http", Host: s("Ex%ample/Path")},
		{ConnType: "http", Host: s("ÄBC")},
		{ConnType: "http", Host: s("AB CD")},
		{ConnType: "a.b+c", Host: s("h")},
		{ConnType: "", Host: s("h"), Schema: s("s")},
		{ConnType: "http", Login: s("user"), Password: s("pw")},
		{ConnType: "http", Login: s("user")},
		{ConnType: "http", Password: s("pw")},
		{ConnType: "http", Login: s(""), Password: s("")},
		{ConnType: "http", Login: s("")},
		{ConnType: "http", Password: s(""), Port: p(1)},
		{ConnType: "http", Port: p(8080)},
		{ConnType: "http", Port: p(0), Host: s("h")},
		{ConnType: "http", Port: p(65535), Login: s("u")},
		{ConnType: "http", Host: s("h"), Port: p(1), Schema: s("s")},
		{ConnType: "http", Host: s(reserved), Login: s(reserved), Password: s(reserved), Schema: s(reserved)},
		{ConnType: "http", Host: s("héllo日本🙂"), Login: s("ü"), Password: s("密码"), Schema: s("ß")},
		{ConnType: "http", Host: s("https://example.com"), Port: p(443)},
		{ConnType: "http", Host: s("http://example.com"), Login: s("u")},
		{ConnType: "my_type", Host: s("my_type://x")},
		{ConnType: "http", Host: s("HTTPS://Example.com/path")},
		{ConnType: "http", Host: s("://x")},
		{ConnType: "", Host: s("://x")},
		{ConnType: "http", Host: s("https://")},
		{ConnType: "http", Host: s("a://b://c")},
		{ConnType: "http", Host: s("https://h"), Login: s("u"), Password: s("p:@"), Schema: s("db")},
		{ConnType: "http", Extra: s(`{"a":"b"}`)},
		{ConnType: "http", Extra: s(`{"a":"b"}`), Schema: s("s")},
		{ConnType: "http", Extra: s(`{}`)},
		{ConnType: "http", Extra: s(``)},
		{ConnType: "http", Extra: s(`{"a b":"c&d=e+f%","":"","ü":"日本"}`)},
		{ConnType: "http", Extra: s(`{"a":1}`)},
		{ConnType: "http", Extra: s(`{"a":"1","b":"true","c":"null","d":"[1,2]","e":"{\"x\":1}","f":"\"q\""}`)},
		{ConnType: "http", Extra: s(`{"n":12345678901234567890123,"f":1.5,"e":1e3,"neg":-0.25,"t":true,"z":null}`)},
		{ConnType: "http", Extra: s(`{"nested":{"a":[1,"x",{"b":null}]},"s":"v"}`)},
		{ConnType: "http", Extra: s(` { "a" : "b" , "a" : "c", "d": "e" } `)},
		{ConnType: "http", Extra: s(`{"a":"x","b":2,"a":"y"}`)},
		{ConnType: "http", Extra: s(`{"__extra__":{"a":1}}`)},
		{ConnType: "http", Extra: s(`{"k":"<&>"}`)},
		{ConnType: "http", Host: s("h"), Login: s("u"), Password: s("p"), Schema: s("s"), Port: p(5432),
			Description: s("all fields ü"), Extra: s(`{"x":"y"}`)},
		{ConnType: "aws", Description: s(""), Extra: s(`{"region_name":"eu-west-1","role_arn":"arn:aws:iam::1:role/r"}`)},
	}
}

// randomConnection generates a connection. With canonical set it only
// generates connections that Airflow's URI form keeps unchanged, so that
// ParseConnectionURI(ConnectionURI(c)) == c.
func randomConnection(rng *rand.Rand, canonical bool) *Connection {
	pick := func(options ...string) string { return options[rng.IntN(len(options))] }
	connTypes := []string{"http", "my_type", "my-type", "postgres", "postgresql", "aws", "google_cloud_platform", "HTTP", "a.b+c", "s3", ""}
	if canonical {
		connTypes = []string{"http", "my_type", "postgres", "aws", "google_cloud_platform", "a.b+c", "s3", ""}
	}
	text := func(lower bool) string {
		pieces := []string{"a", "Z", "0", "_", ".", "-", "~", ":", "/", "@", "?", "#", "%", "+", " ", "&", "=", "[", "]",
			"é", "日本", "🙂", "\u00a0", "\n", "%41", "%zz", "://", "ß", "İ"}
		n := rng.IntN(6)
		var b strings.Builder
		for range n {
			piece := pick(pieces...)
			if lower && (piece == "Z" || piece == "İ" || piece == "%41") {
				piece = "z"
			}
			b.WriteString(piece)
		}
		return b.String()
	}
	optional := func(lower bool) *string {
		switch rng.IntN(4) {
		case 0:
			return nil
		case 1:
			v := ""
			return &v
		}
		v := text(lower)
		return &v
	}
	c := &Connection{ConnType: pick(connTypes...)}
	c.Description = optional(false)
	c.Host = optional(canonical)
	if canonical && c.Host != nil {
		// A protocol is only added below, as a scheme-like word.
		h := *c.Host
		for strings.Contains(h, "://") {
			h = strings.ReplaceAll(h, "://", "")
		}
		c.Host = &h
	}
	if c.Host != nil && rng.IntN(5) == 0 && (!canonical || c.ConnType != "") {
		v := pick("https", "http", c.ConnType, "ftp") + "://" + *c.Host
		if !canonical || !strings.Contains(*c.Host, "://") {
			c.Host = &v
		}
	}
	c.Login = optional(false)
	c.Password = optional(false)
	c.Schema = optional(false)
	switch rng.IntN(4) {
	case 0:
	case 1:
		c.Port = ptr(int64(0))
	case 2:
		c.Port = ptr(int64(1 + rng.IntN(65535)))
	default:
		c.Port = ptr(int64(pick2(rng, 1, 5432, 65535)))
	}
	c.Extra = randomExtra(rng, canonical)
	if canonical {
		canonicalize(c)
	}
	return c
}

func pick2(rng *rand.Rand, options ...int) int { return options[rng.IntN(len(options))] }

func randomExtra(rng *rand.Rand, canonical bool) *string {
	if rng.IntN(4) == 0 {
		return nil
	}
	values := []string{`"v"`, `""`, `"a b&c=d+e%f"`, `"ü日本"`, `1`, `-2.5`, `12345678901234567890`, `1e-7`,
		`true`, `false`, `null`, `[1,"x",null]`, `{"in":{"deep":[true]}}`, `"1"`, `"true"`, `"[1]"`, `"<&>"`}
	keys := []string{"a", "b", "key with space", "ü", "", "x&y=z", "+%"}
	flat := rng.IntN(2) == 0
	n := rng.IntN(4)
	var parts []string
	for range n {
		v := values[rng.IntN(len(values))]
		if flat {
			v = values[rng.IntN(4)]
		}
		k, _ := json.Marshal(keys[rng.IntN(len(keys))])
		parts = append(parts, string(k)+":"+v)
	}
	s := "{" + strings.Join(parts, ",") + "}"
	if canonical && n == 0 {
		return nil
	}
	return &s
}

// canonicalize rewrites c into the form ParseConnectionURI gives back for
// ConnectionURI(c).
func canonicalize(c *Connection) {
	c.Description = nil
	empty := ""
	if c.Host == nil {
		c.Host = &empty
	}
	if c.Schema == nil {
		c.Schema = new(string)
	}
	if c.Host != nil && strings.Contains(*c.Host, "://") {
		protocol, rest, _ := strings.Cut(*c.Host, "://")
		if protocol != c.ConnType && rest == "" {
			c.Host = &empty
		}
	}
	if c.Port != nil && *c.Port == 0 {
		c.Port = nil
	}
	if c.Password != nil && *c.Password == "" {
		c.Password = nil
	}
	if c.Password == nil && c.Login != nil && *c.Login == "" {
		c.Login = nil
	}
	if c.Password != nil && c.Login == nil {
		c.Login = new(string)
	}
	if c.Port != nil && *c.Port != 0 && *c.Host == "" && c.Login == nil {
		c.Login = new(string) // rendered as "@:port"
	}
	if c.Extra != nil {
		// Airflow rewrites the extra when flattening it; compare the
		// parsed form instead.
		if parsed, err := ParseConnectionURI(mustURI(c)); err == nil {
			c.Extra = parsed.Extra
		}
	}
}

func mustURI(c *Connection) string {
	u, err := ConnectionURI(c)
	if err != nil {
		panic(err)
	}
	return u
}
