package faultproxy

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// backend is a service that counts the requests it acted on and answers
// 201 with a body long enough to cut in half.
type backend struct {
	*httptest.Server
	acted atomic.Int32
}

const backendBody = `{"connection_id":"c1","conn_type":"http","host":"example.com","description":"a body long enough to be cut in half"}`

func newBackend(t *testing.T) *backend {
	t.Helper()
	b := &backend{}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.acted.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Backend", "yes")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, backendBody)
	}))
	t.Cleanup(b.Close)
	return b
}

func newProxy(t *testing.T, target string, f Fault) *Proxy {
	t.Helper()
	p, err := New(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	p.Set(f)
	return p
}

// client opens a new connection per request, so that Go's transport never
// replays a request on its own after a reset of a reused connection.
func client(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
}

func post(t *testing.T, c *http.Client, url string) (*http.Response, []byte, error) {
	t.Helper()
	resp, err := c.Post(url+"/api/v2/connections", "application/json", strings.NewReader(`{"connection_id":"c1"}`))
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

func TestNoFaultForwards(t *testing.T) {
	b := newBackend(t)
	p := newProxy(t, b.URL, Fault{})
	resp, body, err := post(t, client(5*time.Second), p.URL())
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusCreated || string(body) != backendBody || resp.Header.Get("X-Backend") != "yes" {
		t.Errorf("got %d %q (X-Backend %q), want the backend's 201 and body", resp.StatusCode, body, resp.Header.Get("X-Backend"))
	}
	if got := p.Stats(); got != (Stats{Requests: 1, Forwarded: 1}) {
		t.Errorf("stats %+v, want 1 request forwarded, none faulted", got)
	}
	if n := p.Count(http.MethodPost, "/api/v2/connections"); n != 1 {
		t.Errorf("Count(POST, /api/v2/connections) = %d, want 1", n)
	}
	if n := p.Count(http.MethodGet, ""); n != 0 {
		t.Errorf("Count(GET) = %d, want 0", n)
	}
}

func TestErrorStatuses(t *testing.T) {
	for _, tc := range []struct {
		kind   Kind
		status int
	}{{TooManyRequests, 429}, {InternalError, 500}, {Unavailable, 503}} {
		t.Run(tc.kind.String(), func(t *testing.T) {
			b := newBackend(t)
			p := newProxy(t, b.URL, Fault{Kind: tc.kind, Body: GoogleError})
			resp, body, err := post(t, client(5*time.Second), p.URL())
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
			wantRetryAfter := ""
			if tc.kind == TooManyRequests {
				wantRetryAfter = "1"
			}
			if got := resp.Header.Get("Retry-After"); got != wantRetryAfter {
				t.Errorf("Retry-After %q, want %q", got, wantRetryAfter)
			}
			var g struct {
				Error struct {
					Code   int
					Status string
				}
			}
			if err := json.Unmarshal(body, &g); err != nil || g.Error.Code != tc.status || g.Error.Status != googleStatus[tc.status] {
				t.Errorf("body %s is not Google's error for %d (%v)", body, tc.status, err)
			}
			if n := b.acted.Load(); n != 0 {
				t.Errorf("the backend acted %d times; an injected status must not reach it", n)
			}
			if got := p.Stats(); got != (Stats{Requests: 1, Faulted: 1}) {
				t.Errorf("stats %+v, want 1 request faulted, none forwarded", got)
			}
		})
	}
}

func TestAWSErrorFollowsTheProtocol(t *testing.T) {
	query := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("Action=CreateRole"))
	ct, body := AWSError(query, http.StatusTooManyRequests)
	var q struct {
		Error struct{ Type, Code, Message string }
	}
	if err := xml.Unmarshal(body, &q); err != nil || q.Error.Code != "Throttling" || q.Error.Type != "Sender" || ct != "text/xml" {
		t.Errorf("query error %s %s: %+v (%v), want Sender/Throttling XML", ct, body, q, err)
	}
	js := httptest.NewRequest(http.MethodPost, "/", nil)
	js.Header.Set("X-Amz-Target", "secretsmanager.CreateSecret")
	_, body = AWSError(js, http.StatusServiceUnavailable)
	var j map[string]string
	if err := json.Unmarshal(body, &j); err != nil || j["__type"] != "ServiceUnavailable" {
		t.Errorf("JSON error %s (%v), want __type ServiceUnavailable", body, err)
	}
	_, body = AirflowError(nil, 503)
	var a map[string]any
	if err := json.Unmarshal(body, &a); err != nil || a["status"] != float64(503) || a["detail"] == nil {
		t.Errorf("Airflow error %s (%v), want status and detail", body, err)
	}
}

// isReset reports whether err is what a client sees when the connection is
// reset or closed under it.
func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

func TestResetBeforeForwarding(t *testing.T) {
	b := newBackend(t)
	p := newProxy(t, b.URL, Fault{Kind: ResetBefore})
	_, _, err := post(t, client(5*time.Second), p.URL())
	if err == nil || !isReset(err) {
		t.Fatalf("got %v, want a reset connection", err)
	}
	if n := b.acted.Load(); n != 0 {
		t.Errorf("the backend acted %d times, want 0", n)
	}
	if e := p.Log(); len(e) != 1 || e[0].Forwarded || e[0].Fault != ResetBefore {
		t.Errorf("log %v, want one request reset before forwarding", e)
	}
}

func TestResetAfterForwarding(t *testing.T) {
	b := newBackend(t)
	p := newProxy(t, b.URL, Fault{Kind: ResetAfter})
	_, _, err := post(t, client(5*time.Second), p.URL())
	if err == nil || !isReset(err) {
		t.Fatalf("got %v, want a reset connection", err)
	}
	if n := b.acted.Load(); n != 1 {
		t.Errorf("the backend acted %d times, want 1: the write happened, its answer was lost", n)
	}
	if e := p.Log(); len(e) != 1 || !e[0].Forwarded || e[0].Status != http.StatusCreated {
		t.Errorf("log %v, want one forwarded request the backend answered 201", e)
	}
}

func TestTruncatedBody(t *testing.T) {
	b := newBackend(t)
	p := newProxy(t, b.URL, Fault{Kind: Truncate})
	resp, body, err := post(t, client(5*time.Second), p.URL())
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("got %v, want unexpected EOF reading the body", err)
	}
	if resp.StatusCode != http.StatusCreated || resp.ContentLength != int64(len(backendBody)) {
		t.Errorf("status %d, Content-Length %d; want the backend's 201 and the full length %d", resp.StatusCode, resp.ContentLength, len(backendBody))
	}
	if want := backendBody[:len(backendBody)/2]; string(body) != want {
		t.Errorf("body %q, want the first half %q", body, want)
	}
	if n := b.acted.Load(); n != 1 {
		t.Errorf("the backend acted %d times, want 1", n)
	}
}

