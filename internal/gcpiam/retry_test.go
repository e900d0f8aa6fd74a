package gcpiam

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// conflictServer answers getIamPolicy with an empty policy and setIamPolicy
// with the given status, counting both.
func conflictServer(t *testing.T, status int, body string) (url string, gets, sets *atomic.Int32) {
	t.Helper()
	gets, sets = new(atomic.Int32), new(atomic.Int32)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasSuffix(r.URL.Path, ":getIamPolicy"):
			gets.Add(1)
			_, _ = w.Write([]byte(`{"version":1,"etag":"ACAB"}`))
		case strings.HasSuffix(r.URL.Path, ":setIamPolicy"):
			sets.Add(1)
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL, gets, sets
}

func TestRetry_stopsAtItsBound(t *testing.T) {
	url, gets, sets := conflictServer(t, http.StatusConflict,
		`{"error":{"code":409,"message":"There were concurrent policy changes.","status":"ABORTED"}}`)
	var waits []time.Duration
	c, err := NewClient(t.Context(), Config{
		AccessToken: "test", IAMEndpoint: url, IAMCredentialsEndpoint: url,
		Retry: Retry{Attempts: 4, Base: 100 * time.Millisecond, Max: 300 * time.Millisecond, Sleep: func(_ context.Context, d time.Duration) error {
			waits = append(waits, d)
			return nil
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.AddMember(t.Context(), "a@p.iam.gserviceaccount.com", tokenCreator, "user:x@example.com")
	if err == nil || !strings.Contains(err.Error(), "gave up after 4 read-modify-write attempts (8 requests)") || Status(err) != "ABORTED" {
		t.Fatalf("err = %v (status %q), want a give-up after 4 attempts wrapping ABORTED", err, Status(err))
	}
	if gets.Load() != 4 || sets.Load() != 4 {
		t.Errorf("reads, writes = %d, %d; want 4, 4 (every retry starts again from the read)", gets.Load(), sets.Load())
	}
	if len(waits) != 3 {
		t.Fatalf("waited %d times, want 3: %v", len(waits), waits)
	}
	// Backoff doubles from Base and is capped at Max, jittered into [d/2, d].
	for i, limit := range []time.Duration{100, 200, 300} {
		limit *= time.Millisecond
		if waits[i] < limit/2 || waits[i] > limit {
			t.Errorf("wait %d = %v, want within [%v, %v]", i, waits[i], limit/2, limit)
		}
	}
}

func TestRetry_permanentErrorIsNotRetried(t *testing.T) {
	url, gets, sets := conflictServer(t, http.StatusForbidden,
		`{"error":{"code":403,"message":"Permission 'iam.serviceAccounts.setIamPolicy' denied","status":"PERMISSION_DENIED"}}`)
	c, err := NewClient(t.Context(), Config{AccessToken: "test", IAMEndpoint: url,
		Retry: Retry{Sleep: func(context.Context, time.Duration) error { t.Error("slept after a permanent error"); return nil }}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.AddMember(t.Context(), "a@p.iam.gserviceaccount.com", tokenCreator, "user:x@example.com")
	if !IsPermissionDenied(err) || Status(err) != "PERMISSION_DENIED" {
		t.Fatalf("err = %v, want the 403 as it came", err)
	}
	if gets.Load() != 1 || sets.Load() != 1 {
		t.Errorf("reads, writes = %d, %d; want 1, 1", gets.Load(), sets.Load())
	}
}

func TestRetry_contextEndsTheWait(t *testing.T) {
	url, _, sets := conflictServer(t, http.StatusConflict,
		`{"error":{"code":409,"message":"There were concurrent policy changes.","status":"ABORTED"}}`)
	c, err := NewClient(t.Context(), Config{AccessToken: "test", IAMEndpoint: url,
		Retry: Retry{Base: time.Hour, Max: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err = c.AddMember(ctx, "a@p.iam.gserviceaccount.com", tokenCreator, "user:x@example.com")
	if err == nil || !strings.Contains(err.Error(), "interrupted while retrying") {
		t.Fatalf("err = %v, want the wait cut short by the context", err)
	}
	if sets.Load() != 1 {
		t.Errorf("writes = %d, want 1", sets.Load())
	}
}
