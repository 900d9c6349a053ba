package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"time"

	herald "github.com/heraldhq/herald"
)

// commitLoop writes the batches of queue q until Stop closes it and it is
// empty. Copies are answered without a write: a copy of a report in the
// same batch gets the batch's answer, a copy of a recently stored one is
// answered at once (it is durable already). The keys of the recent cache
// are this committer's own: a key always comes to the same committer.
func (in *Ingest) commitLoop(ctx context.Context, q chan *request) {
	b := &batcher{
		in:     in,
		recent: newRecentKeys(in.cfg.RecentKeys / len(in.queues)),
		index:  make(map[string]struct{}, in.cfg.BatchSize),
		batch:  make([]*request, 0, in.cfg.BatchSize),
	}
	var reports []herald.Report
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var lastLog time.Time
	for {
		first, ok := <-q
		if !ok {
			return
		}
		b.admit(first)
		ok = b.fill(q, timer)
		if len(b.batch) == 0 { // copies only, all answered
			if !ok {
				return
			}
			continue
		}
		// With a spool, a slow commit may outlive this loop's turn: it
		// gets a slice of its own.
		if in.spool != nil || cap(reports) == 0 {
			reports = make([]herald.Report, 0, in.cfg.BatchSize)
		}
		reports = reports[:0]
		for _, req := range b.batch {
			reports = append(reports, req.report)
		}
		err := in.persist(ctx, reports)
		b.observe(len(b.batch) + len(b.copies) + len(q))
		if err == nil {
			for _, req := range b.batch {
				b.recent.add(req.key)
			}
		}
		b.answer(err)
		if err != nil && !errors.Is(err, errCommitPanic) && time.Since(lastLog) > time.Second {
			lastLog = time.Now() // at most one line a second while the database is down
			in.log.LogAttrs(ctx, slog.LevelError, "report batch not stored",
				slog.Int("reports", len(reports)), slog.String("error", err.Error()))
		}
		clear(reports) // no raw body outlives its request
		if !ok {
			return
		}
	}
}

// batcher gathers one committer's batch, without copies.
type batcher struct {
	in     *Ingest
	recent *recentKeys
	index  map[string]struct{} // keys in batch
	batch  []*request          // the first of each key
	copies []*request          // the others, answered with the batch
	peak   int                 // callers waiting at the end of recent commits, decaying
}

// A batch takes at most half of the callers that were waiting on this
// committer at the end of its recent commits (never fewer than
// minBatchLimit, never more than Config.BatchSize). Under a closed loop of
// many connections, a batch of all of them leaves nothing to read while it
// commits: the HTTP side and the commit take turns and a core sits idle.
// With half, the other half's answers, next requests and decoding overlap
// the commit (measured: 256 connections on SQLite, 19% of the CPU idle and
// 35,000 reports/s with batches of everyone, 7% and 40,000/s with half).
const minBatchLimit = 16

// observe records how many callers wait on this committer as a commit ends:
// its batch, their copies, and what queued meanwhile.
func (b *batcher) observe(waiting int) {
	b.peak = max(waiting, b.peak-b.peak/16)
}

// limit is the most reports the next batch takes.
func (b *batcher) limit() int {
	return min(b.in.cfg.BatchSize, max(minBatchLimit, b.peak/2))
}

// admit adds req to the batch unless it is a copy.
func (b *batcher) admit(req *request) {
	if b.recent.has(req.key) {
		b.in.metrics.deduped.WithLabelValues("recent").Inc()
		b.in.unhold(&req.report)
		req.done <- nil
		return
	}
	if _, dup := b.index[req.key]; dup {
		b.in.metrics.deduped.WithLabelValues("batch").Inc()
		b.copies = append(b.copies, req)
		return
	}
	b.index[req.key] = struct{}{}
	b.batch = append(b.batch, req)
}

// fill admits queued reports until the batch is full, FlushInterval has
// passed since its first report, or none has come for a fillGap. The gap
// ends the wait early for the common burst: the callers of the last batch,
// answered at once, post their next reports within a fraction of a
// millisecond, and then nothing comes until this batch answers them; a
// full FlushInterval of waiting would leave the committer idle. It reports
// false once the queue is closed.
func (b *batcher) fill(q chan *request, timer *time.Timer) bool {
	window := b.in.cfg.FlushInterval
	gap := min(window, fillGap)
	deadline := time.Now().Add(window)
	for limit := b.limit(); len(b.batch) < limit; {
		select { // what is queued already needs no timer
		case req, ok := <-q:
			if !ok {
				return false
			}
			b.admit(req)
			continue
		default:
		}
		wait := min(gap, time.Until(deadline))
		if wait <= 0 {
			return true
		}
		timer.Reset(wait)
		select {
		case req, ok := <-q:
			timer.Stop()
			if !ok {
				return false
			}
			b.admit(req)
		case <-timer.C:
			return true
		}
	}
	return true
}

// fillGap is the longest pause between two reports that still joins them
// in one batch (FlushInterval, when shorter, bounds it too).
const fillGap = 250 * time.Microsecond

// answer releases the callers of the batch and its copies; done is
// buffered, so this never blocks, whether or not a caller still waits.
func (b *batcher) answer(err error) {
	for _, reqs := range [][]*request{b.batch, b.copies} {
		for _, req := range reqs {
			b.in.unhold(&req.report)
			req.done <- err
		}
		clear(reqs)
	}
	b.batch, b.copies = b.batch[:0], b.copies[:0]
	clear(b.index)
}

