package dispatch

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"

	herald "github.com/heraldhq/herald"
)

// job is one provider request. A fresh job is the first send of its key in
// this claim, its rows going out as batch.Destinations in order; a resend
// (fresh false) is a frozen request sent again byte for byte, for the rows
// of it this claim holds (others may be settled or held elsewhere).
type job struct {
	run   *campaignRun
	rows  []herald.Recipient
	batch herald.SendBatch
	fresh bool
}

func (j *job) claims() []herald.Claim {
	out := make([]herald.Claim, len(j.rows))
	for i, r := range j.rows {
		out[i] = herald.Claim{ID: r.ID, Token: r.ClaimToken}
	}
	return out
}

// send makes one request outside any transaction and records each row's
// outcome. It never starts a request that could outlive this process's
// lease on the rows: such a job is given back unsent. A panic is contained
// here: the rows become UNKNOWN (the request may have left), the process
// lives on.
func (d *Dispatcher) send(j *job) {
	if sendable, _ := d.lease.check(d.cfg.Now()); !sendable { // it waited in the pacer while the heartbeat lagged
		d.metrics.leaseShort.Inc()
		d.release([]*job{j})
		return
	}
	handed := false
	defer func() {
		if p := recover(); p != nil {
			d.log.Error("panic while sending", "campaign", j.run.campaign.ID, "key", j.batch.IdempotencyKey, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			d.metrics.panics.WithLabelValues("send").Inc()
			for _, r := range j.rows {
				state := herald.RecipientUnknown
				if !handed && j.fresh {
					state = herald.RecipientFailed
				}
				d.rec.add(d.settle(r, state, "PANIC", fmt.Sprintf("panic while sending: %v", p)))
			}
		}
	}()
	ctx, cancel := context.WithDeadline(d.sendCtx, d.lease.sendDeadline())
	defer cancel()
	d.metrics.inflight.Inc()
	handed = true
	sent := time.Now()
	outs := d.provider.Send(ctx, j.batch)
	since(d.metrics.sendTime, sent)
	d.metrics.inflight.Dec()
	d.record(j, outs)
}

// record turns the provider's answer into row updates. The rule that makes
// at most one message per recipient: only the first send of a key can
// prove, by a refusal, that nothing was taken; after an answer in doubt,
// or for any resend, the row waits for another resend of the same frozen
// request, or is settled by a report, an inquiry or UNKNOWN. It never gets a
// new key.
func (d *Dispatcher) record(j *job, outs []herald.Outcome) {
	now := d.cfg.Now()
	byMessage := make(map[string]herald.Outcome, len(outs))
	for i, o := range outs {
		byMessage[j.batch.Destinations[i].MessageID] = o
	}
	var throttled bool
	var account *herald.Outcome
	var refusedAccount []herald.Claim
	for _, r := range j.rows {
		o := byMessage[r.MessageID]
		d.metrics.outcomes.WithLabelValues(o.Kind.String()).Inc()
		u := herald.RecipientUpdate{ID: r.ID, Owner: d.cfg.Owner, Token: r.ClaimToken, ResultCode: o.Code, ResultText: o.Text, At: now}
		switch o.Kind {
		case herald.Accepted:
			u.State, u.MsgKey = herald.RecipientAccepted, o.MsgKey
		case herald.RefusedAccount:
			// Nothing was taken and no recipient is at fault: the rows go
			// back untouched and the campaign pauses until it is fixed.
			account = &o
			refusedAccount = append(refusedAccount, herald.Claim{ID: r.ID, Token: r.ClaimToken})
			continue
		case herald.RefusedRetryable:
			forRate := o.Code == "A020" || o.Code == "429"
			throttled = throttled || forRate
			if j.fresh {
				u.State, u.NextAttempt = herald.RecipientRetryWait, now.Add(d.cfg.backoff(r.Attempts))
				// A refusal for rate is the provider's backpressure, not the
				// recipient's fault: it gets a far larger budget.
				budget := d.cfg.MaxAttempts
				if forRate {
					budget *= rateRefusalFactor
				}
				if r.Attempts >= budget {
					u.State, u.NextAttempt = herald.RecipientFailed, time.Time{}
					u.ResultText = fmt.Sprintf("refused %d times, last: %s", r.Attempts, o.Text)
				}
				break
			}
			d.waitInDoubt(&u, r, now) // a refused resend proves nothing
		case herald.RefusedPermanent:
			if j.fresh {
				u.State = herald.RecipientFailed
				break
			}
			u.State, u.ResultCode = herald.RecipientUnknown, herald.CodeInDoubt
			u.ResultText = fmt.Sprintf("resend refused (%s %s); the first send may have been taken", o.Code, o.Text)
			d.metrics.unknown.Inc()
		default: // in doubt, or no outcome at all for this row
			d.waitInDoubt(&u, r, now)
		}
		if j.fresh && o.Kind != herald.InDoubt {
			j.run.breaker.add(o.Kind == herald.RefusedPermanent)
		}
		d.metrics.update(u)
		d.rec.add(u)
	}
	if throttled {
		j.run.throttle("provider refused for rate (A020)")
	}
	if account != nil {
		d.releaseClaims(refusedAccount)
		d.haltRun(j.run, herald.CampaignPaused, fmt.Sprintf("provider refused the account or its configuration: %s %s", account.Code, account.Text))
	}
	if reason, trip := j.run.breaker.tripped(); trip {
		d.haltRun(j.run, herald.CampaignPaused, reason)
	}
}

// rateRefusalFactor multiplies MaxAttempts for refusals for rate (429/A020):
// with backoff capped at RetryMax they wait out a long brown-out.
const rateRefusalFactor = 20

// waitInDoubt makes u a wait for the resend of the same frozen request.
func (d *Dispatcher) waitInDoubt(u *herald.RecipientUpdate, r herald.Recipient, now time.Time) {
	u.State, u.InDoubt = herald.RecipientRetryWait, true
	u.NextAttempt = now.Add(d.cfg.backoff(r.Resends + 1))
	if u.ResultCode == "" {
		u.ResultCode, u.ResultText = herald.CodeInDoubt, "no outcome for this destination"
	}
}