func TestSlow(t *testing.T) {
	b := newBackend(t)
	p := newProxy(t, b.URL, Fault{Kind: Slow, Delay: 300 * time.Millisecond})
	began := time.Now()
	resp, body, err := post(t, client(5*time.Second), p.URL())
	took := time.Since(began)
	if err != nil || resp.StatusCode != http.StatusCreated || string(body) != backendBody {
		t.Fatalf("got %v %v, want the backend's answer", resp, err)
	}
	if took < 300*time.Millisecond || took > 3*time.Second {
		t.Errorf("answered after %v, want about 300ms", took)
	}
}

func TestSilent(t *testing.T) {
	b := newBackend(t)
	p := newProxy(t, b.URL, Fault{Kind: Silent, Delay: 700 * time.Millisecond})
	// A client with a timeout gives up at its timeout.
	began := time.Now()
	_, _, err := post(t, client(200*time.Millisecond), p.URL())
	var ne interface{ Timeout() bool }
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("got %v, want a client timeout", err)
	}
	if took := time.Since(began); took > 600*time.Millisecond {
		t.Errorf("the client gave up after %v, want at its 200ms timeout", took)
	}
	// One without waits for the hold, then sees the connection closed.
	began = time.Now()
	_, _, err = post(t, client(0), p.URL())
	took := time.Since(began)
	if err == nil || !isReset(err) {
		t.Errorf("got %v, want the connection closed unanswered", err)
	}
	if took < 700*time.Millisecond || took > 5*time.Second {
		t.Errorf("closed after %v, want after the 700ms hold", took)
	}
	if n := b.acted.Load(); n != 0 {
		t.Errorf("the backend acted %d times, want 0", n)
	}
}

