package airflow

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeAirflow imitates the connection endpoints of Airflow 3 (/api/v2, JWT
// from /auth/token) or Airflow 2 (/api/v1, basic auth), with the response
// shapes measured against real servers.
type fakeAirflow struct {
	t           *testing.T
	version     string // VersionV1 or VersionV2
	user, pass  string
	staticToken string // a bearer token accepted without login, when set
	srv         *httptest.Server

	// intercept, when set, sees every request first (health probe and
	// login included) and may answer it (returning true) to inject failures.
	intercept func(w http.ResponseWriter, r *http.Request) bool
	// before, when set, sees every /api/ request first and may answer it
	// (returning true) to inject failures.
	before func(w http.ResponseWriter, r *http.Request) bool
	// loseAnswer, when set and returning a step for an authorized /api/
	// request, makes the fake act on the request (commit it) and then
	// answer with that step instead: a reset, a 503, as when the answer of
	// a request that reached Airflow is lost on the way back.
	loseAnswer func(r *http.Request) step
	// maskExtra makes the Airflow 3 fake mask sensitive extra keys in its
	// answers (see maskedExtra).
	maskExtra bool
	// maxPageLimit, when set, is the fake's [api] maximum_page_limit
	// (Airflow's default is 100): a list asking for more gets that many,
	// under the same total_entries
	// (https://airflow.apache.org/docs/apache-airflow/stable/security/api.html#page-size-limit;
	// LimitFilter.depends in airflow/api_fastapi/common/parameters.py).
	maxPageLimit int

	tokenCalls  atomic.Int64
	healthCalls atomic.Int64
	apiCalls    atomic.Int64

	mu            sync.Mutex
	conns         map[string]*Connection // with the real password
	tokens        map[string]bool        // issued JWT -> still valid
	expireOnIssue bool                   // JWTs are refused as expired straight away
	issued        int
	requests      []recordedRequest
}

type recordedRequest struct {
	Method        string
	Path          string // decoded
	EscapedPath   string
	Query         url.Values
	ContentType   string
	Accept        string
	UserAgent     string
	Authorization string
	Body          []byte
}

const (
	fakeUser = "admin"
	fakePass = "admin-pass"
)

func newFakeAirflow(t *testing.T, version string) *fakeAirflow {
	t.Helper()
	f := &fakeAirflow{
		t:       t,
		version: version,
		user:    fakeUser,
		pass:    fakePass,
		conns:   map[string]*Connection{},
		tokens:  map[string]bool{},
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// client returns a client for the fake with tiny retry waits.
func (f *fakeAirflow) client(t *testing.T, mutate ...func(*Config)) *Client {
	t.Helper()
	cfg := Config{
		Endpoint:     f.srv.URL,
		Username:     fakeUser,
		Password:     fakePass,
		APIVersion:   VersionAuto,
		RetryWaitMin: time.Millisecond,
		RetryWaitMax: 5 * time.Millisecond,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

// expireAll makes every JWT issued so far answer 401 "Token Expired".
func (f *fakeAirflow) expireAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for tok := range f.tokens {
		f.tokens[tok] = false
	}
}

// answerPath makes the fake answer every request for path (the health
// probe or the login, say) with answer, still counting it.
func (f *fakeAirflow) answerPath(path string, answer step) {
	f.intercept = func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != path {
			return false
		}
		answer(w, r)
		return true
	}
}

// wantCalls fails the test unless the fake saw exactly this many version
// probes, logins and /api/ requests; a negative count is not checked.
func (f *fakeAirflow) wantCalls(t *testing.T, probes, logins, api int64) {
	t.Helper()
	for _, c := range []struct {
		what      string
		got, want int64
	}{
		{"version probes", f.healthCalls.Load(), probes},
		{"logins", f.tokenCalls.Load(), logins},
		{"API requests", f.apiCalls.Load(), api},
	} {
		if c.want >= 0 && c.got != c.want {
			t.Errorf("%s = %d; want %d", c.what, c.got, c.want)
		}
	}
}

// invalidateAll makes every JWT issued so far unknown to the fake, which
// then answers 403 "Invalid JWT token", as Airflow 3 does for a token it
// cannot validate (for example after its JWT secret changed).
func (f *fakeAirflow) invalidateAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.tokens)
}

// methods lists the methods of the recorded /api/ requests, in order.
func (f *fakeAirflow) methods() []string {
	var out []string
	for _, r := range f.recorded() {
		out = append(out, r.Method)
	}
	return out
}

func (f *fakeAirflow) recorded() []recordedRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recordedRequest(nil), f.requests...)
}

