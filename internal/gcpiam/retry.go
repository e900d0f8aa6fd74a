package gcpiam

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/clock"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/retry"
)

// Retry bounds how often a read-modify-write is tried again after a
// conflict or a transient error.
type Retry struct {
	// Attempts is the total number of tries, the first included. Default 8.
	Attempts int
	// Base is the first back-off; each later one doubles, up to Max, and is
	// jittered. Defaults 250ms and 8s.
	Base time.Duration
	Max  time.Duration
	// Sleep waits; tests replace it. Default: a timer that honours ctx.
	Sleep func(ctx context.Context, d time.Duration) error
}

func (r Retry) withDefaults() Retry {
	if r.Attempts <= 0 {
		r.Attempts = 8
	}
	if r.Base <= 0 {
		r.Base = 250 * time.Millisecond
	}
	if r.Max <= 0 {
		r.Max = 8 * time.Second
	}
	if r.Sleep == nil {
		r.Sleep = clock.Sleep
	}
	return r
}

// retryable reports whether a whole read-modify-write should be tried again
// after err: a concurrent policy change (409 ABORTED, 412). Throttling,
// server errors and lost connections are retried request by request, by
// the transport (internal/retry), within the loop's budget.
func retryable(err error) bool {
	switch StatusCode(err) {
	case http.StatusConflict, http.StatusPreconditionFailed:
		return true
	}
	return false
}

// requestsPerAttempt is how many HTTP attempts one read-modify-write
// attempt may use on average (a read and a write, each retried once): the
// budget of the whole loop is Attempts times this, so retries of single
// requests inside the loop's own retries do not multiply.
const requestsPerAttempt = 4

// do runs op until it succeeds, fails for good, or the attempts run out.
// op's requests share one budget of HTTP attempts (see requestsPerAttempt).
func (r Retry) do(ctx context.Context, op func(ctx context.Context) error) error {
	budget := &retry.Budget{Limit: r.Attempts * requestsPerAttempt}
	ctx = retry.WithBudget(ctx, budget)
	start := time.Now()
	backoff := r.Base
	for attempt := 1; ; attempt++ {
		err := op(ctx)
		if err == nil || !retryable(err) {
			return err
		}
		if attempt >= r.Attempts || budget.Spent() {
			return fmt.Errorf("gave up after %d read-modify-write attempts (%d requests) over %s: %w",
				attempt, budget.Used(), time.Since(start).Round(time.Millisecond), err)
		}
		// Half fixed, half random, so that writers that collided spread out.
		wait := backoff/2 + rand.N(backoff/2+1)
		if err := r.Sleep(ctx, wait); err != nil {
			return fmt.Errorf("interrupted while retrying: %w", err)
		}
		backoff = min(2*backoff, r.Max)
	}
}
