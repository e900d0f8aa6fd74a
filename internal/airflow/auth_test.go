package airflow

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestTokenReusedAcrossRequests(t *testing.T) {
	f := newFakeAirflow(t, VersionV2)
	c := f.client(t)
	ctx := context.Background()
	f.seed(Connection{ConnectionID: "c1", ConnType: "http"})

	// 5 sequential requests, then 20 concurrent ones from 4 goroutines.
	for range 5 {
		if _, err := c.GetConnection(ctx, "c1"); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				_, err := c.GetConnection(ctx, "c1")
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	if n := f.apiCalls.Load(); n != 25 {
		t.Fatalf("API requests = %d; want 25", n)
	}
	if n := f.tokenCalls.Load(); n != 1 {
		t.Fatalf("/auth/token calls = %d; want exactly 1", n)
	}
	first := f.recorded()[0].Authorization
	if !strings.HasPrefix(first, "Bearer jwt-1-") {
		t.Fatalf("Authorization = %q; want the issued JWT", first)
	}
	for _, r := range f.recorded() {
		if r.Authorization != first {
			t.Fatalf("Authorization changed from %q to %q", first, r.Authorization)
		}
	}
}

func TestTokenConcurrentFirstUseSharesOneLogin(t *testing.T) {
	f := newFakeAirflow(t, VersionV2)
	c := f.client(t, func(cfg *Config) { cfg.APIVersion = VersionV2 })
	ctx := context.Background()
	f.seed(Connection{ConnectionID: "c1", ConnType: "http"})

	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 25)
	for range 25 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := c.GetConnection(ctx, "c1")
			errs <- err
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := f.tokenCalls.Load(); n != 1 {
		t.Fatalf("/auth/token calls = %d; want exactly 1", n)
	}
}

// Airflow 3 refuses an expired JWT with 401 "Token Expired" and one it
// cannot validate with 403 "Invalid JWT token" (the body shapes of the real
// server); either way the client logs in again once.
func TestReloginAfterRefusedToken(t *testing.T) {
	for name, refuse := range map[string]func(*fakeAirflow){
		"401 expired":     (*fakeAirflow).expireAll,
		"403 invalid JWT": (*fakeAirflow).invalidateAll,
	} {
		t.Run(name, func(t *testing.T) {
			f := newFakeAirflow(t, VersionV2)
			c := f.client(t)
			ctx := context.Background()
			f.seed(Connection{ConnectionID: "c1", ConnType: "http", Host: ptr("h")})

			if _, err := c.GetConnection(ctx, "c1"); err != nil {
				t.Fatal(err)
			}
			refuse(f)
			conn, err := c.GetConnection(ctx, "c1")
			if err != nil {
				t.Fatalf("GetConnection after the token was refused: %v", err)
			}
			if conn.Host == nil || *conn.Host != "h" {
				t.Fatalf("got %+v", conn)
			}
			// The initial login and one re-login; ok, refused, repeated ok.
			f.wantCalls(t, -1, 2, 3)
			reqs := f.recorded()
			if reqs[1].Authorization != reqs[0].Authorization || reqs[2].Authorization == reqs[1].Authorization {
				t.Fatalf("the retried request must carry a new token: %q, %q, %q", reqs[0].Authorization, reqs[1].Authorization, reqs[2].Authorization)
			}

			// The new token is reused afterwards.
			if _, err := c.GetConnection(ctx, "c1"); err != nil {
				t.Fatal(err)
			}
			f.wantCalls(t, -1, 2, 4)
		})
	}
}

func TestReloginHappensOnlyOnce(t *testing.T) {
	f := newFakeAirflow(t, VersionV2)
	f.expireOnIssue = true
	c := f.client(t, func(cfg *Config) { cfg.APIVersion = VersionV2 })
	// A re-login loop would spin until this deadline instead of hanging.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	_, err := c.GetConnection(ctx, "c1")
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("error = %v; want an *APIError", err)
	}
	if apiErr.StatusCode != http.StatusUnauthorized || apiErr.Detail != "Token Expired" {
		t.Fatalf("error = %+v; want 401 Token Expired", apiErr)
	}
	if apiErr.AuthMethod != `Airflow 3 JWT (POST /auth/token as "admin")` {
		t.Fatalf("AuthMethod = %q", apiErr.AuthMethod)
	}
	want := "GET " + f.srv.URL + `/api/v2/connections/c1: 401 Unauthorized: Token Expired (auth method: Airflow 3 JWT (POST /auth/token as "admin"))`
	if err.Error() != want {
		t.Fatalf("Error() = %q\nwant      %q", err.Error(), want)
	}
	if n := f.tokenCalls.Load(); n != 2 {
		t.Fatalf("/auth/token calls = %d; want 2", n)
	}
	if n := f.apiCalls.Load(); n != 2 {
		t.Fatalf("API requests = %d; want 2 (no loop)", n)
	}
}