// lastRequest returns the last recorded /api/ request with the given method.
func (f *fakeAirflow) lastRequest(method string) recordedRequest {
	f.t.Helper()
	reqs := f.recorded()
	for i := len(reqs) - 1; i >= 0; i-- {
		if reqs[i].Method == method {
			return reqs[i]
		}
	}
	f.t.Fatalf("no %s request recorded", method)
	return recordedRequest{}
}

func (f *fakeAirflow) seed(conn Connection) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := conn
	f.conns[c.ConnectionID] = &c
}

// stored returns the connection as the fake holds it, failing the test when
// there is none.
func (f *fakeAirflow) stored(id string) Connection {
	f.t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.conns[id]
	if !ok {
		f.t.Fatalf("fake Airflow has no connection %q", id)
	}
	return *c
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeProblem(w http.ResponseWriter, status int, detail any) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"detail": detail,
		"status": status,
		"title":  http.StatusText(status),
		"type":   "https://airflow.apache.org/docs/apache-airflow/2.10.5/stable-rest-api-ref.html#section/Errors/" + strings.ReplaceAll(http.StatusText(status), " ", ""),
	})
}

func writeHTML(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, "<!doctype html>\n<html lang=en>\n<title>%d %s</title>\n<h1>%s</h1>\n<p>The browser (or proxy) sent a request that this server could not understand.</p>\n",
		status, http.StatusText(status), http.StatusText(status))
}

func (f *fakeAirflow) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body)) // for intercept and before
	switch {
	case r.URL.Path == healthPath:
		f.healthCalls.Add(1)
	case r.URL.Path == tokenPath && f.version == VersionV2:
		f.tokenCalls.Add(1)
	}
	if f.intercept != nil && f.intercept(w, r) {
		return
	}
	switch {
	case r.URL.Path == healthPath:
		if f.version != VersionV2 {
			writeHTML(w, http.StatusNotFound)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"metadatabase": map[string]any{"status": "healthy"}})
	case r.URL.Path == tokenPath && f.version == VersionV2:
		f.serveLogin(w, r, body)
	case strings.HasPrefix(r.URL.Path, "/api/"+f.version+"/"):
		f.apiCalls.Add(1)
		f.mu.Lock()
		f.requests = append(f.requests, recordedRequest{
			Method: r.Method, Path: r.URL.Path, EscapedPath: r.URL.EscapedPath(), Query: r.URL.Query(),
			ContentType: r.Header.Get("Content-Type"), Accept: r.Header.Get("Accept"),
			UserAgent: r.Header.Get("User-Agent"), Authorization: r.Header.Get("Authorization"), Body: body,
		})
		f.mu.Unlock()
		if f.before != nil && f.before(w, r) {
			return
		}
		if !f.authorize(w, r, body) {
			return
		}
		if f.loseAnswer != nil {
			if lost := f.loseAnswer(r); lost != nil {
				f.serveAPI(httptest.NewRecorder(), r, strings.TrimPrefix(r.URL.Path, "/api/"+f.version), body)
				lost(w, r)
				return
			}
		}
		f.serveAPI(w, r, strings.TrimPrefix(r.URL.Path, "/api/"+f.version), body)
	default:
		writeHTML(w, http.StatusNotFound)
	}
}

func (f *fakeAirflow) serveLogin(w http.ResponseWriter, r *http.Request, body []byte) {
	if r.Method != http.MethodPost {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"detail": "Method Not Allowed"})
		return
	}
	var creds struct{ Username, Password string }
	if err := json.Unmarshal(body, &creds); err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"detail": []any{map[string]any{"loc": []any{"body"}, "msg": "invalid JSON"}}})
		return
	}
	if creds.Username != f.user || creds.Password != f.pass {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"detail": "Invalid credentials"})
		return
	}
	f.mu.Lock()
	f.issued++
	tok := fmt.Sprintf("jwt-%d-%d", f.issued, time.Now().UnixNano())
	f.tokens[tok] = !f.expireOnIssue
	f.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{"access_token": tok})
}

