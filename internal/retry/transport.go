package retry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/clock"
)

// Defaults of a Policy.
const (
	DefaultAttempts       = 5
	DefaultBase           = 500 * time.Millisecond
	DefaultMax            = 10 * time.Second
	DefaultRequestTimeout = 60 * time.Second
	// DefaultMaxRetryAfter is the longest Retry-After honoured; a server
	// that asks for longer is given up on at once.
	DefaultMaxRetryAfter = 30 * time.Second
)

// Policy says how often and how patiently a request is tried.
type Policy struct {
	// Attempts is the total number of tries, the first included.
	Attempts int
	// Base is the first back-off; each later one doubles up to Max, and is
	// jittered into [d/2, d].
	Base, Max time.Duration
	// RequestTimeout bounds each attempt, the answer's body included.
	RequestTimeout time.Duration
	// MaxRetryAfter is the longest Retry-After that is waited for.
	MaxRetryAfter time.Duration
	// Idempotent says whether a request may be sent again. Default: GET,
	// HEAD, OPTIONS and DELETE.
	Idempotent func(*http.Request) bool
	// Sleep waits; tests replace it. Default clock.Sleep.
	Sleep func(ctx context.Context, d time.Duration) error
}

// WithDefaults fills the zero fields.
func (p Policy) WithDefaults() Policy {
	if p.Attempts <= 0 {
		p.Attempts = DefaultAttempts
	}
	if p.Base <= 0 {
		p.Base = DefaultBase
	}
	if p.Max <= 0 {
		p.Max = DefaultMax
	}
	if p.RequestTimeout <= 0 {
		p.RequestTimeout = DefaultRequestTimeout
	}
	if p.MaxRetryAfter <= 0 {
		p.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if p.Idempotent == nil {
		p.Idempotent = SafeMethod
	}
	if p.Sleep == nil {
		p.Sleep = clock.Sleep
	}
	return p
}

// SafeMethod reports whether the request's method is idempotent by HTTP's
// definition (RFC 9110 section 9.2.2): GET, HEAD, OPTIONS, PUT, DELETE.
func SafeMethod(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// Transport retries requests over Base by Policy.
type Transport struct {
	Base   http.RoundTripper // nil: http.DefaultTransport
	Policy Policy            // zero fields take defaults
}

// NewTransport wraps base with p's defaults filled.
func NewTransport(base http.RoundTripper, p Policy) *Transport {
	if base == nil {
		base = http.DefaultTransport
	}
	return &Transport{Base: base, Policy: p.WithDefaults()}
}

// Error is the outcome of a request given up on after more than one
// attempt: how many, over how long, and the last answer (Code and Body) or
// the last transport error (Err).
type Error struct {
	Method, URL string
	Attempts    int
	Elapsed     time.Duration
	Code        int    // the last answer's status, 0 when there was none
	Body        string // the last answer's body, when there was one
	Err         error  // the last transport error, when there was no answer
	// Why says what stopped the retries when it was not the bound.
	Why string
}

func (e *Error) Error() string {
	var b strings.Builder
	noun := "attempts"
	if e.Attempts == 1 {
		noun = "attempt"
	}
	fmt.Fprintf(&b, "gave up after %d %s over %s", e.Attempts, noun, e.Elapsed.Round(time.Millisecond))
	if e.Why != "" {
		b.WriteString(" (" + e.Why + ")")
	}
	b.WriteString("; last answer: ")
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	} else {
		fmt.Fprintf(&b, "HTTP %d %s", e.Code, http.StatusText(e.Code))
		if body := strings.TrimSpace(e.Body); body != "" {
			b.WriteString(": " + oneLine(body, 600))
		}
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// HTTPStatusCode is the last answer's status, or 0.
func (e *Error) HTTPStatusCode() int { return e.Code }

func oneLine(s string, limit int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > limit {
		s = s[:limit] + "..."
	}
	return s
}

type ctxKey int

const (
	allowKey ctxKey = iota
	recordKey
	budgetKey
)

// AllowRetry marks the requests made with ctx as safe to send again: the
// caller resolves a repeat itself (see Record).
func AllowRetry(ctx context.Context) context.Context {
	return context.WithValue(ctx, allowKey, true)
}

// Record counts the attempts of the requests made with its context.
type Record struct{ n atomic.Int32 }

// Attempts is the number of attempts made so far.
func (r *Record) Attempts() int { return int(r.n.Load()) }

// Track returns a context whose requests are counted in the Record.
func Track(ctx context.Context) (context.Context, *Record) {
	r := &Record{}
	return context.WithValue(ctx, recordKey, r), r
}

// Budget bounds the retries of every request made with its context, taken
// together: once Limit attempts have been made, a failed request is not
// tried again.
type Budget struct {
	Limit int
	used  atomic.Int32
}

// Used is the number of attempts made with the budget.
func (b *Budget) Used() int { return int(b.used.Load()) }

// Spent reports whether no retry is left.
func (b *Budget) Spent() bool { return b.Used() >= b.Limit }

// WithBudget returns a context whose requests share b.
func WithBudget(ctx context.Context, b *Budget) context.Context {
	return context.WithValue(ctx, budgetKey, b)
}

// RoundTrip sends req, and again while the answer is transient, the request
// may be repeated and the attempts last.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	p := t.Policy
	if p.Idempotent == nil {
		p = p.WithDefaults()
	}
	ctx := req.Context()
	body, err := readBody(req)
	if err != nil {
		return nil, err
	}
	repeatable := p.Idempotent(req) || ctx.Value(allowKey) != nil
	record, _ := ctx.Value(recordKey).(*Record)
	budget, _ := ctx.Value(budgetKey).(*Budget)

	start := time.Now()
	backoff := p.Base
	for attempt := 1; ; attempt++ {
		if record != nil {
			record.n.Add(1)
		}
		if budget != nil {
			budget.used.Add(1)
		}
		resp, err := t.attempt(req, body, p.RequestTimeout)
		transient, wait := classify(ctx, resp, err)
		// A refused connection never reached the server: safe for any request.
		if !transient || (!repeatable && !refused(err)) {
			return resp, err
		}
		stop, why := p.stop(attempt, budget, wait)
		if !stop {
			serr := p.Sleep(ctx, max(jitter(backoff), wait))
			if serr == nil {
				backoff = min(2*backoff, p.Max)
				continue
			}
			why = "interrupted: " + serr.Error()
		}
		if attempt == 1 && why == "" {
			return resp, err // one attempt: the answer as it is
		}
		return nil, giveUp(req, attempt, time.Since(start), resp, err, why)
	}
}

// stop says whether to give up after a transient failure of the attempt-th
// try, and why, when it is not the bound on attempts.
func (p Policy) stop(attempt int, budget *Budget, wait time.Duration) (bool, string) {
	switch {
	case attempt >= p.Attempts:
		return true, ""
	case budget != nil && budget.Spent():
		return true, "the operation's retry budget is spent"
	case wait > p.MaxRetryAfter:
		return true, fmt.Sprintf("the server asked to wait %s", wait)
	}
	return false, ""
}

func giveUp(req *http.Request, attempts int, elapsed time.Duration, resp *http.Response, err error, why string) *Error {
	e := &Error{Method: req.Method, URL: redact(req), Attempts: attempts, Elapsed: elapsed, Err: err, Why: why}
	if resp != nil {
		e.Code = resp.StatusCode
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		e.Body = string(b)
	}
	return e
}

// redact is the URL without its query, which may carry keys.
func redact(req *http.Request) string {
	u := *req.URL
	u.RawQuery = ""
	return u.String()
}

// attempt sends one copy of req and reads the whole answer within timeout.
func (t *Transport) attempt(req *http.Request, body []byte, timeout time.Duration) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(req.Context(), timeout)
	defer cancel()
	r := req.Clone(ctx)
	if body != nil {
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		r.ContentLength = int64(len(body))
	}
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(r)
	if err != nil {
		return nil, attemptError(ctx, timeout, err)
	}
	data, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, attemptError(ctx, timeout, fmt.Errorf("reading the answer (HTTP %d): %w", resp.StatusCode, err))
	}
	resp.Body = io.NopCloser(bytes.NewReader(data))
	resp.ContentLength = int64(len(data))
	return resp, nil
}

