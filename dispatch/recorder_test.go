package dispatch

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
)

// flakyOutcomes is an outcomeStore that fails its first writes.
type flakyOutcomes struct {
	mu      sync.Mutex
	failing int
	calls   int
	written []herald.RecipientUpdate
}

func (f *flakyOutcomes) RecordOutcomes(_ context.Context, us []herald.RecipientUpdate) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.failing > 0 {
		f.failing--
		return errors.New("database unavailable (test)")
	}
	f.written = append(f.written, us...)
	return nil
}

// TestRecorderRetriesAFailedFlush: a batch whose write fails is written
// again, whole, until it succeeds; closing waits for it.
func TestRecorderRetriesAFailedFlush(t *testing.T) {
	t.Parallel()
	s := &flakyOutcomes{failing: 2}
	r := newRecorder(s, 3, time.Hour, slog.New(slog.DiscardHandler))
	flushed := 0
	r.onFlush = func(n int) { flushed += n }
	go r.run()
	for id := range int64(3) {
		r.add(herald.RecipientUpdate{ID: id + 1})
	}
	r.close()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.calls != 3 || len(s.written) != 3 || flushed != 3 {
		t.Fatalf("%d writes, %d updates written, %d flushed; want 3 writes (2 failed), 3 updates", s.calls, len(s.written), flushed)
	}
	for i, u := range s.written {
		if u.ID != int64(i+1) {
			t.Fatalf("written %+v, want updates 1, 2, 3 in order", s.written)
		}
	}
}
