package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/progress"
)

// verdict is what the demo prints at the end.
type verdict struct {
	OK        bool    `json:"ok"`
	Total     int     `json:"total"`
	Delivered int     `json:"delivered"`
	Accepted  int     `json:"accepted_awaiting_report"`
	Failed    int     `json:"failed"`
	Skipped   int     `json:"skipped"`
	Unknown   int     `json:"unknown"`
	Seconds   float64 `json:"seconds"`
	TPS       int     `json:"tps"`
	// SteadyRate is the mean recipients/s over the full seconds of sending,
	// first and last (partial) seconds left out.
	SteadyRate float64 `json:"steady_rate"`
	// From the provider's side (the built-in mock); -1 when not measured.
	Duplicates       int   `json:"duplicates"`
	MaxWindow        int   `json:"max_window"`
	RefusedForRate   int64 `json:"refused_for_rate"`
	ProviderMeasured bool  `json:"provider_measured"`
	// Problems says why the verdict is not ok: anything the demo did not
	// plan (it plans the withdrawals), such as recipients failed or unknown
	// with their codes, duplicates or a window over the limit.
	Problems []string `json:"problems,omitempty"`
}

// watch draws a progress bar until the campaign completes and its reports
// are in (or stop coming), withdrawing some members at 30%.
func (d *demo) watch(ctx context.Context, camp herald.Campaign, out io.Writer) (herald.Campaign, error) {
	timeout := d.cfg.Timeout
	if timeout == 0 {
		timeout = 2*time.Duration(float64(d.cfg.Members)/float64(d.cfg.Send.TPS)*float64(time.Second)) + time.Minute
	}
	deadline := time.Now().Add(timeout)
	withdrawn := d.cfg.Withdraw == 0
	bar := newProgress(out)
	var lastReport time.Time
	var lastAccepted int
	for {
		c, err := d.store.GetCampaign(ctx, camp.ID)
		if err != nil {
			return c, err
		}
		sent := sentCount(c)
		bar.draw(sent, c.Total, c.Counts[herald.RecipientAccepted])
		if !withdrawn && c.State == herald.CampaignRunning && sent*10 >= c.Total*3 {
			if err := d.withdrawSome(ctx); err != nil {
				return c, err
			}
			withdrawn = true
		}
		if c.State == herald.CampaignCompleted {
			accepted := c.Counts[herald.RecipientAccepted]
			if accepted != lastAccepted {
				lastAccepted, lastReport = accepted, time.Now()
			}
			// Reports follow the last send within the mock's delay; stop
			// when all are in or none came for a while.
			if accepted == 0 || time.Since(lastReport) > 10*time.Second {
				bar.done()
				return c, nil
			}
		}
		if c.State.Terminal() && c.State != herald.CampaignCompleted {
			bar.done()
			return c, fmt.Errorf("campaign ended %s: %s", c.State, c.Reason)
		}
		if c.State == herald.CampaignPaused && c.Reason != "" {
			bar.done()
			return c, fmt.Errorf("campaign paused: %s", c.Reason)
		}
		if time.Now().After(deadline) {
			bar.done()
			return c, fmt.Errorf("demo did not finish within %s: %v", timeout, c.Counts)
		}
		select {
		case <-ctx.Done():
			bar.done()
			return c, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (d *demo) verdict(ctx context.Context, c herald.Campaign, took time.Duration) (verdict, error) {
	v := verdict{
		Total: c.Total, Delivered: c.Counts[herald.RecipientDelivered], Accepted: c.Counts[herald.RecipientAccepted],
		Failed: c.Counts[herald.RecipientFailed], Skipped: c.Counts[herald.RecipientSkipped], Unknown: c.Counts[herald.RecipientUnknown],
		Seconds: took.Seconds(), TPS: d.cfg.Send.TPS, Duplicates: -1, MaxWindow: -1, RefusedForRate: -1,
	}
	if d.mock != nil {
		st := d.mock.Stats()
		v.ProviderMeasured = true
		v.Duplicates = max(st.DuplicateRefs, st.DuplicateRecipients)
		v.MaxWindow, v.RefusedForRate = st.MaxWindow, st.RefusedRateLimit
		perSecond := make([]int, len(st.PerSecond))
		for i, s := range st.PerSecond {
			perSecond[i] = s.Accepted
		}
		v.SteadyRate = steadyRate(perSecond)
	} else {
		sent, err := d.sendTimesPerSecond(ctx, c.ID)
		if err != nil {
			return v, err
		}
		v.SteadyRate = steadyRate(sent)
	}
	if err := d.problems(ctx, c, &v); err != nil {
		return v, err
	}
	v.OK = len(v.Problems) == 0
	return v, nil
}

// problems lists what the demo did not plan: every failed or unknown
// recipient (grouped by result code), duplicates, windows over the limit,
// refusals for rate.
func (d *demo) problems(ctx context.Context, c herald.Campaign, v *verdict) error {
	if v.Duplicates > 0 {
		v.Problems = append(v.Problems, fmt.Sprintf("%d recipients got more than one message", v.Duplicates))
	}
	if v.MaxWindow > v.TPS {
		v.Problems = append(v.Problems, fmt.Sprintf("%d recipients in one 1-s window, over the limit of %d", v.MaxWindow, v.TPS))
	}
	if v.RefusedForRate > 0 {
		v.Problems = append(v.Problems, fmt.Sprintf("the provider refused %d requests for rate", v.RefusedForRate))
	}
	if v.Failed+v.Unknown == 0 {
		return nil
	}
	codes := map[string]int{}
	for after := int64(0); ; {
		rows, err := d.store.ListRecipients(ctx, c.ID, after, 5000)
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			break
		}
		for _, r := range rows {
			if r.State == herald.RecipientFailed || r.State == herald.RecipientUnknown {
				codes[fmt.Sprintf("%s %s: %s", r.State, r.ResultCode, r.ResultText)]++
			}
		}
		after = rows[len(rows)-1].ID
	}
	keys := make([]string, 0, len(codes))
	for k := range codes {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return codes[keys[i]] > codes[keys[j]] })
	for i, k := range keys {
		if i == 5 {
			v.Problems = append(v.Problems, fmt.Sprintf("… and %d other reasons", len(keys)-5))
			break
		}
		v.Problems = append(v.Problems, fmt.Sprintf("%d recipients %s", codes[k], k))
	}
	return nil
}

// sendTimesPerSecond counts, per wall-clock second, the recipients whose
// request was keyed then (a little before it left), from the outbox.
func (d *demo) sendTimesPerSecond(ctx context.Context, campaignID int64) ([]int, error) {
	bySecond := map[int64]int{}
	var after int64
	for {
		rows, err := d.store.ListRecipients(ctx, campaignID, after, 5000)
		if err != nil {
			return nil, err
		}
		if len(rows) == 0 {
			break
		}
		for _, r := range rows {
			if !r.SentAt.IsZero() {
				bySecond[r.SentAt.Unix()]++
			}
		}
		after = rows[len(rows)-1].ID
	}
	secs := make([]int64, 0, len(bySecond))
	for s := range bySecond {
		secs = append(secs, s)
	}
	sort.Slice(secs, func(i, j int) bool { return secs[i] < secs[j] })
	out := []int{}
	for i, s := range secs {
		if i > 0 {
			for gap := secs[i-1] + 1; gap < s; gap++ {
				out = append(out, 0)
			}
		}
		out = append(out, bySecond[s])
	}
	return out, nil
}

// steadyRate is the mean of per-second counts without the first and last
// (partial) seconds.
func steadyRate(perSecond []int) float64 {
	if len(perSecond) <= 2 {
		n := 0
		for _, c := range perSecond {
			n += c
		}
		return float64(n) / float64(max(len(perSecond), 1))
	}
	n := 0
	for _, c := range perSecond[1 : len(perSecond)-1] {
		n += c
	}
	return float64(n) / float64(len(perSecond)-2)
}

func printVerdict(w io.Writer, v verdict, asJSON bool) {
	if asJSON {
		printJSON(w, v)
		return
	}
	measured := func(n int64) string {
		if n < 0 {
			return "not measured (external provider)"
		}
		return fmt.Sprint(n)
	}
	status := "OK"
	if !v.OK {
		status = "FAILED"
	}
	fmt.Fprintf(w, `
herald demo: %s
  recipients      %d in %.1fs
  delivered       %d
  failed          %d
  skipped         %d (withdrawn mid-run)
  unknown         %d
  awaiting report %d
  duplicates      %s (seen by the provider)
  highest 1-s window %s (limit %d)
  refused for rate %s
  steady rate     %.1f/s (%.1f%% of the limit)
`, status, v.Total, v.Seconds, v.Delivered, v.Failed, v.Skipped, v.Unknown, v.Accepted,
		measured(int64(v.Duplicates)), measured(int64(v.MaxWindow)), v.TPS,
		measured(v.RefusedForRate), v.SteadyRate, 100*v.SteadyRate/float64(v.TPS))
	for _, p := range v.Problems {
		fmt.Fprintf(w, "  problem: %s\n", p)
	}
}

// campaignBar draws a campaign's progress: recipients the dispatcher is
// done with, of the total, and how many await their report.
type campaignBar struct{ bar *progress.Bar }

func newProgress(w io.Writer) *campaignBar {
	b := progress.NewBar(newPrinter(w))
	b.Unit, b.Every = "sent", 2*time.Second
	return &campaignBar{bar: b}
}

func (p *campaignBar) draw(sent, total, awaiting int) {
	p.bar.Draw(int64(sent), int64(total), fmt.Sprintf("(%d awaiting report)", awaiting))
}

func (p *campaignBar) done() { p.bar.Done() }
