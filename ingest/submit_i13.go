package ingest

// Throw-away shim of helper i13 (report polling): the transport-free
// Submit that helper i15 builds for real. The lead replaces this file with
// i15's (*Ingest).Submit when merging.

import (
	"context"
	"errors"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/infobank"
)

// Errors of Submit that mean "try again later".
var (
	ErrBusy     = errors.New("ingest: report queue full")
	ErrStopping = errors.New("ingest: not running")
)

// Submit queues one report for the group commit, as the webhook does, and
// returns nil only once its batch is durable. An invalid report is a
// *herald.InvalidError (no store could keep it); ErrBusy and ErrStopping
// mean nothing was queued.
func (in *Ingest) Submit(ctx context.Context, r herald.Report) error {
	if err := validate(&r); err != nil {
		return err
	}
	if r.Raw == nil {
		r.Raw = infobank.EncodeReport(r)
	}
	req := &request{report: r, done: make(chan error, 1)}
	switch in.enqueue(req) {
	case queueFull:
		in.metrics.shed.Inc()
		return ErrBusy
	case notRunning:
		return ErrStopping
	}
	in.metrics.received.Inc()
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		// The committer still holds req and answers into its buffer.
		return ctx.Err()
	}
}