// authorize checks credentials and answers the failure itself.
func (f *fakeAirflow) authorize(w http.ResponseWriter, r *http.Request, body []byte) bool {
	h := r.Header.Get("Authorization")
	if f.staticToken != "" && h == "Bearer "+f.staticToken {
		return true
	}
	if f.version == VersionV1 {
		// Airflow 2 rejects a body-less request that claims JSON with an
		// HTML 400 before anything else.
		if len(body) == 0 && strings.Contains(r.Header.Get("Content-Type"), "json") {
			writeHTML(w, http.StatusBadRequest)
			return false
		}
		user, pass, ok := r.BasicAuth()
		if !ok || user != f.user || pass != f.pass {
			writeProblem(w, http.StatusUnauthorized, nil)
			return false
		}
		return true
	}
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"detail": "Not authenticated"})
		return false
	}
	f.mu.Lock()
	valid, known := f.tokens[tok]
	f.mu.Unlock()
	// Airflow 3 answers a token it cannot validate 403 "Invalid JWT token"
	// and an expired one 401 "Token Expired": resolve_user_from_token in
	// https://github.com/apache/airflow/blob/main/airflow-core/src/airflow/api_fastapi/core_api/security.py
	switch {
	case !known:
		writeJSON(w, http.StatusForbidden, map[string]any{"detail": "Invalid JWT token"})
		return false
	case !valid:
		writeJSON(w, http.StatusUnauthorized, map[string]any{"detail": "Token Expired"})
		return false
	}
	return true
}

var fakeIDPattern = regexp.MustCompile(`^[\w.-]+$`)

func (f *fakeAirflow) notFound(w http.ResponseWriter, id string) {
	if f.version == VersionV1 {
		writeProblem(w, http.StatusNotFound, fmt.Sprintf("The Connection with connection_id: `%s` was not found", id))
		return
	}
	writeJSON(w, http.StatusNotFound, map[string]any{"detail": fmt.Sprintf("The Connection with connection_id: `%s` was not found", id)})
}

// render is the connection as the fake's Airflow version returns it.
func (f *fakeAirflow) render(c *Connection, inList bool) map[string]any {
	m := map[string]any{
		"connection_id": c.ConnectionID,
		"conn_type":     c.ConnType,
		"description":   c.Description,
		"host":          c.Host,
		"login":         c.Login,
		"schema":        c.Schema,
		"port":          c.Port,
		"extra":         c.Extra,
	}
	if f.version == VersionV2 {
		if f.maskExtra {
			m["extra"] = maskedExtra(c.Extra)
		}
		m["team_name"] = nil
		if c.Password != nil {
			m["password"] = MaskedValue
		} else {
			m["password"] = nil
		}
	} else if inList {
		delete(m, "extra")
	}
	return m
}

func (f *fakeAirflow) serveAPI(w http.ResponseWriter, r *http.Request, p string, body []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()

	if p == "/connections" {
		switch r.Method {
		case http.MethodGet:
			f.list(w, r)
		case http.MethodPost:
			f.create(w, body)
		default:
			writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"detail": "Method Not Allowed"})
		}
		return
	}
	id, ok := strings.CutPrefix(p, "/connections/")
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]any{"detail": "Not Found"})
		return
	}
	conn, exists := f.conns[id]
	if !exists {
		f.notFound(w, id)
		return
	}
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, http.StatusOK, f.render(conn, false))
	case http.MethodDelete:
		delete(f.conns, id)
		w.WriteHeader(http.StatusNoContent)
	case http.MethodPatch:
		var in Connection
		if err := json.Unmarshal(body, &in); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"detail": err.Error()})
			return
		}
		mask := r.URL.Query()["update_mask"]
		if f.version == VersionV1 && len(mask) > 0 {
			// Airflow 2 keeps the last value of a repeated parameter and
			// splits it on commas.
			mask = strings.Split(mask[len(mask)-1], ",")
		}
		if len(mask) == 0 {
			mask = []string{FieldConnType, FieldDescription, FieldHost, FieldLogin, FieldSchema, FieldPort, FieldPassword, FieldExtra}
		}
		if field, ok := applyMask(conn, &in, mask); !ok {
			writeJSON(w, http.StatusBadRequest, map[string]any{"detail": "Invalid fields in update mask: " + field})
			return
		}
		writeJSON(w, http.StatusOK, f.render(conn, false))
	default:
		writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"detail": "Method Not Allowed"})
	}
}

// applyMask copies the fields mask names from in to conn, as Airflow's
// update does; it returns the first field it does not know, and false.
func applyMask(conn, in *Connection, mask []string) (string, bool) {
	for _, field := range mask {
		switch field {
		case FieldConnType:
			conn.ConnType = in.ConnType
		case FieldDescription:
			conn.Description = in.Description
		case FieldHost:
			conn.Host = in.Host
		case FieldLogin:
			conn.Login = in.Login
		case FieldSchema:
			conn.Schema = in.Schema
		case FieldPort:
			conn.Port = in.Port
		case FieldPassword:
			conn.Password = in.Password
		case FieldExtra:
			conn.Extra = in.Extra
		default:
			return field, false
		}
	}
	return "", true
}