func TestConcurrent401sShareOneRelogin(t *testing.T) {
	f := newFakeAirflow(t, VersionV2)
	c := f.client(t, func(cfg *Config) { cfg.APIVersion = VersionV2 })
	ctx := context.Background()
	f.seed(Connection{ConnectionID: "c1", ConnType: "http"})
	if _, err := c.GetConnection(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	f.expireAll()

	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.GetConnection(ctx, "c1")
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
	if n := f.tokenCalls.Load(); n != 2 {
		t.Fatalf("/auth/token calls = %d; want 2 (one re-login shared by all)", n)
	}
}

func TestBadCredentialsV2(t *testing.T) {
	f := newFakeAirflow(t, VersionV2)
	c := f.client(t, func(cfg *Config) { cfg.Password = "wrong" })

	_, err := c.GetConnection(context.Background(), "c1")
	if err == nil {
		t.Fatal("GetConnection succeeded with bad credentials")
	}
	msg := err.Error()
	for _, want := range []string{
		"POST " + f.srv.URL + "/auth/token",
		"401",
		"Invalid credentials",
		`Airflow 3 JWT (POST /auth/token as "admin")`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not contain %q", msg, want)
		}
	}
	if strings.Contains(msg, "wrong") {
		t.Errorf("error %q leaks the password", msg)
	}
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized || apiErr.URL != f.srv.URL+"/auth/token" {
		t.Fatalf("error = %#v; want an *APIError for the login", err)
	}
	// No retry on 401, and no API request without a token.
	f.wantCalls(t, -1, 1, 0)
}

func TestBadCredentialsV1(t *testing.T) {
	f := newFakeAirflow(t, VersionV1)
	c := f.client(t, func(cfg *Config) { cfg.Password = "wrong" })

	_, err := c.GetConnection(context.Background(), "c1")
	if err == nil {
		t.Fatal("GetConnection succeeded with bad credentials")
	}
	want := "GET " + f.srv.URL + `/api/v1/connections/c1: 401 Unauthorized: Unauthorized (auth method: Airflow 2 basic auth as "admin")`
	if err.Error() != want {
		t.Fatalf("Error() = %q\nwant      %q", err.Error(), want)
	}
	if n := f.apiCalls.Load(); n != 1 {
		t.Fatalf("API requests = %d; want 1 (no re-login or retry for basic auth)", n)
	}
}

func TestBasicAuthOnEveryRequest(t *testing.T) {
	f := newFakeAirflow(t, VersionV1)
	c := f.client(t, func(cfg *Config) { cfg.APIVersion = VersionV1 })
	ctx := context.Background()
	if _, err := c.CreateConnection(ctx, &Connection{ConnectionID: "c1", ConnType: "http"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetConnection(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListConnections(ctx, 0, 0); err != nil {
		t.Fatal(err)
	}
	reqs := f.recorded()
	if len(reqs) != 3 {
		t.Fatalf("requests = %d; want 3", len(reqs))
	}
	for _, r := range reqs {
		if r.Authorization != wantBasicAuth() {
			t.Fatalf("%s %s: Authorization %q", r.Method, r.Path, r.Authorization)
		}
	}
}

func TestStaticToken(t *testing.T) {
	for _, version := range []string{VersionV1, VersionV2} {
		t.Run(version, func(t *testing.T) {
			f := newFakeAirflow(t, version)
			f.staticToken = "static-tok"
			f.seed(Connection{ConnectionID: "c1", ConnType: "http"})
			c := f.client(t, func(cfg *Config) {
				cfg.Token = "static-tok"
				cfg.Username, cfg.Password = "", ""
			})
			for range 3 {
				if _, err := c.GetConnection(context.Background(), "c1"); err != nil {
					t.Fatal(err)
				}
			}
			for _, r := range f.recorded() {
				if r.Authorization != "Bearer static-tok" {
					t.Fatalf("Authorization = %q", r.Authorization)
				}
			}
			if n := f.tokenCalls.Load(); n != 0 {
				t.Fatalf("/auth/token calls = %d; want 0", n)
			}
		})
	}
}

func TestStaticTokenRejected(t *testing.T) {
	f := newFakeAirflow(t, VersionV2)
	c := f.client(t, func(cfg *Config) {
		cfg.Token = "not-a-jwt"
		cfg.Username, cfg.Password = "", ""
	})
	_, err := c.GetConnection(context.Background(), "c1")
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusForbidden {
		t.Fatalf("error = %v; want a 403 *APIError", err)
	}
	if !strings.HasSuffix(err.Error(), ": 403 Forbidden: Invalid JWT token (auth method: static bearer token)") {
		t.Fatalf("Error() = %q", err)
	}
	if strings.Contains(err.Error(), "not-a-jwt") {
		t.Fatalf("Error() leaks the token: %q", err)
	}
	if n := f.apiCalls.Load(); n != 1 || f.tokenCalls.Load() != 0 {
		t.Fatalf("API requests = %d, logins = %d; want 1 and 0", n, f.tokenCalls.Load())
	}
}

// A 403 for a missing permission is not a refused token: no re-login.
func TestNoReloginOn403PermissionDenied(t *testing.T) {
	f := newFakeAirflow(t, VersionV2)
	f.before = func(w http.ResponseWriter, r *http.Request) bool {
		writeJSON(w, http.StatusForbidden, map[string]any{"detail": "Forbidden"})
		return true
	}
	c := f.client(t)
	_, err := c.GetConnection(context.Background(), "c1")
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusForbidden || apiErr.Detail != "Forbidden" {
		t.Fatalf("error = %v; want the 403 Forbidden", err)
	}
	f.wantCalls(t, -1, 1, 1)
}

func TestTokenRefused(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
		want   bool
	}{
		{401, `{"detail":"Token Expired"}`, true},
		{401, `{"detail":"Not authenticated"}`, true},
		{403, `{"detail":"Invalid JWT token"}`, true},
		{403, `{"detail":"Token has been revoked"}`, true},
		{403, `{"detail":"Forbidden"}`, false},
		{403, `{"detail":"Access is denied to this connection"}`, false},
		{404, `{"detail":"Invalid JWT token"}`, false},
	} {
		got := tokenRefused(&response{status: tc.status, body: []byte(tc.body)})
		if got != tc.want {
			t.Errorf("tokenRefused(%d %s) = %v; want %v", tc.status, tc.body, got, tc.want)
		}
	}
}

// headerTransport stands in for a managed front's transport (Cloud
// Composer's Google token, MWAA's InvokeRestApi): it authenticates every
// request itself.
type headerTransport struct{ token string }

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if got := r.Header.Get("Authorization"); got != "" {
		return nil, errors.New("the client sent an Authorization header of its own: " + got)
	}
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+h.token)
	return http.DefaultTransport.RoundTrip(r)
}

