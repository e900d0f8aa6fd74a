package airflow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/retry"
)

// maxBodyBytes bounds how much of a response body is read.
const maxBodyBytes = 16 << 20

// response is a fully read HTTP response, with what it took to get it.
type response struct {
	status int
	header http.Header
	body   []byte

	// attempts is how many times the request was sent, over elapsed.
	attempts int
	elapsed  time.Duration
	// gaveUp: the status is retryable but the attempts ran out.
	gaveUp bool
	// uncertain: an attempt before the last may have reached Airflow, so
	// the last answer may be to a repeat of a request that already acted
	// (a 409 to a create, a 404 to a delete).
	uncertain bool
	// retryAfter is set when the retries stopped because Airflow asked
	// (Retry-After) for a longer wait than the budget left.
	retryAfter time.Duration
}

// outgoing is one logical request.
type outgoing struct {
	method, url   string
	body          []byte // nil: no body; re-sent on every attempt
	authorization string
	// retry: the request may be sent again after a failure, because it is
	// idempotent or because its caller resolves a repeat (see the
	// uncertain result of Client.do).
	retry bool
}

// idempotentMethod reports whether sending a request twice has the effect
// of sending it once (RFC 9110, section 9.2.2).
func idempotentMethod(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return true
	}
	return false
}

// RetryError is a request that failed without an answer (reset, refused,
// truncated body, timeout) on every one of its attempts.
type RetryError struct {
	Method, URL string
	// Attempts is how many times the request was sent, over Elapsed.
	Attempts int
	Elapsed  time.Duration
	// Err is the failure of the last attempt.
	Err error

	// uncertain: an attempt before the last may have reached Airflow.
	uncertain bool
}

func (e *RetryError) Error() string {
	if e.Attempts <= 1 {
		return fmt.Sprintf("%s %s: %v", e.Method, e.URL, e.Err)
	}
	return fmt.Sprintf("%s %s: gave up after %d attempts over %s; last error: %v",
		e.Method, e.URL, e.Attempts, roundElapsed(e.Elapsed), e.Err)
}

func (e *RetryError) Unwrap() error { return e.Err }

// roundElapsed rounds a duration for messages: 12.4s, 850ms.
func roundElapsed(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}

// errAttemptTimeout marks an attempt that got no complete answer within the
// per-request timeout.
var errAttemptTimeout = errors.New("no complete answer within the per-request timeout")

// send performs one logical request. A request with retry set is sent
// again, at most c.maxRetries times, after 429, 500, 502, 503 and 504 and
// after connection resets, refused connections, unexpected EOFs (a body
// shorter than its Content-Length) and attempts that time out, waiting as
// backoff says; a Retry-After longer than what is left of waitBudget ends
// the retries at once (retrying sooner than asked would only be refused
// again, and waiting longer would not be bounded). When the
// attempts run out on a retryable status, the last response is returned
// (not an error, with gaveUp set) so that the caller can report it; when
// they run out on a transport failure, the error is a *RetryError.
func (c *Client) send(ctx context.Context, req outgoing) (*response, error) {
	t := &tries{c: c, req: req, max: 1, begin: time.Now()}
	if req.retry {
		t.max += c.maxRetries
	}
	for attempt := 1; ; attempt++ {
		start := time.Now()
		resp, err := c.sendOnce(ctx, req)
		fields := map[string]any{
			"method":      req.method,
			"url":         req.url,
			"attempt":     attempt,
			"duration_ms": time.Since(start).Milliseconds(),
		}

		var wait time.Duration
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return nil, fmt.Errorf("%s %s: %w", req.method, req.url, ctxErr)
			}
			fields["error"] = err.Error()
			if wait, err = t.afterError(attempt, err); err != nil {
				c.log(ctx, "Airflow HTTP request failed", fields)
				return nil, err
			}
		} else {
			fields["status"] = resp.status
			var final bool
			if wait, final = t.afterAnswer(attempt, resp); final {
				c.log(ctx, "Airflow HTTP request", fields)
				return resp, nil
			}
		}

		fields["retry_in_ms"] = wait.Milliseconds()
		c.log(ctx, "retrying Airflow HTTP request", fields)
		if err := c.sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("%s %s: waiting to retry: %w", req.method, req.url, err)
		}
	}
}

// tries is the state of one request's attempts in send.
type tries struct {
	c         *Client
	req       outgoing
	max       int // attempts allowed
	begin     time.Time
	waited    time.Duration // the waits so far
	uncertain bool          // an attempt so far may have reached Airflow
}

