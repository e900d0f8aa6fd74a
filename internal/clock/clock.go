// Package clock holds the one way the provider's packages wait: Sleep, a
// timer that gives up when its context ends. Retry loops take it as their
// default and let tests replace it.
package clock

import (
	"context"
	"time"
)

// Sleep waits for d, or until ctx ends, in which case it returns ctx's
// error. A d of zero or less returns at once, with ctx's error if it has
// ended.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
