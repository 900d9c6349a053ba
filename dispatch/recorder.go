package dispatch

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync/atomic"
	"time"

	herald "github.com/heraldhq/herald"
)

// outcomeStore is the part of herald.Store the recorder writes to.
type outcomeStore interface {
	RecordOutcomes(ctx context.Context, updates []herald.RecipientUpdate) error
}

// recorder writes send results in batches: one transaction per flush, not
// per message. A failed flush is retried until it succeeds, or, once the
// dispatcher is stopping, for at most closeGrace: unwritten rows stay
// SENDING with their key, and recovery settles them under the same key.
type recorder struct {
	store    outcomeStore
	in       chan herald.RecipientUpdate
	size     int
	interval time.Duration
	log      *slog.Logger
	done     chan struct{}
	onFlush  func(n int)
	closedAt atomic.Pointer[time.Time]
}

// closeGrace bounds how long a stopping recorder retries a failing flush.
const closeGrace = 30 * time.Second

func newRecorder(store outcomeStore, size int, interval time.Duration, log *slog.Logger) *recorder {
	return &recorder{
		store: store, in: make(chan herald.RecipientUpdate, size*4), size: size, interval: interval,
		log: log, done: make(chan struct{}),
	}
}

// add queues a result; it blocks when the queue is full (backpressure).
func (r *recorder) add(u herald.RecipientUpdate) { r.in <- u }

// run flushes until in is closed, then flushes what is left.
func (r *recorder) run() {
	defer close(r.done)
	batch := make([]herald.RecipientUpdate, 0, r.size)
	timer := time.NewTimer(r.interval)
	defer timer.Stop()
	for {
		select {
		case u, ok := <-r.in:
			if !ok {
				r.flush(batch)
				return
			}
			batch = append(batch, u)
			if len(batch) < r.size {
				continue
			}
		case <-timer.C:
		}
		batch = r.flush(batch)
		timer.Reset(r.interval)
	}
}

func (r *recorder) flush(batch []herald.RecipientUpdate) []herald.RecipientUpdate {
	if len(batch) == 0 {
		return batch
	}
	for attempt := 1; ; attempt++ {
		err := r.write(batch)
		if err == nil {
			if r.onFlush != nil {
				r.onFlush(len(batch))
			}
			return batch[:0]
		}
		r.log.Error("record outcomes", "component", "recorder", "batch", len(batch), "attempt", attempt, "err", err)
		if at := r.closedAt.Load(); at != nil && time.Since(*at) > closeGrace {
			r.log.Error("giving up on results while stopping; recovery settles those rows", "component", "recorder", "batch", len(batch))
			return batch[:0]
		}
		time.Sleep(min(time.Duration(attempt)*100*time.Millisecond, 5*time.Second))
	}
}

// write records one batch; a panic in the store is an error like another.
func (r *recorder) write(batch []herald.RecipientUpdate) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic while recording outcomes: %v\n%s", p, debug.Stack())
		}
	}()
	// Not the dispatcher's context: results must be written even while
	// shutting down.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return r.store.RecordOutcomes(ctx, batch)
}

// close stops intake and waits for the last flush.
func (r *recorder) close() {
	now := time.Now()
	r.closedAt.Store(&now)
	close(r.in)
	<-r.done
}