func TestCloseEndsSilentHolds(t *testing.T) {
	b := newBackend(t)
	p, err := New(b.URL)
	if err != nil {
		t.Fatal(err)
	}
	p.Set(Fault{Kind: Silent, Delay: time.Hour})
	done := make(chan error, 1)
	go func() {
		_, _, err := post(t, client(0), p.URL())
		done <- err
	}()
	for p.Stats().Requests == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	closed := make(chan struct{})
	go func() { p.Close(); close(closed) }()
	select {
	case err := <-done:
		if err == nil {
			t.Error("a silent request was answered")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end an hour-long silent hold")
	}
	<-closed
}

// hits runs n GETs of path and returns which were faulted (1-based).
func hits(t *testing.T, p *Proxy, method string, n int) []int {
	t.Helper()
	c := client(5 * time.Second)
	for range n {
		req, err := http.NewRequest(method, p.URL()+"/x", nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp, err := c.Do(req); err == nil {
			resp.Body.Close()
		}
	}
	var out []int
	for i, e := range p.Log() {
		if e.Fault != None {
			out = append(out, i+1)
		}
	}
	return out
}

func TestSelectionIsDeterministic(t *testing.T) {
	b := newBackend(t)
	run := func(f Fault, n int) []int {
		p := newProxy(t, b.URL, f)
		return hits(t, p, http.MethodGet, n)
	}
	if got := run(Fault{Kind: Unavailable, Every: 3}, 10); !slices.Equal(got, []int{3, 6, 9}) {
		t.Errorf("Every 3 hit %v, want [3 6 9]", got)
	}
	if got := run(Fault{Kind: Unavailable, Every: 2, Max: 2}, 10); !slices.Equal(got, []int{2, 4}) {
		t.Errorf("Every 2, Max 2 hit %v, want [2 4]", got)
	}
	a := run(Fault{Kind: Unavailable, Rate: 0.3, Seed: 42}, 200)
	again := run(Fault{Kind: Unavailable, Rate: 0.3, Seed: 42}, 200)
	other := run(Fault{Kind: Unavailable, Rate: 0.3, Seed: 43}, 200)
	if !slices.Equal(a, again) {
		t.Errorf("the same seed hit %v, then %v", a, again)
	}
	if slices.Equal(a, other) {
		t.Errorf("seeds 42 and 43 hit the same requests %v", a)
	}
	if len(a) < 40 || len(a) > 80 {
		t.Errorf("rate 0.3 hit %d of 200, want about 60", len(a))
	}
	if got := run(Fault{Kind: Unavailable}, 4); !slices.Equal(got, []int{1, 2, 3, 4}) {
		t.Errorf("no rate hit %v, want every request", got)
	}
}

func TestFilters(t *testing.T) {
	b := newBackend(t)
	p := newProxy(t, b.URL, Fault{Kind: Unavailable, Methods: []string{http.MethodPost}})
	if got := hits(t, p, http.MethodGet, 3); len(got) != 0 {
		t.Errorf("a POST-only fault hit GETs %v", got)
	}
	p.Reset()
	if got := hits(t, p, http.MethodPost, 2); !slices.Equal(got, []int{1, 2}) {
		t.Errorf("a POST-only fault hit POSTs %v, want [1 2]", got)
	}
	p.Set(Fault{Kind: Unavailable, Path: "/api/"})
	p.Reset()
	if got := hits(t, p, http.MethodGet, 2); len(got) != 0 {
		t.Errorf("a fault on /api/ hit /x: %v", got)
	}
	p.Set(Fault{Kind: Unavailable, Match: func(e Entry) bool { return e.Method == http.MethodDelete }})
	p.Reset()
	if got := hits(t, p, http.MethodGet, 2); len(got) != 0 {
		t.Errorf("a fault matching DELETE hit GETs %v", got)
	}
	if got := hits(t, p, http.MethodDelete, 1); !slices.Equal(got, []int{3}) {
		t.Errorf("a fault matching DELETE hit %v, want [3]", got)
	}
	p.Clear()
	p.Reset()
	if got := hits(t, p, http.MethodPost, 3); len(got) != 0 {
		t.Errorf("after Clear, hit %v", got)
	}
}

func TestOnEntrySeesTheWriteBeforeTheAnswer(t *testing.T) {
	b := newBackend(t)
	p := newProxy(t, b.URL, Fault{})
	seen := make(chan Entry, 1)
	p.OnEntry(func(e Entry) {
		if e.Method == http.MethodPost {
			seen <- e
		}
	})
	if _, _, err := post(t, client(5*time.Second), p.URL()); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-seen:
		if !e.Forwarded || e.Status != http.StatusCreated {
			t.Errorf("entry %v, want a forwarded POST answered 201", e)
		}
	default:
		t.Error("OnEntry was not called for the POST")
	}
}

func TestNewRejectsBadTargets(t *testing.T) {
	for _, target := range []string{"", "https://example.com", "127.0.0.1:80", "http://"} {
		if p, err := New(target); err == nil {
			p.Close()
			t.Errorf("New(%q) succeeded", target)
		}
	}
}

func TestOperationNamesTheAWSAction(t *testing.T) {
	b := newBackend(t)
	p := newProxy(t, b.URL, Fault{})
	c := client(5 * time.Second)
	if resp, err := c.Post(p.URL()+"/", "application/x-www-form-urlencoded", strings.NewReader("Action=CreateRole&Version=2010-05-08&RoleName=r")); err == nil {
		resp.Body.Close()
	}
	req, _ := http.NewRequest(http.MethodPost, p.URL()+"/", strings.NewReader("{}"))
	req.Header.Set("X-Amz-Target", "secretsmanager.CreateSecret")
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	if resp, err := c.Do(req); err == nil {
		resp.Body.Close()
	}
	if _, _, err := post(t, c, p.URL()); err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, e := range p.Log() {
		ops = append(ops, e.Operation)
	}
	if want := []string{"CreateRole", "CreateSecret", ""}; !slices.Equal(ops, want) {
		t.Errorf("operations %q, want %q", ops, want)
	}
}
