package gcpiam

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	iam "google.golang.org/api/iam/v1"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/retry"
)

// policyServer keeps one etag-guarded policy, as Google does
// (https://cloud.google.com/iam/docs/policies#etag: a setIamPolicy whose
// etag is not the current one fails with 409 ABORTED). fault, when it
// returns true for the n-th request (from 1) of a kind, makes the server
// act and then drop the connection (lost answer) or answer 503 before
// acting.
type policyServer struct {
	mu     sync.Mutex
	policy iam.Policy
	n      int
	gets   atomic.Int32
	sets   atomic.Int32
	// dropSet drops the answer of these setIamPolicy calls after applying them.
	dropSet map[int32]bool
	// failGet answers these getIamPolicy calls with 503 and Retry-After 1.
	failGet map[int32]bool
}

func (s *policyServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case strings.HasSuffix(r.URL.Path, ":getIamPolicy"):
		if s.failGet[s.gets.Add(1)] {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"error":{"code":503,"status":"UNAVAILABLE"}}`))
			return
		}
		s.policy.Etag = "E" + strconv.Itoa(s.n)
		_ = json.NewEncoder(w).Encode(&s.policy)
	case strings.HasSuffix(r.URL.Path, ":setIamPolicy"):
		n := s.sets.Add(1)
		var req iam.SetIamPolicyRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		if req.Policy.Etag != "E"+strconv.Itoa(s.n) {
			w.WriteHeader(http.StatusConflict)
			_, _ = w.Write([]byte(`{"error":{"code":409,"message":"There were concurrent policy changes.","status":"ABORTED"}}`))
			return
		}
		s.policy = *req.Policy
		s.n++
		if s.dropSet[n] {
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				_ = conn.Close()
			}
			return
		}
		s.policy.Etag = "E" + strconv.Itoa(s.n)
		_ = json.NewEncoder(w).Encode(&s.policy)
	default:
		http.NotFound(w, r)
	}
}

func policyClient(t *testing.T, s *policyServer) (*Client, *[]time.Duration) {
	t.Helper()
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	var mu sync.Mutex
	var waits []time.Duration
	sleep := func(_ context.Context, d time.Duration) error {
		mu.Lock()
		defer mu.Unlock()
		waits = append(waits, d)
		return nil
	}
	c, err := NewClient(t.Context(), Config{
		AccessToken: "test", IAMEndpoint: srv.URL, IAMCredentialsEndpoint: srv.URL,
		Retry:    Retry{Sleep: sleep},
		Requests: retry.Policy{Sleep: sleep},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c, &waits
}

const acct = "a@p.iam.gserviceaccount.com"

func TestTransport_policyReadsAreRetried(t *testing.T) {
	s := &policyServer{failGet: map[int32]bool{1: true, 2: true}}
	c, waits := policyClient(t, s)
	if _, err := c.HasMember(t.Context(), acct, tokenCreator, "user:x@example.com"); err != nil {
		t.Fatal(err)
	}
	if s.gets.Load() != 3 || len(*waits) != 2 || (*waits)[0] < time.Second {
		t.Errorf("reads %d, waits %v; want 3 reads and two waits of at least the Retry-After", s.gets.Load(), *waits)
	}
}

// A setIamPolicy whose answer is lost is repeated with the same etag; the
// repeat fails with 409, the loop reads again and finds the member it
// added: that is this call's own grant, so AddMember reports a change.
func TestTransport_lostSetAnswerIsOurOwnGrant(t *testing.T) {
	s := &policyServer{dropSet: map[int32]bool{1: true}}
	c, _ := policyClient(t, s)
	added, err := c.AddMember(t.Context(), acct, tokenCreator, "user:x@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if !added {
		t.Error("AddMember reported the member as already there, but it was this call's own write")
	}
	if s.sets.Load() != 2 || s.gets.Load() != 2 {
		t.Errorf("writes %d, reads %d; want 2 (the lost one and its repeat), 2", s.sets.Load(), s.gets.Load())
	}
	if !PolicyHasMember(&s.policy, tokenCreator, "user:x@example.com") || len(s.policy.Bindings) != 1 {
		t.Errorf("policy = %+v, want the one grant", s.policy.Bindings)
	}

	// A member that was there before is still reported as not added.
	added, err = c.AddMember(t.Context(), acct, tokenCreator, "user:x@example.com")
	if err != nil || added {
		t.Errorf("second AddMember = %v, %v; want false (already there)", added, err)
	}
}

// A read that keeps failing is given up on by the transport after its
// attempts, and the loop does not start again on top of that.
func TestTransport_retriesDoNotMultiply(t *testing.T) {
	fail := map[int32]bool{}
	for i := int32(1); i < 100; i++ {
		fail[i] = true
	}
	s := &policyServer{failGet: fail}
	c, _ := policyClient(t, s)
	_, err := c.AddMember(t.Context(), acct, tokenCreator, "user:x@example.com")
	if err == nil || !strings.Contains(err.Error(), "gave up after 5 attempts") || StatusCode(err) != http.StatusServiceUnavailable {
		t.Fatalf("err = %v (status %d); want a give-up after 5 attempts with the 503", err, StatusCode(err))
	}
	if s.gets.Load() != 5 {
		t.Errorf("reads = %d, want 5", s.gets.Load())
	}
}

func TestIdempotentRequest(t *testing.T) {
	for _, c := range []struct {
		method, path string
		want         bool
	}{
		{"GET", "/v1/projects/-/serviceAccounts/a", true},
		{"POST", "/v1/projects/-/serviceAccounts/a:getIamPolicy", true},
		{"POST", "/v1/projects/-/serviceAccounts/a:setIamPolicy", true},
		{"POST", "/v1/projects/-/serviceAccounts/a:generateIdToken", true},
		{"POST", "/token", true},
		{"POST", "/v1/projects/p/secrets", false},
		{"POST", "/v1/projects/p/secrets/s:addVersion", false},
		{"PATCH", "/v1/projects/p/secrets/s", false},
		{"DELETE", "/v1/projects/p/secrets/s", true},
	} {
		req := httptest.NewRequest(c.method, "https://x.googleapis.com"+c.path, nil)
		if got := IdempotentRequest(req); got != c.want {
			t.Errorf("%s %s: %v, want %v", c.method, c.path, got, c.want)
		}
	}
}
