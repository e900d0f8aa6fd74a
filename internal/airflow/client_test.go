package airflow

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestNewClientValidation(t *testing.T) {
	cases := []struct {
		name    string
		cfg     Config
		wantErr string // "" means valid
	}{
		{"basic credentials", Config{Endpoint: "http://127.0.0.1:8080", Username: "u", Password: "p"}, ""},
		{"token only", Config{Endpoint: "https://airflow.example.com", Token: "t"}, ""},
		{"token wins over half credentials", Config{Endpoint: "https://a.example.com", Token: "t", Username: "u"}, ""},
		{"explicit v1", Config{Endpoint: "https://a.example.com", Token: "t", APIVersion: VersionV1}, ""},
		{"explicit v2 upper case", Config{Endpoint: "https://a.example.com", Token: "t", APIVersion: "V2"}, ""},
		{"auto", Config{Endpoint: "https://a.example.com", Token: "t", APIVersion: VersionAuto}, ""},
		{"empty endpoint", Config{Token: "t"}, "endpoint is required"},
		{"relative endpoint", Config{Endpoint: "airflow.example.com", Token: "t"}, "absolute http"},
		{"ftp endpoint", Config{Endpoint: "ftp://airflow.example.com", Token: "t"}, "absolute http"},
		{"no host", Config{Endpoint: "http://", Token: "t"}, "absolute http"},
		{"credentials in endpoint", Config{Endpoint: "http://u:secret@a.example.com", Token: "t"}, "must not contain credentials"},
		{"query in endpoint", Config{Endpoint: "http://a.example.com/?x=1", Token: "t"}, "query"},
		{"unparsable endpoint", Config{Endpoint: "http://a.example.com:port/", Token: "t"}, "invalid endpoint"},
		{"no credentials", Config{Endpoint: "http://a.example.com"}, "no Airflow credentials"},
		{"username only", Config{Endpoint: "http://a.example.com", Username: "u"}, "password is required"},
		{"password only", Config{Endpoint: "http://a.example.com", Password: "p"}, "username is required"},
		{"bad version", Config{Endpoint: "http://a.example.com", Token: "t", APIVersion: "v3"}, `invalid API version "v3"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewClient(tc.cfg)
			if tc.wantErr == "" {
				if err != nil || c == nil {
					t.Fatalf("NewClient() = %v, %v; want a client", c, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("NewClient() succeeded; want an error containing %q", tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("NewClient() error = %q; want it to contain %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Fatalf("NewClient() error leaks the endpoint password: %q", err)
			}
		})
	}
}

func TestNewClientDoesNoIO(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	for _, v := range Versions {
		if _, err := NewClient(Config{Endpoint: srv.URL, Username: "u", Password: "p", APIVersion: v}); err != nil {
			t.Fatalf("NewClient(%s): %v", v, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("NewClient made %d requests; want none", n)
	}
}

func TestNewClientDefaults(t *testing.T) {
	c, err := NewClient(Config{Endpoint: "http://a.example.com", Token: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if c.maxRetries != defaultMaxRetries || c.retryWaitMin != defaultRetryWaitMin || c.retryWaitMax != defaultRetryWaitMax {
		t.Errorf("retry defaults = %d, %v, %v", c.maxRetries, c.retryWaitMin, c.retryWaitMax)
	}
	if c.httpClient == nil || c.requestTimeout != DefaultRequestTimeout {
		t.Errorf("http client = %+v, per-request timeout %v; want a client and %v", c.httpClient, c.requestTimeout, DefaultRequestTimeout)
	}
	if c.configuredVersion != VersionAuto {
		t.Errorf("version = %q; want auto", c.configuredVersion)
	}
	c, err = NewClient(Config{Endpoint: "http://a.example.com", Token: "t", MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	if c.maxRetries != 0 {
		t.Errorf("MaxRetries -1 gave %d retries; want 0", c.maxRetries)
	}
}

func TestEndpointNormalization(t *testing.T) {
	cases := map[string]string{
		"http://127.0.0.1:8080":                   "http://127.0.0.1:8080",
		"http://127.0.0.1:8080/":                  "http://127.0.0.1:8080",
		"https://airflow.example.com/api/v1":      "https://airflow.example.com",
		"https://airflow.example.com/api/v2/":     "https://airflow.example.com",
		"https://example.com/airflow/":            "https://example.com/airflow",
		"https://example.com/airflow/api/v2":      "https://example.com/airflow",
		"  HTTPS://Example.com/airflow//api/v1/ ": "https://Example.com/airflow",
	}
	for in, want := range cases {
		c, err := NewClient(Config{Endpoint: in, Token: "t"})
		if err != nil {
			t.Fatalf("NewClient(%q): %v", in, err)
		}
		if got := c.Endpoint(); got != want {
			t.Errorf("Endpoint() for %q = %q; want %q", in, got, want)
		}
	}
}

func TestEndpointWithPathPrefixIsUsed(t *testing.T) {
	var paths []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		switch r.URL.Path {
		case "/airflow/auth/token":
			writeJSON(w, http.StatusCreated, map[string]any{"access_token": "jwt"})
		default:
			writeJSON(w, http.StatusOK, map[string]any{"connection_id": "c1", "conn_type": "http"})
		}
	}))
	defer srv.Close()
	c, err := NewClient(Config{Endpoint: srv.URL + "/airflow/api/v2/", Username: "u", Password: "p", APIVersion: VersionV2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetConnection(context.Background(), "c1"); err != nil {
		t.Fatal(err)
	}
	want := []string{"/airflow/auth/token", "/airflow/api/v2/connections/c1"}
	if strings.Join(paths, " ") != strings.Join(want, " ") {
		t.Fatalf("paths = %v; want %v", paths, want)
	}
}

func TestVersionProbeOnceUnderConcurrency(t *testing.T) {
	f := newFakeAirflow(t, VersionV2)
	c := f.client(t)
	ctx := context.Background()

	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := c.APIVersion(ctx)
			if err == nil && v != VersionV2 {
				err = fmt.Errorf("APIVersion() = %q; want v2", v)
			}
			errs <- err
			_, err = c.ListConnections(ctx, 10, 0)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := f.healthCalls.Load(); n != 1 {
		t.Fatalf("health probes = %d; want exactly 1", n)
	}
	for _, r := range f.recorded() {
		if !strings.HasPrefix(r.Path, "/api/v2/") {
			t.Fatalf("request to %s; want /api/v2", r.Path)
		}
	}
}

func TestVersionProbeDetectsV1(t *testing.T) {
	f := newFakeAirflow(t, VersionV1)
	c := f.client(t)
	ctx := context.Background()
	f.seed(Connection{ConnectionID: "c1", ConnType: "http"})

	for range 3 {
		v, err := c.APIVersion(ctx)
		if err != nil || v != VersionV1 {
			t.Fatalf("APIVersion() = %q, %v; want v1", v, err)
		}
	}
	conn, err := c.GetConnection(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if conn.ConnectionID != "c1" {
		t.Fatalf("got %+v", conn)
	}
	if n := f.healthCalls.Load(); n != 1 {
		t.Fatalf("health probes = %d; want 1", n)
	}
	if r := f.lastRequest(http.MethodGet); r.Path != "/api/v1/connections/c1" || r.Authorization != wantBasicAuth() {
		t.Fatalf("request = %s with %q; want /api/v1/connections/c1 with basic auth", r.Path, r.Authorization)
	}
	if n := f.tokenCalls.Load(); n != 0 {
		t.Fatalf("/auth/token calls = %d; want 0 on Airflow 2", n)
	}
}

func TestVersionExplicitDoesNotProbe(t *testing.T) {
	f := newFakeAirflow(t, VersionV2)
	c := f.client(t, func(cfg *Config) { cfg.APIVersion = VersionV2 })
	if _, err := c.ListConnections(context.Background(), 0, 0); err != nil {
		t.Fatal(err)
	}
	if n := f.healthCalls.Load(); n != 0 {
		t.Fatalf("health probes = %d; want 0 with an explicit version", n)
	}
}

func TestVersionProbeFailure(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	defer srv.Close()
	c, err := NewClient(Config{Endpoint: srv.URL, Token: "t", MaxRetries: 2, RetryWaitMin: time.Millisecond, RetryWaitMax: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.APIVersion(context.Background())
	if err == nil {
		t.Fatal("APIVersion() succeeded against a 500")
	}
	for _, want := range []string{"GET " + srv.URL + "/api/v2/monitor/health", "gave up after 3 attempts", "500", "boom"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	_, again := c.GetConnection(context.Background(), "x")
	if again == nil || again.Error() != err.Error() {
		t.Fatalf("GetConnection() error = %v; want the probe's error %q", again, err)
	}
	// A failed probe is remembered: the later call did not probe again.
	if n := hits.Load(); n != 3 {
		t.Fatalf("requests = %d; want 3 (one probe and its 2 retries)", n)
	}
}

func TestVersionProbeNonJSONSuccess(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<html><body>Please sign in</body></html>"))
	}))
	defer srv.Close()
	c, err := NewClient(Config{Endpoint: srv.URL, Token: "t"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.APIVersion(context.Background())
	if err == nil || !strings.Contains(err.Error(), srv.URL+"/api/v2/monitor/health") || !strings.Contains(err.Error(), "Please sign in") {
		t.Fatalf("APIVersion() error = %v; want one naming the health endpoint and the body", err)
	}
}

func TestAuthMethod(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		cfg  Config
		want string
	}{
		{Config{Token: "t", APIVersion: VersionV1}, "static bearer token"},
		{Config{Token: "t"}, "static bearer token"}, // no probe needed
		{Config{Username: "admin", Password: "p", APIVersion: VersionV1}, `Airflow 2 basic auth as "admin"`},
		{Config{Username: "admin", Password: "p", APIVersion: VersionV2}, `Airflow 3 JWT (POST /auth/token as "admin")`},
	}
	for _, tc := range cases {
		tc.cfg.Endpoint = "http://127.0.0.1:1" // never contacted
		c, err := NewClient(tc.cfg)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.AuthMethod(ctx)
		if err != nil || got != tc.want {
			t.Errorf("AuthMethod() = %q, %v; want %q", got, err, tc.want)
		}
	}
}

func TestRequestHeaders(t *testing.T) {
	f := newFakeAirflow(t, VersionV2)
	c := f.client(t, func(cfg *Config) { cfg.UserAgent = "my-agent/1.0" })
	ctx := context.Background()
	if _, err := c.CreateConnection(ctx, &Connection{ConnectionID: "c1", ConnType: "http"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetConnection(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteConnection(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	for _, r := range f.recorded() {
		if r.Accept != "application/json" || r.UserAgent != "my-agent/1.0" {
			t.Errorf("%s %s: Accept %q, User-Agent %q", r.Method, r.Path, r.Accept, r.UserAgent)
		}
		wantCT := ""
		if r.Method == http.MethodPost {
			wantCT = "application/json"
		}
		if r.ContentType != wantCT {
			t.Errorf("%s %s: Content-Type %q; want %q", r.Method, r.Path, r.ContentType, wantCT)
		}
	}
}
