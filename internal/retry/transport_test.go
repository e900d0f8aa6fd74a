package retry

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// script answers the n-th request (from 0) with steps[n], and the last step
// once the script has run out.
type step func(w http.ResponseWriter, r *http.Request)

func serve(t *testing.T, steps ...step) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		steps[min(i, len(steps)-1)](w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func status(code int, header ...string) step {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(code)
		_, _ = w.Write([]byte(`{"error":{"message":"` + http.StatusText(code) + `"}}`))
	}
}

func ok(body string) step {
	return func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, _ = w.Write([]byte(body + string(b)))
	}
}

// reset closes the connection without an answer.
func reset(w http.ResponseWriter, _ *http.Request) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		_ = conn.Close()
	}
}

// truncated promises 100 bytes and sends 10.
func truncated(w http.ResponseWriter, _ *http.Request) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"etag\":\"A")
	_ = buf.Flush()
	_ = conn.Close()
}

func slow(d time.Duration) step {
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
		}
		w.WriteHeader(http.StatusOK)
	}
}

type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(_ context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
	return nil
}

func client(p Policy, s *sleeps) *http.Client {
	if s != nil {
		p.Sleep = s.sleep
	}
	return &http.Client{Transport: NewTransport(nil, p)}
}

func get(t *testing.T, c *http.Client, ctx context.Context, url string) (string, error) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.Status + " " + string(b), err
}

func TestTransport_retriesTransientAnswersOfReads(t *testing.T) {
	for name, first := range map[string]step{
		"429": status(429), "500": status(500), "502": status(502), "503": status(503), "504": status(504),
		"reset": reset, "truncated body": truncated,
	} {
		t.Run(name, func(t *testing.T) {
			srv, n := serve(t, first, first, ok("fine"))
			var s sleeps
			got, err := get(t, client(Policy{Attempts: 3}, &s), t.Context(), srv.URL)
			if err != nil || got != "200 OK fine" {
				t.Fatalf("got %q, %v; want 200 OK fine", got, err)
			}
			if n.Load() != 3 || len(s.d) != 2 {
				t.Errorf("requests, sleeps = %d, %d; want 3, 2", n.Load(), len(s.d))
			}
		})
	}
}

func TestTransport_honoursRetryAfter(t *testing.T) {
	srv, _ := serve(t, status(429, "Retry-After", "7"), ok("fine"))
	var s sleeps
	if _, err := get(t, client(Policy{Base: 10 * time.Millisecond}, &s), t.Context(), srv.URL); err != nil {
		t.Fatal(err)
	}
	if len(s.d) != 1 || s.d[0] != 7*time.Second {
		t.Errorf("waited %v, want [7s] (Retry-After wins over a shorter back-off)", s.d)
	}
	date := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	if d := retryAfterValue(date); d < 80*time.Second || d > 91*time.Second {
		t.Errorf("Retry-After as a date = %s, want about 90s", d)
	}
}

func TestTransport_givesUpOnALongRetryAfter(t *testing.T) {
	srv, n := serve(t, status(503, "Retry-After", "3600"))
	_, err := get(t, client(Policy{}, &sleeps{}), t.Context(), srv.URL)
	var e *Error
	if !errors.As(err, &e) || e.Code != 503 || e.Attempts != 1 || !strings.Contains(err.Error(), "the server asked to wait 1h0m0s") {
		t.Fatalf("err = %v; want a give-up naming the wait", err)
	}
	if n.Load() != 1 {
		t.Errorf("%d requests, want 1", n.Load())
	}
}

