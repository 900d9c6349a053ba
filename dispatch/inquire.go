package dispatch

import (
	"context"

	"golang.org/x/time/rate"

	herald "github.com/heraldhq/herald"
)

// inquireLoop settles accepted sends whose report is overdue (a webhook lost
// while herald was down, say) by asking the provider for their reports.
// The provider allows few inquiries per second, so it goes slowly, a page
// at a time, round the table.
func (d *Dispatcher) inquireLoop(ctx context.Context) {
	defer d.loops.Done()
	limiter := rate.NewLimiter(rate.Limit(d.cfg.InquiryRate), 1)
	var after int64
	for sleep(ctx, d.cfg.InquiryInterval) {
		d.expireAccepted(ctx)
		rows, err := d.store.AcceptedWithoutReport(ctx, d.cfg.Now().Add(-d.cfg.InquireAfter), after, 50)
		if err != nil {
			d.logErr(ctx, "list overdue reports", err)
			continue
		}
		if len(rows) == 0 {
			after = 0 // round again from the start next time
			continue
		}
		after = rows[len(rows)-1].ID
		d.inquire(ctx, limiter, rows)
	}
}

func (d *Dispatcher) inquire(ctx context.Context, limiter *rate.Limiter, rows []herald.Recipient) {
	var found []herald.Report
	for _, r := range rows {
		if limiter.Wait(ctx) != nil {
			continue
		}
		reports, err := d.provider.Inquire(ctx, r.MsgKey)
		if err != nil {
			d.logErr(ctx, "report inquiry", err, "msg_key", r.MsgKey)
			continue
		}
		found = append(found, reports...)
	}
	if len(found) == 0 {
		return
	}
	res, err := d.store.ApplyReports(ctx, found, d.cfg.Now())
	if err != nil {
		d.logErr(ctx, "apply inquired reports", err)
		return
	}
	d.metrics.inquired.Add(float64(res.Matched))
	d.log.Info("settled overdue sends by inquiry", "reports", len(found), "matched", res.Matched)
}

// expireAccepted ends the wait of accepted sends whose report never came
// within the report window: the provider keeps reports only so long, so
// they become UNKNOWN (NO_REPORT) and the campaign reaches a final tally.
func (d *Dispatcher) expireAccepted(ctx context.Context) {
	for ctx.Err() == nil {
		now := d.cfg.Now()
		n, err := d.store.ExpireAccepted(ctx, now.Add(-d.cfg.ReportWindow), now, 1000)
		if err != nil {
			d.logErr(ctx, "expire accepted without report", err)
			return
		}
		d.metrics.expired.Add(float64(n))
		if n < 1000 {
			return
		}
	}
}
