// Package retrytest injects the faults the retry policy is for, for tests:
// a request that reaches the server and acts, whose answer never comes back.
package retrytest

import (
	"bytes"
	"io"
	"net/http"
	"sync"
	"syscall"
)

// ErrLost is the error a lost answer returns: the connection was reset
// after the request was sent, as a proxy or a load balancer dropping it
// would do.
var ErrLost = &lostError{}

type lostError struct{}

func (*lostError) Error() string {
	return "read: connection reset by peer (answer dropped by the test)"
}
func (*lostError) Unwrap() error { return syscall.ECONNRESET }

// LoseAnswers forwards every request to Base; the answers of the first
// Times requests that Match selects are read and thrown away, and the
// caller gets ErrLost instead.
type LoseAnswers struct {
	Base  http.RoundTripper // nil: http.DefaultTransport
	Match func(*http.Request) bool
	Times int

	mu   sync.Mutex
	lost int
	seen int
}

// Lost is how many answers were thrown away; Seen how many requests matched.
func (l *LoseAnswers) Lost() int { l.mu.Lock(); defer l.mu.Unlock(); return l.lost }
func (l *LoseAnswers) Seen() int { l.mu.Lock(); defer l.mu.Unlock(); return l.seen }

func (l *LoseAnswers) RoundTrip(req *http.Request) (*http.Response, error) {
	base := l.Base
	if base == nil {
		base = http.DefaultTransport
	}
	// Match may read the body (the AWS query API names its action there),
	// so it sees a copy.
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		_ = req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	probe := req.Clone(req.Context())
	probe.Body = io.NopCloser(bytes.NewReader(body))
	matched := l.Match != nil && l.Match(probe)
	resp, err := base.RoundTrip(req)
	if err != nil || !matched {
		return resp, err
	}
	l.mu.Lock()
	l.seen++
	drop := l.lost < l.Times
	if drop {
		l.lost++
	}
	l.mu.Unlock()
	if !drop {
		return resp, nil
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return nil, ErrLost
}
