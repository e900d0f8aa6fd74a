package airflow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// scriptedServer answers each request with the next step of script (the
// last step repeats) and counts requests and bodies.
type scriptedServer struct {
	srv    *httptest.Server
	calls  atomic.Int64
	mu     sync.Mutex
	bodies [][]byte
}

type step func(w http.ResponseWriter, r *http.Request)

func newScriptedServer(t *testing.T, script ...step) *scriptedServer {
	t.Helper()
	s := &scriptedServer{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(s.calls.Add(1))
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(r.Body)
		s.mu.Lock()
		s.bodies = append(s.bodies, buf.Bytes())
		s.mu.Unlock()
		script[min(n, len(script))-1](w, r)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *scriptedServer) client(t *testing.T, mutate ...func(*Config)) *Client {
	t.Helper()
	cfg := Config{
		Endpoint:     s.srv.URL,
		Token:        "tok",
		APIVersion:   VersionV2,
		MaxRetries:   3,
		RetryWaitMin: time.Millisecond,
		RetryWaitMax: 4 * time.Millisecond,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func status(code int, body string) step {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
	}
}

func withRetryAfter(value string, s step) step {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", value)
		s(w, r)
	}
}

// hangUp closes the connection without answering; with reset it sends a
// TCP RST instead of a FIN.
func hangUp(reset bool) step {
	return func(w http.ResponseWriter, r *http.Request) {
		hj, ok := w.(http.Hijacker)
		if !ok {
			w.WriteHeader(http.StatusTeapot) // fails the test: not retried
			return
		}
		conn, _, err := hj.Hijack()
		if err != nil {
			w.WriteHeader(http.StatusTeapot)
			return
		}
		if tcp, ok := conn.(*net.TCPConn); ok && reset {
			_ = tcp.SetLinger(0)
		}
		_ = conn.Close()
	}
}

const connJSON = `{"connection_id":"c1","conn_type":"http","description":null,"host":"h","login":null,"schema":null,"port":5432,"password":"***","extra":null,"team_name":null}`

func TestRetryOn503ThenSuccess(t *testing.T) {
	s := newScriptedServer(t,
		status(503, `{"detail":"unavailable"}`),
		status(503, `{"detail":"unavailable"}`),
		status(200, connJSON),
	)
	c := s.client(t)
	waits := recordingSleep(c)
	conn, err := c.GetConnection(context.Background(), "c1")
	if err != nil {
		t.Fatal(err)
	}
	if conn.Host == nil || *conn.Host != "h" || conn.Port == nil || *conn.Port != 5432 {
		t.Fatalf("got %+v", conn)
	}
	if n := s.calls.Load(); n != 3 {
		t.Fatalf("attempts = %d; want 3", n)
	}
	if len(*waits) != 2 {
		t.Fatalf("waits = %v; want 2", *waits)
	}
}

func TestRetriedBodyIsResent(t *testing.T) {
	s := newScriptedServer(t,
		status(502, `bad gateway`),
		status(504, `gateway timeout`),
		status(201, connJSON),
	)
	c := s.client(t)
	if _, err := c.CreateConnection(context.Background(), &Connection{ConnectionID: "c1", ConnType: "http", Host: ptr("h")}); err != nil {
		t.Fatal(err)
	}
	if len(s.bodies) != 3 {
		t.Fatalf("attempts = %d; want 3", len(s.bodies))
	}
	for i, b := range s.bodies {
		if !bytes.Contains(b, []byte(`"connection_id":"c1"`)) || !bytes.Equal(b, s.bodies[0]) {
			t.Fatalf("body of attempt %d = %q; want the same full body each time", i+1, b)
		}
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	s := newScriptedServer(t,
		withRetryAfter("3", status(429, `{"detail":"slow down"}`)),
		status(200, connJSON),
	)
	c := s.client(t, func(cfg *Config) { cfg.RetryWaitMax = 10 * time.Second })
	waits := recordingSleep(c)
	if _, err := c.GetConnection(context.Background(), "c1"); err != nil {
		t.Fatal(err)
	}
	if len(*waits) != 1 || (*waits)[0] != 3*time.Second {
		t.Fatalf("waits = %v; want [3s] from Retry-After", *waits)
	}
}

// A Retry-After longer than the client's wait budget is honoured by not
// retrying sooner: the retries end at once with Airflow's answer.
func TestRetryAfterBeyondBudgetEndsRetries(t *testing.T) {
	s := newScriptedServer(t,
		withRetryAfter("30", status(429, `{"detail":"slow down"}`)),
		status(200, connJSON),
	)
	c := s.client(t, func(cfg *Config) { cfg.RetryWaitMax = 150 * time.Millisecond })
	waits := recordingSleep(c)
	_, err := c.GetConnection(context.Background(), "c1")
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 || apiErr.RetryAfter != 30*time.Second {
		t.Fatalf("error = %v; want the 429 with its Retry-After", err)
	}
	if !strings.HasSuffix(err.Error(), ": 429 Too Many Requests: slow down (Airflow asked to retry after 30s, longer than the client waits)") {
		t.Fatalf("Error() = %q", err)
	}
	if n := s.calls.Load(); n != 1 || len(*waits) != 0 {
		t.Fatalf("attempts = %d, waits = %v; want 1 attempt and no wait", n, *waits)
	}
}

// Retry-After waits add up against the budget, 3 retries x RetryWaitMax:
// 0s always fits; with a 1s maximum (3s budget) 2s fits once, not twice.
func TestRetryAfterWithinBudget(t *testing.T) {
	s := newScriptedServer(t, withRetryAfter("0", status(503, `{"detail":"busy"}`)))
	c := s.client(t, func(cfg *Config) { cfg.RetryWaitMax = 150 * time.Millisecond })
	start := time.Now()
	if _, err := c.GetConnection(context.Background(), "c1"); err == nil {
		t.Fatal("want the last 503")
	}
	if n := s.calls.Load(); n != 4 {
		t.Fatalf("attempts = %d; want 4 (Retry-After 0 always fits)", n)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Fatalf("took %v", elapsed)
	}

	s2 := newScriptedServer(t, withRetryAfter("2", status(503, `{"detail":"busy"}`)))
	c2 := s2.client(t, func(cfg *Config) { cfg.RetryWaitMax = time.Second })
	waits := recordingSleep(c2)
	_, err := c2.GetConnection(context.Background(), "c1")
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.RetryAfter != 2*time.Second || apiErr.Attempts != 2 {
		t.Fatalf("error = %v; want the retries ended at the second attempt by a Retry-After beyond the budget", err)
	}
	if len(*waits) != 1 || (*waits)[0] != 2*time.Second {
		t.Fatalf("waits = %v; want [2s] (a second one would pass the 3s budget)", *waits)
	}
}

func TestRetriesStopAtBound(t *testing.T) {
	s := newScriptedServer(t, status(503, `{"detail":"still down"}`))
	c := s.client(t, func(cfg *Config) { cfg.MaxRetries = 2 })
	_, err := c.GetConnection(context.Background(), "c1")
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 503 || apiErr.Detail != "still down" {
		t.Fatalf("error = %v; want the last 503", err)
	}
	if n := s.calls.Load(); n != 3 {
		t.Fatalf("attempts = %d; want 3 (1 + MaxRetries 2)", n)
	}
}

func TestNegativeMaxRetriesDisablesRetries(t *testing.T) {
	s := newScriptedServer(t, status(503, `{"detail":"down"}`))
	c := s.client(t, func(cfg *Config) { cfg.MaxRetries = -1 })
	if _, err := c.GetConnection(context.Background(), "c1"); err == nil {
		t.Fatal("want an error")
	}
	if n := s.calls.Load(); n != 1 {
		t.Fatalf("attempts = %d; want 1", n)
	}
}

func TestNoRetryOnOtherStatuses(t *testing.T) {
	for _, code := range []int{400, 401, 403, 404, 409, 422, 501} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			s := newScriptedServer(t, status(code, `{"detail":"nope"}`), status(200, connJSON))
			c := s.client(t)
			_, err := c.GetConnection(context.Background(), "c1")
			var apiErr *APIError
			if !errors.As(err, &apiErr) || apiErr.StatusCode != code {
				t.Fatalf("error = %v; want a %d *APIError", err, code)
			}
			if n := s.calls.Load(); n != 1 {
				t.Fatalf("attempts = %d; want 1", n)
			}
		})
	}
}