// ErrAttemptTimeout is the error of an attempt that ran out of time.
var ErrAttemptTimeout = errors.New("no answer within the request timeout")

func attemptError(ctx context.Context, timeout time.Duration, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w of %s: %w", ErrAttemptTimeout, timeout, err)
	}
	return err
}

func readBody(req *http.Request) ([]byte, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	b, err := io.ReadAll(req.Body)
	_ = req.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("reading the request body: %w", err)
	}
	return b, nil
}

// classify reports whether an attempt's outcome is worth another attempt,
// and how long the server asked to wait.
func classify(ctx context.Context, resp *http.Response, err error) (bool, time.Duration) {
	if ctx.Err() != nil {
		return false, 0 // the caller gave up
	}
	if err != nil {
		return true, 0 // reset, refused, EOF, truncated, attempt timeout
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout, http.StatusRequestTimeout:
		wait, _ := After(resp.Header, time.Now())
		return true, wait
	}
	return false, 0
}

// maxRetryAfter bounds what a Retry-After may ask for.
const maxRetryAfter = 24 * time.Hour

// After reads the Retry-After header of an answer, in seconds or as an HTTP
// date (RFC 9110, section 10.2.3, https://www.rfc-editor.org/rfc/rfc9110#field.retry-after),
// relative to now; ok is false when there is none or it cannot be read. A
// date in the past asks for no wait; the wait is capped at a day. Every
// client of the provider (Google's transport here, the Airflow client)
// reads the header through this one function.
func After(h http.Header, now time.Time) (wait time.Duration, ok bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 {
			return 0, false
		}
		return time.Duration(min(s, int64(maxRetryAfter/time.Second))) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), maxRetryAfter), true
	}
	return 0, false
}

// refused reports whether err is a connection that was never made.
func refused(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// jitter is half of d fixed and half random, so that clients that failed
// together spread out.
func jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d/2+1)
}