// persist makes a batch durable: committed, or without a spool an error
// (ErrNotStored). With a spool, a batch whose commit fails or takes longer
// than SpoolAfter is appended to the spool instead, and while the spool
// holds batches not yet replayed, new ones join them there in order.
func (in *Ingest) persist(ctx context.Context, reports []herald.Report) error {
	if in.spool == nil {
		if err := in.safeCommit(ctx, reports); err != nil {
			return errors.Join(ErrNotStored, err)
		}
		return nil
	}
	if in.spool.degraded() {
		return in.toSpool(reports)
	}
	res := make(chan error, 1)
	go func() { res <- in.safeCommit(ctx, reports) }()
	timer := time.NewTimer(in.cfg.SpoolAfter)
	defer timer.Stop()
	select {
	case err := <-res:
		switch {
		case err == nil:
			return nil
		case errors.Is(err, errCommitPanic):
			// A batch that trips a bug would trip it at every replay and
			// hold up the spool behind it: refused, as without a spool.
			return errors.Join(ErrNotStored, err)
		}
		return in.toSpool(reports)
	case <-timer.C:
		// The commit goes on; should it succeed too, the replay of the
		// spooled copy changes nothing (reports are idempotent by key).
		in.metrics.slowCommits.Inc()
		return in.toSpool(reports)
	}
}

// toSpool appends a batch to the spool; a full or failing spool refuses it.
func (in *Ingest) toSpool(reports []herald.Report) error {
	if err := in.spool.append(reports); err != nil {
		in.metrics.spoolErrors.Inc()
		return errors.Join(ErrNotStored, err)
	}
	in.metrics.spooled.Add(float64(len(reports)))
	return nil
}

// errCommitPanic is the error of a batch whose commit panicked.
var errCommitPanic = errors.New("report commit panicked")

// safeCommit is commit with its panics recovered: a bug in a store, or a
// report that trips one, fails that batch only, the same way as a failed
// transaction (its callers are refused and the provider retries them), and the committer goes on with the next batch. The panic is
// counted, and logged with its stack at most once a second: the
// stack and the kind of panic, never the panic's value unless it is a
// runtime error, since a value could hold a report or a secret.
func (in *Ingest) safeCommit(ctx context.Context, reports []herald.Report) (err error) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		err = errCommitPanic
		in.metrics.commitPanics.Inc()
		now := time.Now().UnixNano()
		if last := in.lastPanicLog.Load(); now-last < int64(time.Second) || !in.lastPanicLog.CompareAndSwap(last, now) {
			return
		}
		in.log.LogAttrs(ctx, slog.LevelError, "report batch commit panicked; its reports were not stored and will be retried by the provider",
			slog.Int("reports", len(reports)), slog.String("panic", panicText(v)),
			slog.String("stack", string(debug.Stack())))
	}()
	return in.commit(ctx, reports)
}

// panicText describes a recovered value without its contents, except for
// the runtime's own errors (index out of range, nil dereference…), which
// hold no data.
func panicText(v any) string {
	if re, ok := v.(runtime.Error); ok {
		return re.Error()
	}
	return fmt.Sprintf("%T", v)
}

// commit writes one batch in one transaction.
func (in *Ingest) commit(ctx context.Context, reports []herald.Report) error {
	ctx, cancel := context.WithTimeout(ctx, commitTimeout)
	defer cancel()
	start := time.Now()
	res, err := in.store.ApplyReports(ctx, reports, in.cfg.Now())
	in.metrics.commitDuration.Observe(time.Since(start).Seconds())
	in.metrics.batchSize.Observe(float64(len(reports)))
	if err != nil {
		in.metrics.commitErrors.Inc()
		in.lastFailure.Store(time.Now().UnixNano())
		return err
	}
	in.metrics.count(res)
	in.metrics.countCodes(reports)
	return nil
}

// sweepLoop retries unmatched reports every SweepInterval until Stop.
func (in *Ingest) sweepLoop(ctx context.Context) {
	tick := time.NewTicker(in.cfg.SweepInterval)
	defer tick.Stop()
	var lastLog time.Time
	for {
		select {
		case <-in.quit:
			return
		case <-tick.C:
		}
		if err := in.sweep(ctx); err != nil && time.Since(lastLog) > time.Minute {
			lastLog = time.Now()
			in.log.LogAttrs(ctx, slog.LevelWarn, "matching pending reports failed", slog.String("error", err.Error()))
		}
	}
}

// sweep matches due reports, a few rounds when there is a backlog and no
// report waits: on SQLite the sweep takes the one writer, and a stream of
// reports that match nothing (each retried with backoff) would otherwise
// keep it busy, and every commit behind it, for most of each second.
func (in *Ingest) sweep(ctx context.Context) error {
	for round := range 10 {
		if round > 0 && in.QueueDepth() > 0 {
			return nil
		}
		sctx, cancel := context.WithTimeout(ctx, commitTimeout)
		n, err := in.store.MatchPendingReports(sctx, in.cfg.Now(), in.cfg.SweepLimit)
		cancel()
		in.metrics.lateMatched.Add(float64(n))
		if err != nil || n < in.cfg.SweepLimit {
			return err
		}
	}
	return nil
}
