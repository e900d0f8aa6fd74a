package airflow

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// logCapture collects everything a Logger receives, formatted.
type logCapture struct {
	mu    sync.Mutex
	lines []string
}

func (l *logCapture) log(_ context.Context, msg string, fields map[string]any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf("%s %v", msg, fields))
}

func (l *logCapture) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func TestLoggerNeverSeesSecrets(t *testing.T) {
	const (
		loginPassword = "login-SECRET-pw"
		connPassword  = "conn-SECRET-pw"
		extraSecret   = "extra-SECRET-value"
		staticToken   = "static-SECRET-token"
	)
	var logs logCapture
	ctx := context.Background()

	// Airflow 3 with login, a re-login, a retried 503 and an error.
	f := newFakeAirflow(t, VersionV2)
	f.pass = loginPassword
	failOnce := true
	f.before = func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodGet && failOnce {
			failOnce = false
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"detail": "busy"})
			return true
		}
		return false
	}
	c := f.client(t, func(cfg *Config) {
		cfg.Password = loginPassword
		cfg.Logger = logs.log
	})
	conn := &Connection{ConnectionID: "c1", ConnType: "http", Password: ptr(connPassword), Extra: ptr(`{"api_key": "` + extraSecret + `"}`)}
	if _, err := c.CreateConnection(ctx, conn); err != nil {
		t.Fatal(err)
	}
	f.expireAll()
	if _, err := c.GetConnection(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateConnection(ctx, conn, []string{FieldPassword, FieldExtra}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateConnection(ctx, conn); !IsConflict(err) {
		t.Fatalf("want a conflict, got %v", err)
	}
	if n := f.tokenCalls.Load(); n != 2 {
		t.Fatalf("scenario did not re-login: %d logins", n)
	}

	// Airflow 2 basic auth.
	f1 := newFakeAirflow(t, VersionV1)
	f1.pass = loginPassword
	c1 := f1.client(t, func(cfg *Config) {
		cfg.Password = loginPassword
		cfg.Logger = logs.log
	})
	if _, err := c1.CreateConnection(ctx, conn); err != nil {
		t.Fatal(err)
	}

	// Static token, refused.
	c2 := f.client(t, func(cfg *Config) {
		cfg.Token = staticToken
		cfg.Logger = logs.log
	})
	if _, err := c2.GetConnection(ctx, "c1"); err == nil {
		t.Fatal("want the static token refused")
	}

	text := logs.text()
	if !strings.Contains(text, "/api/v2/connections") || !strings.Contains(text, "retrying") || !strings.Contains(text, "/auth/token") {
		t.Fatalf("logger did not see the requests:\n%s", text)
	}
	var issued []string
	for _, r := range f.recorded() {
		if tok, ok := strings.CutPrefix(r.Authorization, "Bearer "); ok {
			issued = append(issued, tok)
		}
	}
	if len(issued) == 0 {
		t.Fatal("no bearer tokens recorded")
	}
	forbidden := append([]string{
		loginPassword, connPassword, extraSecret, staticToken,
		"Bearer", "Basic", "jwt-", "busy", "already exists",
	}, issued...)
	for _, s := range forbidden {
		if strings.Contains(text, s) {
			t.Errorf("logger received %q:\n%s", s, text)
		}
	}
}
