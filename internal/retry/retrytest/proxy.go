package retrytest

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"
)

// Proxy is a reverse proxy in front of a service whose Lose transport
// forwards every request and throws away the answers it selects: the
// client's connection is then closed without an answer, after the service
// has acted on the request.
type Proxy struct {
	URL  string
	Lose *LoseAnswers
}

// NewProxy starts a proxy to target that loses the answers of the first
// times requests match selects. It stops when the test ends.
func NewProxy(t testing.TB, target string, match func(*http.Request) bool, times int) *Proxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatalf("proxy target %q: %v", target, err)
	}
	lose := &LoseAnswers{Match: match, Times: times}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = lose
	rp.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, err error) {
		if errors.Is(err, ErrLost) {
			if conn, _, herr := http.NewResponseController(w).Hijack(); herr == nil {
				_ = conn.Close()
				return
			}
		}
		http.Error(w, err.Error(), http.StatusBadGateway)
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return &Proxy{URL: srv.URL, Lose: lose}
}
