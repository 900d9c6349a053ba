package dispatch

import (
	"context"
	"sync"
	"time"
)

// lease is this process's hold on the rows it claimed. Every row claimed
// by the owner stays its own while the owner's heartbeat is younger than
// ttl; the heartbeat renews all of them at once, however long they wait in
// the pacer. A send may only run while the lease does (see until).
type lease struct {
	ttl   time.Duration
	mu    sync.Mutex
	beat  time.Time     // last heartbeat written (cfg.Now, as stored)
	wall  time.Time     // the wall clock at that heartbeat, read just before
	ready chan struct{} // closed at the first heartbeat
	once  sync.Once
}

func newLease(ttl time.Duration) *lease {
	return &lease{ttl: ttl, ready: make(chan struct{})}
}

// renewed records a heartbeat written at t, wall being the wall clock read
// just before t. Both are cut to the millisecond, as the stores keep them
// at most: the lease never ends after what other processes read.
func (l *lease) renewed(t, wall time.Time) {
	l.mu.Lock()
	l.beat, l.wall = t.Truncate(time.Millisecond), wall.Truncate(time.Millisecond)
	l.mu.Unlock()
	l.once.Do(func() { close(l.ready) })
}

// wait blocks until the first heartbeat is written.
func (l *lease) wait(ctx context.Context) bool {
	select {
	case <-l.ready:
		return true
	case <-ctx.Done():
		return false
	}
}

// lastBeat is when the last heartbeat was written (zero before the first).
func (l *lease) lastBeat() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.beat
}

// until is when the lease ends unless renewed: other processes may take
// the rows over from then on.
func (l *lease) until() time.Time {
	beat := l.lastBeat()
	if beat.IsZero() {
		return time.Time{}
	}
	return beat.Add(l.ttl)
}

// sendDeadline is when a send's context ends: the lease's end on the wall
// clock (a context's deadline is wall time, whatever cfg.Now says).
func (l *lease) sendDeadline() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.wall.Add(l.ttl)
}

// left is how much of the lease remains at now.
func (l *lease) left(now time.Time) time.Duration {
	until := l.until()
	if until.IsZero() {
		return 0
	}
	return until.Sub(now)
}

// check says whether a send may start at now, and whether the lease has
// run out. A send starts only while at least half of the lease remains
// (heartbeats come every fifth, so that is three missed beats), and its
// context ends with the lease.
func (l *lease) check(now time.Time) (sendable, out bool) {
	left := l.left(now)
	return left >= l.ttl/2, left <= 0
}

// awaitLease waits while the heartbeat lags (less than half of the lease
// left, so no send may start) and says whether the lease is back. It gives
// up when the lease runs out: other processes may then take the rows over.
// Waiting, rather than giving the rows back at once, keeps a busy database
// (a commit slower than half a lease) from turning every claim into a
// release, which would only make it busier.
func (d *Dispatcher) awaitLease(ctx context.Context) bool {
	for {
		sendable, out := d.lease.check(d.cfg.Now())
		switch {
		case sendable:
			return true
		case out:
			sleep(ctx, d.cfg.PollInterval) // not spinning while the heartbeat fails
			return false
		}
		if !sleep(ctx, min(d.cfg.PollInterval, d.cfg.LeaseTTL/20)) {
			return false
		}
	}
}

// heartbeatLoop renews the lease every ttl/5, so that three missed beats
// still leave two beats of margin.
func (d *Dispatcher) heartbeatLoop(ctx context.Context) {
	defer d.loops.Done()
	interval := d.cfg.LeaseTTL / 5
	var failing bool
	for {
		wall := time.Now()
		now := d.cfg.Now()
		err := d.store.Heartbeat(ctx, d.cfg.Owner, now)
		switch {
		case err == nil:
			d.lease.renewed(now, wall)
			d.retryReleases()
			if failing {
				d.log.Info("heartbeat written again")
			}
			failing = false
		case !failing:
			d.logErr(ctx, "heartbeat", err) // once per outage
			failing = true
		}
		if !sleep(ctx, interval) {
			return
		}
	}
}

// recoverLoop hands rows of dead owners back to their campaigns: never-sent
// rows to PENDING, rows that may have been sent to a resend of their frozen
// request under the same key (RETRY_WAIT in doubt), which the campaign's
// claimer paces like any other send.
func (d *Dispatcher) recoverLoop(ctx context.Context) {
	defer d.loops.Done()
	if !d.lease.wait(ctx) {
		return
	}
	for sleep(ctx, d.cfg.RecoverInterval) {
		for ctx.Err() == nil {
			now := d.cfg.Now()
			n, err := d.store.RequeueAbandoned(ctx, now, d.deadBefore(now), 1000)
			if err != nil {
				d.logErr(ctx, "requeue abandoned rows", err)
				break
			}
			if n == 0 {
				break
			}
			d.metrics.recovered.Add(float64(n))
			d.log.Info("took over rows of a process that stopped", "rows", n)
		}
	}
}

// deadBefore is the heartbeat an owner must have missed to count as dead:
// a lease ago, or before this process's own last heartbeat when that is
// older. A process whose heartbeat lags (a busy database, a starved
// machine) would otherwise take its own live rows for abandoned ones and
// put them in doubt; and it judges no other process by a clock it could
// not keep itself.
func (d *Dispatcher) deadBefore(now time.Time) time.Time {
	dead := now.Add(-d.cfg.LeaseTTL)
	if own := d.lease.lastBeat(); own.Before(dead) {
		dead = own.Add(-time.Millisecond) // the store keeps ms: our own beat stays on the live side
	}
	return dead
}