func TestRetryOnConnectionDropped(t *testing.T) {
	for _, reset := range []bool{true, false} {
		t.Run(fmt.Sprintf("reset=%v", reset), func(t *testing.T) {
			s := newScriptedServer(t, hangUp(reset), status(201, connJSON))
			c := s.client(t)
			// POST, so that net/http does not retry on its own.
			conn, err := c.CreateConnection(context.Background(), &Connection{ConnectionID: "c1", ConnType: "http"})
			if err != nil {
				t.Fatal(err)
			}
			if conn.ConnectionID != "c1" {
				t.Fatalf("got %+v", conn)
			}
			if n := s.calls.Load(); n != 2 {
				t.Fatalf("attempts = %d; want 2", n)
			}
		})
	}
}

func TestRetryOnConnectionRefusedGivesUp(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()

	c, err := NewClient(Config{Endpoint: "http://" + addr, Token: "t", APIVersion: VersionV2, MaxRetries: 2})
	if err != nil {
		t.Fatal(err)
	}
	waits := recordingSleep(c)
	_, err = c.GetConnection(context.Background(), "c1")
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{"GET http://" + addr + "/api/v2/connections/c1", "refused", "after 3 attempts"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if len(*waits) != 2 {
		t.Fatalf("waits = %d; want 2 retries", len(*waits))
	}
}

func TestRetryOnAttemptTimeout(t *testing.T) {
	s := newScriptedServer(t,
		func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(300 * time.Millisecond)
			status(200, connJSON)(w, r)
		},
		status(200, connJSON),
	)
	c := s.client(t, func(cfg *Config) { cfg.RequestTimeout = 50 * time.Millisecond })
	start := time.Now()
	if _, err := c.GetConnection(context.Background(), "c1"); err != nil {
		t.Fatal(err)
	}
	if n := s.calls.Load(); n != 2 {
		t.Fatalf("attempts = %d; want 2 (the slow one timed out and was retried)", n)
	}
	if elapsed := time.Since(start); elapsed > 250*time.Millisecond {
		t.Fatalf("took %v; the first attempt was not cut at the 50ms per-request timeout", elapsed)
	}
}

