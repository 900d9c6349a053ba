package ingest

import (
	"context"
	"errors"
	"hash/maphash"
	"strconv"
	"time"

	herald "github.com/heraldhq/herald"
)

// Refusals of Submit. Each wraps herald.ErrBusy or herald.ErrUnavailable,
// which the HTTP edge answers 429 or 503 with Retry-After; their text is
// safe to show.
var (
	ErrQueueFull = &herald.Refusal{Kind: herald.ErrBusy, Message: "too many reports waiting; retry after the Retry-After delay"}
	ErrStopping  = &herald.Refusal{Kind: herald.ErrUnavailable, Message: "herald is shutting down; retry later"}
	ErrNotStored = &herald.Refusal{Kind: herald.ErrUnavailable, Message: "the report could not be stored; retry later"}
	ErrTimeout   = &herald.Refusal{Kind: herald.ErrUnavailable, Message: "the report was not stored in time; retry later"}
)

// request is one report waiting for its batch. done is buffered so that
// the committer never blocks on a caller that gave up waiting.
type request struct {
	report herald.Report
	key    string
	done   chan error
	wait   *time.Timer // Submit's WaitTimeout, stopped between uses
}

// Submit validates r, queues it and returns nil once it is durable: in
// the database, or in the spool. A copy of a report that is already
// stored or on its way is not written twice: it returns as soon as the
// original is durable. Submit never blocks on a full queue (ErrQueueFull),
// and waits at most Config.WaitTimeout (ErrTimeout) or until ctx ends.
// A report refused or timed out may still be stored later; the caller's
// retry is then a copy.
func (in *Ingest) Submit(ctx context.Context, r herald.Report) error {
	if err := validate(&r); err != nil {
		return err
	}
	req := in.pool.Get().(*request)
	req.report, req.key = r, reportKey(&r)
	switch in.enqueue(req) {
	case queueFull:
		in.release(req)
		in.metrics.shed.Inc()
		return ErrQueueFull
	case notRunning:
		in.release(req)
		return ErrStopping
	}
	in.metrics.received.Inc()
	req.wait.Reset(in.cfg.WaitTimeout)
	select {
	case err := <-req.done:
		req.wait.Stop() // before release: a stopped timer delivers nothing stale to the next user
		in.release(req)
		return err
	case <-req.wait.C:
		// The committer still holds req and will answer into it: not reused.
		in.metrics.timeouts.Inc()
		return ErrTimeout
	case <-ctx.Done():
		req.wait.Stop()
		return errors.Join(ErrTimeout, ctx.Err())
	}
}

// Full reports whether the queues are full, so that the webhook can refuse
// before it reads a body; such a refusal is counted as shed.
func (in *Ingest) Full() bool {
	for _, q := range in.queues {
		if len(q) < cap(q) {
			return false
		}
	}
	in.metrics.shed.Inc()
	return true
}

// reportKey is the stores' unique key of a report: copies share it.
func reportKey(r *herald.Report) string {
	b := make([]byte, 0, len(r.MsgKey)+len(r.ServiceType)+len(r.ReportType)+len(r.Code)+24)
	b = append(b, r.MsgKey...)
	b = append(b, 0)
	b = append(b, r.ServiceType...)
	b = append(b, 0)
	b = append(b, r.ReportType...)
	b = append(b, 0)
	b = append(b, r.Code...)
	b = append(b, 0)
	b = strconv.AppendInt(b, r.ReportTime.UnixMicro(), 36) // the stores keep microseconds
	return string(b)
}

// route picks the committer of a report by its msgKey: copies of a report,
// and the reports of one message, always meet in the same committer, so
// that no two transactions insert the same key at once (on PostgreSQL they
// would wait for each other, or deadlock).
func (in *Ingest) route(r *herald.Report) chan *request {
	if len(in.queues) == 1 {
		return in.queues[0]
	}
	return in.queues[maphash.String(in.seed, r.MsgKey)%uint64(len(in.queues))]
}

type enqueueResult int

const (
	queued enqueueResult = iota
	queueFull
	notRunning
)

// enqueue never blocks. The read lock keeps Stop from closing the queues
// between the state check and the send. A queued report's body counts
// against QueueBytes until the committer is done with it (unhold).
func (in *Ingest) enqueue(req *request) enqueueResult {
	in.mu.RLock()
	defer in.mu.RUnlock()
	if in.state != running {
		return notRunning
	}
	size := int64(len(req.report.Raw))
	if in.bytes.Add(size) > int64(in.cfg.QueueBytes) {
		in.bytes.Add(-size)
		return queueFull
	}
	select {
	case in.route(&req.report) <- req:
		return queued
	default:
		in.bytes.Add(-size)
		return queueFull
	}
}

// unhold returns a report's share of QueueBytes.
func (in *Ingest) unhold(r *herald.Report) { in.bytes.Add(-int64(len(r.Raw))) }

func (in *Ingest) release(req *request) {
	req.report, req.key = herald.Report{}, "" // the raw body goes with it
	in.pool.Put(req)
}
