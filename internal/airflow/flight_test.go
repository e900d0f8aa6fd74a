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

// concurrently runs fn from n goroutines at once and returns their errors.
func concurrently(n int, fn func() error) []error {
	errs := make([]error, n)
	var start, wg sync.WaitGroup
	start.Add(1)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start.Wait()
			errs[i] = fn()
		}()
	}
	start.Done()
	wg.Wait()
	return errs
}

func TestOneProbeAndOneLoginForConcurrentCallers(t *testing.T) {
	f := newFakeAirflow(t, VersionV2)
	f.seed(Connection{ConnectionID: "c1", ConnType: "http"})
	c := f.client(t)
	errs := concurrently(20, func() error {
		_, err := c.GetConnection(context.Background(), "c1")
		return err
	})
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := f.healthCalls.Load(); n != 1 {
		t.Errorf("version probes = %d; want 1 for 20 callers", n)
	}
	if n := f.tokenCalls.Load(); n != 1 {
		t.Errorf("logins = %d; want 1 for 20 callers", n)
	}
	if n := f.apiCalls.Load(); n != 20 {
		t.Errorf("API requests = %d; want 20", n)
	}
}

func TestFailedLoginIsSharedAndRemembered(t *testing.T) {
	f := newFakeAirflow(t, VersionV2)
	c := f.client(t, func(cfg *Config) { cfg.Password = "wrong" })
	start := time.Now()
	errs := concurrently(10, func() error {
		_, err := c.GetConnection(context.Background(), "c1")
		return err
	})
	// A later caller gets it too, without a new login.
	_, later := c.GetConnection(context.Background(), "c2")
	errs = append(errs, later)
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("11 callers took %v to fail; want them to share one failed login", elapsed)
	}
	for i, err := range errs {
		if err == nil || !strings.Contains(err.Error(), "401 Unauthorized: Invalid credentials") {
			t.Fatalf("caller %d: error = %v; want the login's 401", i, err)
		}
		if err.Error() != errs[0].Error() {
			t.Fatalf("caller %d: error %q differs from %q", i, err, errs[0])
		}
	}
	if n := f.tokenCalls.Load(); n != 1 {
		t.Errorf("logins = %d; want 1 (a refused login is attempted once)", n)
	}
	if n := f.apiCalls.Load(); n != 0 {
		t.Errorf("API requests = %d; want none without a token", n)
	}
}

func TestLoginGivingUpIsShared(t *testing.T) {
	f := newFakeAirflow(t, VersionV2)
	f.intercept = func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/auth/token" {
			return false
		}
		f.tokenCalls.Add(1)
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"detail": "database is locked"})
		return true
	}
	c := f.client(t, func(cfg *Config) { cfg.APIVersion = VersionV2 })
	errs := concurrently(10, func() error {
		_, err := c.GetConnection(context.Background(), "c1")
		return err
	})
	for i, err := range errs {
		var apiErr *APIError
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusServiceUnavailable || apiErr.Attempts != 1+defaultMaxRetries {
			t.Fatalf("caller %d: error = %v; want the login's 503 after all its attempts", i, err)
		}
		if !strings.Contains(err.Error(), "gave up after 5 attempts over ") || !strings.Contains(err.Error(), "last answer: 503 Service Unavailable: database is locked") {
			t.Fatalf("caller %d: error = %q; want it to say it gave up and what Airflow last said", i, err)
		}
	}
	if n := f.tokenCalls.Load(); n != 1+defaultMaxRetries {
		t.Errorf("login requests = %d; want %d (one login with its retries, for all 10 callers)", n, 1+defaultMaxRetries)
	}
}

func TestFailedProbeIsShared(t *testing.T) {
	f := newFakeAirflow(t, VersionV2)
	f.intercept = func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != healthPath {
			return false
		}
		f.healthCalls.Add(1)
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"detail": "starting"})
		return true
	}
	c := f.client(t)
	errs := concurrently(10, func() error {
		_, err := c.GetConnection(context.Background(), "c1")
		return err
	})
	for i, err := range errs {
		if err == nil || err.Error() != errs[0].Error() || !strings.Contains(err.Error(), "detecting the Airflow API version") {
			t.Fatalf("caller %d: error = %v; want the probe's one error", i, err)
		}
	}
	if n := f.healthCalls.Load(); n != 1+defaultMaxRetries {
		t.Errorf("probe requests = %d; want %d (one probe with its retries)", n, 1+defaultMaxRetries)
	}
	if n := f.tokenCalls.Load() + f.apiCalls.Load(); n != 0 {
		t.Errorf("other requests = %d; want none", n)
	}
}

// A caller whose own context ends while it leads the login does not leave
// its cancellation behind for the others.
func TestCancelledLoginIsNotRemembered(t *testing.T) {
	var s shared[string]
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.get(ctx, func(ctx context.Context) (string, error) { return "", ctx.Err() }); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v; want context.Canceled", err)
	}
	v, err := s.get(context.Background(), func(context.Context) (string, error) { return "tok", nil })
	if err != nil || v != "tok" {
		t.Fatalf("get after a cancelled leader = %q, %v; want a fresh computation", v, err)
	}
	s.forget("other")
	if v, _ := s.get(context.Background(), func(context.Context) (string, error) { return "new", nil }); v != "tok" {
		t.Fatalf("forget of another value dropped the kept one: %q", v)
	}
	s.forget("tok")
	if v, _ := s.get(context.Background(), func(context.Context) (string, error) { return "new", nil }); v != "new" {
		t.Fatalf("after forget got %q; want a new value", v)
	}
}

// With Airflow answering 503 to everything, ten resources fail together
// after one probe's retries, and the waits of that probe stay within the
// bounded budget.
func TestGivingUpIsBounded(t *testing.T) {
	f := newFakeAirflow(t, VersionV2)
	f.intercept = func(w http.ResponseWriter, r *http.Request) bool {
		f.healthCalls.Add(1)
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"detail": "down"})
		return true
	}
	c, err := NewClient(Config{Endpoint: f.srv.URL, Username: fakeUser, Password: fakePass})
	if err != nil {
		t.Fatal(err)
	}
	waits := recordingSleep(c)
	errs := concurrently(10, func() error {
		_, err := c.GetConnection(context.Background(), "c1")
		return err
	})
	for _, err := range errs {
		if err == nil {
			t.Fatal("want an error")
		}
	}
	if n := f.healthCalls.Load(); n != 5 {
		t.Errorf("requests = %d; want 5 (one request, 5 attempts, for all 10 callers)", n)
	}
	var total time.Duration
	for _, w := range *waits {
		total += w
	}
	if len(*waits) != 4 || total > 9250*time.Millisecond || total < 7*time.Second {
		t.Errorf("waits = %v (total %v); want 4 waits of jittered doubling from 500ms capped at 4s, at most 9.25s", *waits, total)
	}
}
