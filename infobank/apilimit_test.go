package infobank

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// A slot is free again only a second after its call was answered, so no
// more than MaxAPIRequests calls are ever between leaving and a second
// after their answer.
func TestAPILimiterSlots(t *testing.T) {
	t.Parallel()
	var clock atomic.Int64
	clock.Store(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC).UnixNano())
	l := NewAPILimiter(MaxAPIRequests)
	l.rate = rate.NewLimiter(rate.Inf, 1) // the slots alone
	l.now = func() time.Time { return time.Unix(0, clock.Load()) }
	short := func() context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		t.Cleanup(cancel)
		return ctx
	}
	var releases []func()
	for i := range MaxAPIRequests {
		r, err := l.Acquire(short())
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		releases = append(releases, r)
	}
	if _, err := l.Acquire(short()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a sixth call while five are out: %v, want to wait", err)
	}
	releases[0]()
	if _, err := l.Acquire(short()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a call right after an answer: %v, want to wait a second", err)
	}
	clock.Add(int64(time.Second))
	r, err := l.Acquire(short())
	if err != nil {
		t.Fatalf("a second after the answer: %v", err)
	}
	r()
	// A waiter is woken by a release, not only by its timer.
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r, err := l.Acquire(ctx)
		if err == nil {
			r()
		}
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	clock.Add(int64(time.Second)) // the slot released above is due now; a release wakes the waiter
	releases[1]()
	if err := <-done; err != nil {
		t.Fatalf("waiter: %v", err)
	}
}
