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

// commitLoop writes batches until Stop closes the queue and it is empty.
func (in *Ingest) commitLoop(ctx context.Context) {
	batch := make([]*request, 0, in.cfg.BatchSize)
	reports := make([]herald.Report, 0, in.cfg.BatchSize)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var lastLog, lastPanicLog time.Time
	for {
		first, ok := <-in.queue
		if !ok {
			return
		}
		batch, ok = in.fill(append(batch[:0], first), timer)
		reports = reports[:0]
		for _, req := range batch {
			reports = append(reports, req.report)
		}
		err := in.safeCommit(ctx, reports, &lastPanicLog)
		in.answer(batch, err)
		if err != nil && !errors.Is(err, errCommitPanic) && time.Since(lastLog) > time.Second {
			lastLog = time.Now() // at most one line a second while the database is down
			in.log.LogAttrs(ctx, slog.LevelError, "report batch not stored",
				slog.Int("reports", len(reports)), slog.String("error", err.Error()))
		}
		clear(reports) // no raw body outlives its request
		clear(batch)
		if !ok {
			return
		}
	}
}

// fill adds queued reports to batch until it is full or FlushInterval has
// passed since its first report. It reports false once the queue is closed.
func (in *Ingest) fill(batch []*request, timer *time.Timer) ([]*request, bool) {
	timer.Reset(in.cfg.FlushInterval)
	defer timer.Stop()
	for len(batch) < in.cfg.BatchSize {
		select {
		case req, ok := <-in.queue:
			if !ok {
				return batch, false
			}
			batch = append(batch, req)
		case <-timer.C:
			return batch, true
		}
	}
	return batch, true
}

// errCommitPanic is the error of a batch whose commit panicked.
var errCommitPanic = errors.New("report commit panicked")

// safeCommit is commit with its panics recovered: a bug in a store, or a
// report that trips one, fails that batch only, the same way as a failed
// transaction (its requests are answered 503 and the provider retries
// them), and the committer goes on with the next batch. The panic is
// counted, and logged with its stack at most once a second (lastLog): the
// stack and the kind of panic, never the panic's value unless it is a
// runtime error, since a value could hold a report or a secret.
func (in *Ingest) safeCommit(ctx context.Context, reports []herald.Report, lastLog *time.Time) (err error) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		err = errCommitPanic
		in.metrics.commitPanics.Inc()
		if time.Since(*lastLog) < time.Second {
			return
		}
		*lastLog = time.Now()
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
		return err
	}
	in.metrics.count(res)
	in.metrics.countCodes(reports)
	return nil
}

// answer releases the handlers of a batch; done is buffered, so this never
// blocks, whether or not a handler still waits.
func (in *Ingest) answer(batch []*request, err error) {
	for _, req := range batch {
		in.unhold(&req.report)
		req.done <- err
	}
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

// sweep matches due reports, a few rounds when there is a backlog.
func (in *Ingest) sweep(ctx context.Context) error {
	for range 10 {
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
