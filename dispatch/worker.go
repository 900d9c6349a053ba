package dispatch

import (
	"context"
	"fmt"
	"time"

	herald "github.com/heraldhq/herald"
)

// job is one provider request: rows[i] goes out as batch.Destinations[i].
type job struct {
	run     *campaignRun // nil for a recovery resend without a local run
	rows    []herald.Recipient
	batch   herald.SendBatch
	sentAt  time.Time // first time this key went out
	resends int       // in-doubt resends so far
}

// subset is the same request (same idempotency key) for some of its rows.
func (j *job) subset(idx []int) *job {
	s := *j
	s.rows = make([]herald.Recipient, len(idx))
	s.batch.Destinations = make([]herald.Destination, len(idx))
	for k, i := range idx {
		s.rows[k], s.batch.Destinations[k] = j.rows[i], j.batch.Destinations[i]
	}
	return &s
}

func (d *Dispatcher) work() {
	defer d.workers.Done()
	for j := range d.jobs {
		d.send(j)
	}
}

// send makes one request outside any transaction and records each
// destination's outcome. In-doubt destinations are resent later under the
// same key; nothing else is ever resent by this function.
func (d *Dispatcher) send(j *job) {
	d.metrics.inflight.Inc()
	outs := d.provider.Send(d.sendCtx, j.batch)
	d.metrics.inflight.Dec()
	now := d.cfg.Now()
	var doubt []int
	throttled := false
	for i, o := range outs {
		r := j.rows[i]
		d.metrics.outcomes.WithLabelValues(o.Kind.String()).Inc()
		u := herald.RecipientUpdate{ID: r.ID, Owner: d.cfg.Owner, ResultCode: o.Code, ResultText: o.Text, At: now}
		switch o.Kind {
		case herald.Accepted:
			u.State, u.MsgKey = herald.RecipientAccepted, o.MsgKey
		case herald.RefusedRetryable:
			throttled = throttled || o.Code == "A020" || o.Code == "429"
			u.State = herald.RecipientRetryWait
			u.NextAttempt = now.Add(d.cfg.backoff(r.Attempts))
			if r.Attempts >= d.cfg.MaxAttempts {
				u.State, u.NextAttempt = herald.RecipientFailed, time.Time{}
				u.ResultText = fmt.Sprintf("refused %d times, last: %s", r.Attempts, o.Text)
			}
		case herald.RefusedPermanent:
			u.State = herald.RecipientFailed
		default:
			doubt = append(doubt, i)
			continue
		}
		d.rec.add(u)
	}
	if throttled && j.run != nil {
		j.run.throttle("provider refused for rate (A020)")
	}
	if len(doubt) > 0 {
		d.settleInDoubt(j.subset(doubt), outs[doubt[0]])
	}
}

// settleInDoubt resends an in-doubt request under the same idempotency key
// after a backoff: the provider drops what it already took (A301) and takes
// what it did not. Past the resend budget or the key's lifetime, the rows
// become UNKNOWN for an operator: a report may still settle them.
func (d *Dispatcher) settleInDoubt(j *job, last herald.Outcome) {
	now := d.cfg.Now()
	if j.resends >= d.cfg.InDoubtResends || now.Sub(j.sentAt) > d.cfg.IdempotencyTTL-time.Hour {
		reason := fmt.Sprintf("in doubt after %d resends with the same key: %s %s", j.resends, last.Code, last.Text)
		d.markUnknown(j.rows, reason)
		return
	}
	j.resends++
	d.metrics.resends.Inc()
	d.resends.Add(1)
	go func() {
		defer d.resends.Done()
		// On shutdown the rows stay SENDING with their key: recovery after
		// restart resends under the same key.
		if !sleep(d.resendCtx, d.cfg.backoff(j.resends)) {
			return
		}
		if j.run != nil && j.run.wait(d.resendCtx, len(j.rows)) != nil {
			return
		}
		d.send(j)
	}()
}

func (d *Dispatcher) markUnknown(rows []herald.Recipient, reason string) {
	now := d.cfg.Now()
	for _, r := range rows {
		d.metrics.unknown.Inc()
		d.rec.add(herald.RecipientUpdate{ID: r.ID, Owner: d.cfg.Owner, State: herald.RecipientUnknown, ResultCode: "IN_DOUBT", ResultText: reason, At: now})
	}
}

// recoverLoop settles rows whose lease ended while SENDING: their process
// died between claim and record.
func (d *Dispatcher) recoverLoop(ctx context.Context) {
	defer d.loops.Done()
	interval := min(d.cfg.LeaseTTL/4, 5*time.Second)
	for sleep(ctx, interval) {
		for ctx.Err() == nil && d.recoverOnce(ctx) > 0 {
		}
	}
}

// recoverOnce reclaims a chunk of abandoned batches and settles them:
// never sent (no key) → PENDING; sent within the key's lifetime → resent
// under the same key; older → UNKNOWN. It returns how many rows it took.
func (d *Dispatcher) recoverOnce(ctx context.Context) int {
	now := d.cfg.Now()
	rows, err := d.store.ReclaimExpired(ctx, herald.ClaimParams{Owner: d.cfg.Owner, Now: now, LeaseUntil: now.Add(d.cfg.LeaseTTL), Limit: 100})
	if err != nil {
		d.logErr(ctx, "reclaim expired leases", err)
		return 0
	}
	groups := map[string][]herald.Recipient{}
	var unsent []*job
	for _, r := range rows {
		if r.BatchKey == "" {
			unsent = append(unsent, &job{rows: []herald.Recipient{r}})
			continue
		}
		groups[r.BatchKey] = append(groups[r.BatchKey], r)
	}
	d.release(unsent)
	for key, g := range groups {
		d.metrics.recovered.Add(float64(len(g)))
		if now.Sub(g[0].SentAt) > d.cfg.IdempotencyTTL-time.Hour {
			d.markUnknown(g, "lease expired after the send and the idempotency key has lapsed")
			continue
		}
		d.resendRecovered(ctx, key, g)
	}
	if len(rows) > 0 {
		d.log.Info("recovered abandoned sends", "rows", len(rows), "never_sent", len(unsent), "batches", len(groups))
	}
	return len(rows)
}

// resendRecovered rebuilds an abandoned request and sends it under its key.
func (d *Dispatcher) resendRecovered(ctx context.Context, key string, rows []herald.Recipient) {
	tpl, err := d.tplCache.get(ctx, rows[0].CampaignID)
	if err != nil {
		d.markUnknown(rows, "lease expired after the send and the template cannot be loaded: "+err.Error())
		return
	}
	members, err := d.members(ctx, rows)
	if err != nil {
		d.logErr(ctx, "load members for recovery", err)
		return // the lease runs out again and the next pass retries
	}
	var j *job
	for _, r := range rows {
		x, reject := d.destination(tpl, r, members)
		if reject != nil {
			d.markUnknown([]herald.Recipient{r}, "lease expired after the send; not resent: "+reject.ResultText)
			continue
		}
		if j == nil {
			j = d.appendDestination(nil, tpl, nil, r, x)[0]
			j.batch.IdempotencyKey, j.sentAt = key, r.SentAt
			continue
		}
		j.rows = append(j.rows, r)
		j.batch.Destinations = append(j.batch.Destinations, x.dest)
	}
	if j == nil {
		return
	}
	if l := d.global(d.senderKey(tpl)); l != nil && l.Wait(ctx, len(j.rows)) != nil {
		return
	}
	d.send(j)
}
