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
	f.wantCalls(t, 1, 1, 20)
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
	// A refused login is attempted once; no API request without a token.
	f.wantCalls(t, -1, 1, 0)
}

func TestLoginGivingUpIsShared(t *testing.T) {
	f := newFakeAirflow(t, VersionV2)
	f.answerPath(tokenPath, status(http.StatusServiceUnavailable, `{"detail":"database is locked"}`))
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
	// One login with its retries, for all 10 callers.
	f.wantCalls(t, -1, 1+defaultMaxRetries, 0)
}

func TestFailedProbeIsShared(t *testing.T) {
	f := newFakeAirflow(t, VersionV2)
	f.answerPath(healthPath, status(http.StatusServiceUnavailable, `{"detail":"starting"}`))
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
	// One probe with its retries, and nothing else.
	f.wantCalls(t, 1+defaultMaxRetries, 0, 0)
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
	f.answerPath(healthPath, status(http.StatusServiceUnavailable, `{"detail":"down"}`))
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
	// One probe, 5 attempts, for all 10 callers.
	f.wantCalls(t, 5, 0, 0)
	var total time.Duration
	for _, w := range *waits {
		total += w
	}
	if len(*waits) != 4 || total > 9250*time.Millisecond || total < 7*time.Second {
		t.Errorf("waits = %v (total %v); want 4 waits of jittered doubling from 500ms capped at 4s, at most 9.25s", *waits, total)
	}
}
