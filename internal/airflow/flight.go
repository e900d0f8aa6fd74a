package airflow

import (
	"context"
	"sync"
)

// shared is a value that one caller obtains for every caller of a Client:
// the API version and the Airflow 3 access token. The first caller computes
// it while the others wait (single flight). A success is kept until forget
// drops it; a failure is kept for the life of the Client, so every waiting
// and later caller gets the same error at once instead of repeating a probe
// or a login that has already used up its retries.
//
// Why for the whole life: a Client lives for one provider process, that is
// one terraform plan or apply. A login refused for its credentials does not
// heal within it, and a server that failed every retry of the probe has
// already been given the full retry budget; repeating that budget for each
// of N resources is what made a run take minutes to fail. A new run (a new
// process) tries again. A failure caused by the caller's own context ending
// (cancelled, or its deadline reached) says nothing about the server and is
// not kept: the next caller computes afresh.
type shared[T comparable] struct {
	mu      sync.Mutex
	has     bool
	val     T
	err     error
	running chan struct{} // non-nil while a caller computes
}

// get returns the kept value or error, or computes it with compute.
func (s *shared[T]) get(ctx context.Context, compute func(context.Context) (T, error)) (T, error) {
	var zero T
	for {
		s.mu.Lock()
		if s.has || s.err != nil {
			v, err := s.val, s.err
			s.mu.Unlock()
			return v, err
		}
		if wait := s.running; wait != nil {
			s.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return zero, ctx.Err()
			}
		}
		done := make(chan struct{})
		s.running = done
		s.mu.Unlock()

		v, err := compute(ctx)

		s.mu.Lock()
		switch {
		case err == nil:
			s.val, s.has = v, true
		case ctx.Err() == nil:
			s.err = err
		}
		s.running = nil
		close(done)
		s.mu.Unlock()
		if err != nil {
			return zero, err
		}
		return v, nil
	}
}

// forget drops the kept value if it is still v (a token Airflow refused),
// so that the next get computes a new one; a value another caller already
// replaced is kept.
func (s *shared[T]) forget(v T) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.has && s.val == v {
		var zero T
		s.val, s.has = zero, false
	}
}