func TestTransport_finalErrorSaysAttemptsTimeAndLastAnswer(t *testing.T) {
	srv, n := serve(t, status(503))
	var s sleeps
	_, err := get(t, client(Policy{Attempts: 4, Base: time.Millisecond, Max: 4 * time.Millisecond}, &s), t.Context(), srv.URL)
	var e *Error
	if !errors.As(err, &e) || e.Attempts != 4 || e.HTTPStatusCode() != 503 {
		t.Fatalf("err = %#v", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "gave up after 4 attempts over ") || !strings.Contains(msg, "last answer: HTTP 503 Service Unavailable") {
		t.Errorf("message %q does not say the attempts and the last answer", msg)
	}
	if n.Load() != 4 {
		t.Errorf("%d requests, want 4", n.Load())
	}
	// Back-off doubles from Base, capped at Max, jittered into [d/2, d].
	for i, want := range []time.Duration{time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond} {
		if s.d[i] < want/2 || s.d[i] > want {
			t.Errorf("wait %d = %s, want within [%s, %s]", i, s.d[i], want/2, want)
		}
	}
}

func TestTransport_boundsEachAttempt(t *testing.T) {
	srv, n := serve(t, slow(5*time.Second), ok("fine"))
	start := time.Now()
	got, err := get(t, client(Policy{RequestTimeout: 200 * time.Millisecond}, &sleeps{}), t.Context(), srv.URL)
	if err != nil || got != "200 OK fine" {
		t.Fatalf("got %q, %v", got, err)
	}
	if el := time.Since(start); el > 2*time.Second || n.Load() != 2 {
		t.Errorf("took %s over %d requests; want the slow attempt cut at 200ms and one retry", el, n.Load())
	}

	srv, _ = serve(t, slow(5*time.Second))
	_, err = get(t, client(Policy{Attempts: 2, RequestTimeout: 100 * time.Millisecond}, &sleeps{}), t.Context(), srv.URL)
	if !errors.Is(err, ErrAttemptTimeout) || !strings.Contains(err.Error(), "gave up after 2 attempts") {
		t.Errorf("err = %v; want a give-up after 2 timed-out attempts", err)
	}
}

func post(t *testing.T, c *http.Client, ctx context.Context, url string) (*http.Response, error) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader("payload"))
	return c.Do(req)
}

func TestTransport_sendsANonIdempotentRequestOnce(t *testing.T) {
	srv, n := serve(t, status(503), ok("x"))
	resp, err := post(t, client(Policy{}, &sleeps{}), t.Context(), srv.URL)
	if err != nil || resp.StatusCode != 503 {
		t.Fatalf("got %v, %v; want the 503 as it came", resp, err)
	}
	if n.Load() != 1 {
		t.Errorf("%d requests, want 1", n.Load())
	}
}

func TestTransport_allowRetryAndRecord(t *testing.T) {
	srv, n := serve(t, reset, ok("got "))
	ctx, rec := Track(AllowRetry(t.Context()))
	resp, err := post(t, client(Policy{}, &sleeps{}), ctx, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if string(b) != "got payload" {
		t.Errorf("body %q: the repeat must carry the same request body", b)
	}
	if rec.Attempts() != 2 || n.Load() != 2 {
		t.Errorf("record %d, requests %d; want 2, 2", rec.Attempts(), n.Load())
	}
}

func TestTransport_budgetBoundsAnOperation(t *testing.T) {
	srv, n := serve(t, status(503))
	b := &Budget{Limit: 3}
	ctx := WithBudget(t.Context(), b)
	c := client(Policy{Attempts: 5}, &sleeps{})
	_, err := get(t, c, ctx, srv.URL)
	if err == nil || !strings.Contains(err.Error(), "retry budget is spent") {
		t.Fatalf("err = %v", err)
	}
	_, _ = get(t, c, ctx, srv.URL)
	if n.Load() != 4 || b.Used() != 4 {
		t.Errorf("requests %d, used %d; want 4: three, then one that is not retried", n.Load(), b.Used())
	}
}

func TestTransport_stopsWhenTheCallerGivesUp(t *testing.T) {
	srv, n := serve(t, status(503))
	ctx, cancel := context.WithCancel(t.Context())
	c := &http.Client{Transport: NewTransport(nil, Policy{Sleep: func(context.Context, time.Duration) error {
		cancel()
		return context.Canceled
	}})}
	_, err := get(t, c, ctx, srv.URL)
	if err == nil || !strings.Contains(err.Error(), "interrupted") || n.Load() != 1 {
		t.Errorf("err = %v after %d requests; want an interruption after 1", err, n.Load())
	}
}

// retryAfterValue is After on a header holding only v.
func retryAfterValue(v string) time.Duration {
	d, _ := After(http.Header{"Retry-After": {v}}, time.Now())
	return d
}

func TestAfter(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for v, want := range map[string]struct {
		wait time.Duration
		ok   bool
	}{
		"":                              {0, false},
		"7":                             {7 * time.Second, true},
		"-1":                            {0, false},
		"soon":                          {0, false},
		"999999999":                     {24 * time.Hour, true},
		"Tue, 01 Dec 2026 12:01:30 GMT": {90 * time.Second, true},
		"Tue, 01 Dec 2026 11:00:00 GMT": {0, true},
	} {
		wait, ok := After(http.Header{"Retry-After": {v}}, now)
		if wait != want.wait || ok != want.ok {
			t.Errorf("After(%q) = %v, %v; want %v, %v", v, wait, ok, want.wait, want.ok)
		}
	}
}