func TestTransportAuthSendsNoCredentialsAndNeverLogsIn(t *testing.T) {
	for _, version := range []string{VersionV1, VersionV2} {
		t.Run(version, func(t *testing.T) {
			f := newFakeAirflow(t, version)
			f.staticToken = "front-token"
			f.seed(Connection{ConnectionID: "c1", ConnType: "http"})
			c := f.client(t, func(cfg *Config) {
				cfg.Username, cfg.Password = "", ""
				cfg.TransportAuth = "test front"
				cfg.APIVersion = version
				cfg.HTTPClient = &http.Client{Transport: headerTransport{token: "front-token"}}
			})
			ctx := context.Background()
			if _, err := c.GetConnection(ctx, "c1"); err != nil {
				t.Fatal(err)
			}
			if got := f.lastRequest(http.MethodGet).Authorization; got != "Bearer front-token" {
				t.Fatalf("Authorization = %q; want only the transport's", got)
			}
			if m, _ := c.AuthMethod(ctx); m != "test front" {
				t.Errorf("AuthMethod = %q; want the transport's description", m)
			}

			// A refused token is the front's business: no login, no repeat,
			// and the error names the front.
			f.invalidateAll()
			f.staticToken = "rotated"
			_, err := c.GetConnection(ctx, "c1")
			var apiErr *APIError
			if !errors.As(err, &apiErr) || apiErr.AuthMethod != "test front" ||
				!strings.Contains(err.Error(), "(auth method: test front)") {
				t.Fatalf("err = %v; want an APIError naming the front", err)
			}
			if version == VersionV2 && apiErr.StatusCode != http.StatusForbidden {
				t.Errorf("status = %d; want 403", apiErr.StatusCode)
			}
			f.wantCalls(t, 0, 0, 2)
		})
	}
}

func TestTransportAuthRefusesOtherCredentials(t *testing.T) {
	for _, cfg := range []Config{
		{Endpoint: "https://a.example.com", TransportAuth: "front", Token: "t"},
		{Endpoint: "https://a.example.com", TransportAuth: "front", Username: "u", Password: "p"},
	} {
		if _, err := NewClient(cfg); err == nil || !strings.Contains(err.Error(), "front authenticates every request") {
			t.Errorf("NewClient(%+v) err = %v; want a refusal naming the front", cfg, err)
		}
	}
	if _, err := NewClient(Config{Endpoint: "https://a.example.com", TransportAuth: "front"}); err != nil {
		t.Fatalf("NewClient with TransportAuth alone: %v", err)
	}
}
