package airflow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// maxBodyBytes bounds how much of a response body is read.
const maxBodyBytes = 16 << 20

// response is a fully read HTTP response.
type response struct {
	status int
	header http.Header
	body   []byte
}

// send performs one logical request, retrying on 429, 502, 503 and 504 and
// on connection resets, unexpected EOFs and refused connections, at most
// c.maxRetries times. When retries run out on a retryable status, the last
// response is returned (not an error), so that the caller can report it.
// body is nil for requests without a body; it is re-sent on every attempt.
func (c *Client) send(ctx context.Context, method, rawURL string, body []byte, authorization string) (*response, error) {
	attempts := c.maxRetries + 1
	for attempt := 1; ; attempt++ {
		start := time.Now()
		resp, err := c.sendOnce(ctx, method, rawURL, body, authorization)
		fields := map[string]any{
			"method":      method,
			"url":         rawURL,
			"attempt":     attempt,
			"duration_ms": time.Since(start).Milliseconds(),
		}

		var wait time.Duration
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return nil, fmt.Errorf("%s %s: %w", method, rawURL, ctxErr)
			}
			fields["error"] = err.Error()
			if attempt >= attempts || !retryableError(err) {
				c.log(ctx, "Airflow HTTP request failed", fields)
				if attempt > 1 {
					return nil, fmt.Errorf("%s %s: %w (gave up after %d attempts)", method, rawURL, err, attempt)
				}
				return nil, fmt.Errorf("%s %s: %w", method, rawURL, err)
			}
			wait = c.backoff(attempt, nil)
		} else {
			fields["status"] = resp.status
			if attempt >= attempts || !retryableStatus(resp.status) {
				c.log(ctx, "Airflow HTTP request", fields)
				return resp, nil
			}
			wait = c.backoff(attempt, resp.header)
		}

		fields["retry_in_ms"] = wait.Milliseconds()
		c.log(ctx, "retrying Airflow HTTP request", fields)
		if err := c.sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("%s %s: waiting to retry: %w", method, rawURL, err)
		}
	}
}

// sendOnce performs a single HTTP round trip and reads the whole body.
func (c *Client) sendOnce(ctx context.Context, method, rawURL string, body []byte, authorization string) (*response, error) {
	var reader io.Reader
	if body != nil {
		reader = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, reader)
	if err != nil {
		return nil, fmt.Errorf("building request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if body != nil {
		// Airflow 2 answers 400 to a body-less request that claims JSON.
		req.Header.Set("Content-Type", "application/json")
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
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
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// retryableError reports whether a transport error is a connection reset,
// an unexpected EOF or a refused connection. Timeouts are not retried.
func retryableError(err error) bool {
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

// backoff returns how long to wait after the given (1-based) failed attempt:
// Retry-After when the server sent one (capped at retryWaitMax), otherwise
// an exponential delay doubling from retryWaitMin with up to 50% random
// jitter added, never above retryWaitMax.
func (c *Client) backoff(attempt int, header http.Header) time.Duration {
	if d, ok := retryAfter(header); ok {
		return min(d, c.retryWaitMax)
	}
	wait := c.retryWaitMin
	for i := 1; i < attempt && wait < c.retryWaitMax && wait <= math.MaxInt64/4; i++ {
		wait *= 2
	}
	wait += rand.N(wait/2 + 1)
	return min(wait, c.retryWaitMax)
}

// retryAfter parses a Retry-After header given in seconds or as an HTTP
// date.
func retryAfter(header http.Header) (time.Duration, bool) {
	v := strings.TrimSpace(header.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(24*time.Hour/time.Second) {
			secs = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}
