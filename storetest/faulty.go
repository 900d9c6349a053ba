package storetest

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	herald "github.com/heraldhq/herald"
)

// Faulty is a herald.Store whose ApplyReports refuses every batch while
// Down, as a database that went away, and panics on a batch holding the
// report with msgKey Marked, as a store bug tripped by one report would:
// what a poison record in the report spool is made of.
type Faulty struct {
	herald.Store
	Down   atomic.Bool
	Marked string
}

func (f *Faulty) ApplyReports(ctx context.Context, rs []herald.Report, now time.Time) (herald.ReportResult, error) {
	if f.Down.Load() {
		return herald.ReportResult{}, errors.New("database unreachable")
	}
	for _, r := range rs {
		if r.MsgKey == f.Marked {
			panic("store bug")
		}
	}
	return f.Store.ApplyReports(ctx, rs, now)
}