func TestAttemptTimeoutGivesUp(t *testing.T) {
	s := newScriptedServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
	})
	c := s.client(t, func(cfg *Config) {
		cfg.RequestTimeout = 30 * time.Millisecond
		cfg.MaxRetries = 2
	})
	_, err := c.GetConnection(context.Background(), "c1")
	var retryErr *RetryError
	if !errors.As(err, &retryErr) || retryErr.Attempts != 3 || !errors.Is(err, errAttemptTimeout) {
		t.Fatalf("error = %v; want a *RetryError after 3 timed-out attempts", err)
	}
	for _, want := range []string{"gave up after 3 attempts over ", "last error: no complete answer within the per-request timeout (30ms)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

// The timeout applies to each attempt, not to the whole retried call: three
// attempts of 40ms each outlast a 60ms timeout and still succeed.
func TestTimeoutIsPerAttempt(t *testing.T) {
	slow := func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(40 * time.Millisecond)
		status(503, `{"detail":"busy"}`)(w, r)
	}
	s := newScriptedServer(t, slow, slow, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(40 * time.Millisecond)
		status(200, connJSON)(w, r)
	})
	c := s.client(t, func(cfg *Config) { cfg.RequestTimeout = 60 * time.Millisecond })
	if _, err := c.GetConnection(context.Background(), "c1"); err != nil {
		t.Fatalf("GetConnection: %v", err)
	}
	if n := s.calls.Load(); n != 3 {
		t.Fatalf("attempts = %d; want 3", n)
	}
}

func TestContextCancelledWhileWaiting(t *testing.T) {
	s := newScriptedServer(t, status(503, `{"detail":"down"}`))
	c := s.client(t, func(cfg *Config) {
		cfg.RetryWaitMin = 10 * time.Second
		cfg.RetryWaitMax = 20 * time.Second
	})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.GetConnection(ctx, "c1")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error = %v; want context.DeadlineExceeded", err)
	}
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Fatalf("took %v; the wait ignored the context", elapsed)
	}
	if n := s.calls.Load(); n != 1 {
		t.Fatalf("attempts = %d; want 1", n)
	}
}

