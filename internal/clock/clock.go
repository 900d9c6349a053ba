// Package clock waits on the wall clock in a way a context can cut short:
// every background loop in herald sleeps through it, so that Stop and
// cancellation end a wait at once.
package clock

import (
	"context"
	"time"
)

// Sleep waits d, or until ctx ends; it reports whether the whole d passed.
// A d of zero or less does not wait and reports whether ctx is still live.
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