func (f *fakeAirflow) create(w http.ResponseWriter, body []byte) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"detail": err.Error()})
		return
	}
	if pw, ok := raw["password"]; ok && string(pw) == "null" && f.version == VersionV1 {
		writeProblem(w, http.StatusBadRequest, "None is not of type 'string' - 'password'")
		return
	}
	var in Connection
	if err := json.Unmarshal(body, &in); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"detail": err.Error()})
		return
	}
	if !fakeIDPattern.MatchString(in.ConnectionID) {
		if f.version == VersionV1 {
			writeProblem(w, http.StatusBadRequest, "The key '"+in.ConnectionID+"' has to be made of alphanumeric characters, dashes, dots and underscores exclusively")
			return
		}
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"detail": []any{map[string]any{
			"type": "string_pattern_mismatch", "loc": []any{"body", "connection_id"},
			"msg": "String should match pattern '^[\\w.-]+$'", "input": in.ConnectionID,
		}}})
		return
	}
	if _, dup := f.conns[in.ConnectionID]; dup {
		if f.version == VersionV1 {
			writeProblem(w, http.StatusConflict, "Connection already exist. ID: "+in.ConnectionID)
			return
		}
		writeJSON(w, http.StatusConflict, map[string]any{"detail": map[string]any{
			"reason":     "Unique constraint violation",
			"statement":  "INSERT INTO connection (conn_id, conn_type) VALUES (?, ?)",
			"orig_error": "UNIQUE constraint failed: connection.conn_id",
			"message":    "Connection with connection_id: `" + in.ConnectionID + "` already exists",
		}})
		return
	}
	c := in
	f.conns[c.ConnectionID] = &c
	status := http.StatusCreated
	if f.version == VersionV1 {
		status = http.StatusOK
	}
	writeJSON(w, status, f.render(&c, false))
}

func (f *fakeAirflow) list(w http.ResponseWriter, r *http.Request) {
	limit, offset := 100, 0
	if v := r.URL.Query().Get("limit"); v != "" {
		limit, _ = strconv.Atoi(v)
	}
	if v := r.URL.Query().Get("offset"); v != "" {
		offset, _ = strconv.Atoi(v)
	}
	limit = min(limit, cmp.Or(f.maxPageLimit, 100))
	ids := make([]string, 0, len(f.conns))
	for id := range f.conns {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	items := []map[string]any{}
	for i := offset; i < len(ids) && i < offset+limit; i++ {
		items = append(items, f.render(f.conns[ids[i]], true))
	}
	writeJSON(w, http.StatusOK, map[string]any{"connections": items, "total_entries": len(ids)})
}

// fakeSensitiveKeys is part of the names Airflow treats as sensitive: a
// top-level extra key containing one of them is answered as "***"
// (redact_extra in
// https://github.com/apache/airflow/blob/main/airflow-core/src/airflow/api_fastapi/core_api/datamodels/connections.py,
// DEFAULT_SENSITIVE_FIELDS in
// https://github.com/apache/airflow/blob/main/shared/secrets_masker/src/airflow_shared/secrets_masker/secrets_masker.py).
var fakeSensitiveKeys = []string{"password", "secret", "token", "api_key", "private_key"}

// maskedExtra is extra with the values of its sensitive top-level keys
// replaced by "***", re-encoded as Python's json.dumps does (", " and ": ").
func maskedExtra(extra *string) *string {
	if extra == nil || *extra == "" {
		return extra
	}
	var obj map[string]any
	if json.Unmarshal([]byte(*extra), &obj) != nil {
		return extra
	}
	for key := range obj {
		for _, s := range fakeSensitiveKeys {
			if strings.Contains(strings.ToLower(key), s) {
				obj[key] = MaskedValue
			}
		}
	}
	b, _ := json.Marshal(obj)
	out := strings.ReplaceAll(strings.ReplaceAll(string(b), `":`, `": `), `,"`, `, "`)
	return &out
}

// wantBasicAuth is the expected Authorization header for the fake's user.
func wantBasicAuth() string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(fakeUser+":"+fakePass))
}

func ptr[T any](v T) *T { return &v }

// recordingSleep replaces the client's retry wait, recording the asked
// durations without waiting.
func recordingSleep(c *Client) *[]time.Duration {
	var mu sync.Mutex
	waits := &[]time.Duration{}
	c.sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		*waits = append(*waits, d)
		mu.Unlock()
		return ctx.Err()
	}
	return waits
}