func TestBackoffBounds(t *testing.T) {
	c := &Client{retryWaitMin: 100 * time.Millisecond, retryWaitMax: time.Second}
	for attempt := 1; attempt <= 12; attempt++ {
		for range 50 {
			d, _ := c.backoff(attempt, http.Header{})
			if d < c.retryWaitMin || d > c.retryWaitMax {
				t.Fatalf("backoff(%d) = %v; want within [%v, %v]", attempt, d, c.retryWaitMin, c.retryWaitMax)
			}
			if attempt == 1 && d > 150*time.Millisecond {
				t.Fatalf("backoff(1) = %v; want at most 1.5x the minimum", d)
			}
			if attempt == 3 && d < 400*time.Millisecond {
				t.Fatalf("backoff(3) = %v; want at least 4x the minimum", d)
			}
		}
	}
	if d, asked := c.backoff(1, http.Header{"Retry-After": {"0"}}); d != 0 || !asked {
		t.Fatalf("Retry-After 0 gave %v, %v", d, asked)
	}
	if d, asked := c.backoff(1, http.Header{"Retry-After": {"soon"}}); asked || d < c.retryWaitMin || d > 150*time.Millisecond {
		t.Fatalf("an invalid Retry-After gave %v, %v; want the normal backoff", d, asked)
	}
	date := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	if d, asked := c.backoff(1, http.Header{"Retry-After": {date}}); !asked || d < 59*time.Minute || d > time.Hour {
		t.Fatalf("a Retry-After date an hour ahead gave %v, %v; want about an hour, as asked", d, asked)
	}
}

func TestRetryOn500AndTruncatedBody(t *testing.T) {
	s := newScriptedServer(t,
		status(500, `{"detail":"internal"}`),
		func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "400")
			w.WriteHeader(200)
			_, _ = w.Write([]byte(connJSON[:40]))
		},
		status(200, connJSON),
	)
	c := s.client(t)
	if _, err := c.GetConnection(context.Background(), "c1"); err != nil {
		t.Fatal(err)
	}
	if n := s.calls.Load(); n != 3 {
		t.Fatalf("attempts = %d; want 3", n)
	}
}

func TestRetryAfterHTTPDate(t *testing.T) {
	date := time.Now().Add(3 * time.Second).UTC().Format(http.TimeFormat)
	s := newScriptedServer(t, withRetryAfter(date, status(503, `{"detail":"later"}`)), status(200, connJSON))
	c := s.client(t, func(cfg *Config) { cfg.RetryWaitMax = 10 * time.Second })
	waits := recordingSleep(c)
	if _, err := c.GetConnection(context.Background(), "c1"); err != nil {
		t.Fatal(err)
	}
	// The date has whole seconds: the wait is between 2s and 3s.
	if len(*waits) != 1 || (*waits)[0] < 1500*time.Millisecond || (*waits)[0] > 3*time.Second {
		t.Fatalf("waits = %v; want about 3s from the Retry-After date", *waits)
	}
}

func TestGaveUpMessage(t *testing.T) {
	s := newScriptedServer(t, status(503, `{"detail":"Service Unavailable: scheduler restarting"}`))
	c := s.client(t, func(cfg *Config) { cfg.MaxRetries = 4 })
	_, err := c.GetConnection(context.Background(), "c1")
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Attempts != 5 {
		t.Fatalf("error = %v; want an *APIError after 5 attempts", err)
	}
	prefix := "GET " + s.srv.URL + "/api/v2/connections/c1: gave up after 5 attempts over "
	suffix := "; last answer: 503 Service Unavailable: Service Unavailable: scheduler restarting"
	if msg := err.Error(); !strings.HasPrefix(msg, prefix) || !strings.HasSuffix(msg, suffix) {
		t.Fatalf("Error() = %q\nwant %q<elapsed>%q", msg, prefix, suffix)
	}
	// An answer that is not retried says nothing of attempts.
	s2 := newScriptedServer(t, status(503, `{"detail":"x"}`), status(404, `{"detail":"gone"}`))
	_, err = s2.client(t).GetConnection(context.Background(), "c1")
	if msg := err.Error(); strings.Contains(msg, "gave up") || !strings.HasSuffix(msg, ": 404 Not Found: gone") {
		t.Fatalf("Error() = %q; want the plain 404", msg)
	}
}

// A POST whose caller does not resolve a repeat is sent once.
func TestUnresolvedPostIsNotRetried(t *testing.T) {
	s := newScriptedServer(t, status(503, `{"detail":"down"}`), status(201, `{}`))
	c := s.client(t)
	err := c.call(context.Background(), http.MethodPost, "/variables", nil, map[string]string{"key": "k"}, nil)
	if err == nil {
		t.Fatal("want the 503")
	}
	if n := s.calls.Load(); n != 1 {
		t.Fatalf("attempts = %d; want 1", n)
	}
}