// afterError decides what follows a failed attempt: a wait before the
// next, or the final error.
func (t *tries) afterError(attempt int, err error) (time.Duration, error) {
	if attempt >= t.max || !retryableError(err) {
		return 0, &RetryError{Method: t.req.method, URL: t.req.url, Attempts: attempt,
			Elapsed: time.Since(t.begin), Err: err, uncertain: t.uncertain}
	}
	t.uncertain = t.uncertain || !neverSent(err)
	wait, _ := t.c.backoff(attempt, nil)
	t.waited += wait
	return wait, nil
}

// afterAnswer decides what follows an answer: a wait before the next
// attempt, or (final) that resp is the answer.
func (t *tries) afterAnswer(attempt int, resp *response) (wait time.Duration, final bool) {
	resp.attempts, resp.elapsed, resp.uncertain = attempt, time.Since(t.begin), t.uncertain
	if !retryableStatus(resp.status) {
		return 0, true
	}
	if attempt >= t.max {
		resp.gaveUp = attempt > 1
		return 0, true
	}
	wait, asked := t.c.backoff(attempt, resp.header)
	if asked && t.waited+wait > t.c.waitBudget() {
		// Honour Retry-After, or stop: never retry sooner than asked.
		resp.retryAfter, resp.gaveUp = wait, true
		return 0, true
	}
	// Any status, even 429 or 503 from a proxy, may come after the
	// request was forwarded.
	t.uncertain = true
	t.waited += wait
	return wait, false
}

// sendOnce performs a single HTTP round trip and reads the whole body,
// within the per-request timeout.
func (c *Client) sendOnce(ctx context.Context, out outgoing) (*response, error) {
	attemptCtx, cancel := ctx, context.CancelFunc(func() {})
	if c.requestTimeout > 0 {
		attemptCtx, cancel = context.WithTimeout(ctx, c.requestTimeout)
	}
	defer cancel()

	resp, err := c.roundTrip(attemptCtx, out)
	if err != nil && ctx.Err() == nil && attemptCtx.Err() != nil {
		err = fmt.Errorf("%w (%s)", errAttemptTimeout, c.requestTimeout)
	}
	return resp, err
}

func (c *Client) roundTrip(ctx context.Context, out outgoing) (*response, error) {
	var reader io.Reader
	if out.body != nil {
		reader = bytes.NewReader(out.body)
	}
	req, err := http.NewRequestWithContext(ctx, out.method, out.url, reader)
	if err != nil {
		return nil, fmt.Errorf("building request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if out.body != nil {
		// Airflow 2 answers 400 to a body-less request that claims JSON.
		req.Header.Set("Content-Type", "application/json")
	}
	if out.authorization != "" {
		req.Header.Set("Authorization", out.authorization)
	}

	resp, err := c.httpClient.Do(req)
	if err != nil {
		// *url.Error repeats method and URL, which the caller adds.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes))
	if err != nil {
		return nil, fmt.Errorf("reading response (status %d): %w", resp.StatusCode, err)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

func retryableStatus(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// retryableError reports whether a transport error is a connection reset,
// an unexpected EOF, a refused connection or a timeout.
func retryableError(err error) bool {
	if errors.Is(err, errAttemptTimeout) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return true
	}
	for _, target := range []error{io.EOF, io.ErrUnexpectedEOF, syscall.ECONNRESET, syscall.ECONNREFUSED, syscall.EPIPE} {
		if errors.Is(err, target) {
			return true
		}
	}
	// Some platforms (Windows) report these only in the message.
	msg := strings.ToLower(err.Error())
	for _, s := range []string{"connection reset", "connection refused", "unexpected eof", "broken pipe", "forcibly closed", "actively refused"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// neverSent reports whether a transport error happened before the request
// could reach the server: the connection was never made.
func neverSent(err error) bool {
	var opErr *net.OpError
	return errors.As(err, &opErr) && opErr.Op == "dial"
}

// waitBudget bounds the waits of one request in all: maxRetries times
// retryWaitMax (16s by default). The exponential waits always fit in it; a
// Retry-After that does not ends the retries.
func (c *Client) waitBudget() time.Duration {
	return time.Duration(c.maxRetries) * c.retryWaitMax
}

// backoff returns how long to wait after the given (1-based) failed attempt:
// Retry-After when the server sent one (asked), otherwise an exponential
// delay doubling from retryWaitMin with up to 50% random jitter added,
// never above retryWaitMax.
func (c *Client) backoff(attempt int, header http.Header) (wait time.Duration, asked bool) {
	if d, ok := retry.After(header, time.Now()); ok {
		return d, true
	}
	wait = c.retryWaitMin
	for i := 1; i < attempt && wait < c.retryWaitMax && wait <= math.MaxInt64/4; i++ {
		wait *= 2
	}
	wait += rand.N(wait/2 + 1)
	return min(wait, c.retryWaitMax), false
}
