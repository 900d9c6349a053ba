package dispatch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/pace"
)

// campaignRun is the claimer of one running campaign in this process.
type campaignRun struct {
	campaign herald.Campaign
	tpl      *campaignTemplate
	limiter  *pace.Limiter
	key      string // the sender key
	global   Pacer  // the sender key's limiter, through its gate; nil without one
	breaker  *breaker
	tps      atomic.Int64      // the campaign's own TPS, before its fair share
	window   herald.SendWindow // when the campaign may send (Asia/Seoul)
	closed   bool              // the window was closed at the last look (logged once)
	ctx      context.Context
	stop     context.CancelFunc
	done     chan struct{}
	haltOnce sync.Once
}

func (d *Dispatcher) newRun(ctx context.Context, c herald.Campaign, tpl *campaignTemplate) *campaignRun {
	key := d.senderKey(tpl)
	run := &campaignRun{
		campaign: c, tpl: tpl, key: key, done: make(chan struct{}),
		breaker: newBreaker(d.cfg.BreakerWindow, d.cfg.BreakerShare),
	}
	if g := d.gate(key); g != nil {
		// One-off messages go ahead of campaigns (see gate).
		run.global = &lane{g: g, priority: c.Kind == herald.KindMessages}
	}
	run.window = d.cfg.SendWindow
	if c.Kind == herald.KindMessages {
		run.window = herald.SendWindow{} // one-off messages (a password reset) go at any hour
	} else if c.SendWindow != "" {
		if w, err := herald.ParseSendWindow(c.SendWindow); err == nil { // validated at creation
			run.window = w
		}
	}
	run.ctx, run.stop = context.WithCancel(ctx)
	// The campaign's own rate is ours, not the provider's: no restart guard.
	run.limiter = pace.NewLimiter(c.TPS, d.cfg.Headroom, pace.Options{StartEmpty: true})
	run.limiter.OnChange = d.logRate("campaign", c.ID)
	return run
}

// wait paces n recipients through the campaign's and the sender key's
// limits. A frozen request larger than the campaign's (edited) rate still
// leaves, alone in its second: the campaign's rate is ours to bend; the
// sender key's is the provider's and is never exceeded.
func (r *campaignRun) wait(ctx context.Context, n int) error {
	if err := r.limiter.Wait(ctx, min(n, r.limiter.Limit())); err != nil {
		return err
	}
	if r.global != nil {
		return r.global.Wait(ctx, n)
	}
	return nil
}

// throttle slows the campaign (and its sender key) after a rate refusal.
func (r *campaignRun) throttle(reason string) {
	r.limiter.Throttle(reason)
	if r.global != nil {
		r.global.Throttle(reason)
	}
}

// rate is what the campaign's rows leave at, at most: its own TPS or its
// sender key's, whichever is lower (its fair share of a busy key may be
// less; claims are sized by this rate so that a small share does not make
// many tiny claims).
func (r *campaignRun) rate() float64 {
	rate := r.limiter.Rate()
	if t := r.tps.Load(); t > 0 {
		rate = max(rate, float64(t))
	}
	if r.global != nil {
		rate = min(rate, r.global.Rate())
	}
	return rate
}

// halt pauses (or fails) the campaign with the reason and stops its run;
// only the first call of a run does anything.
func (d *Dispatcher) haltRun(run *campaignRun, to herald.CampaignState, reason string) {
	run.haltOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		d.halt(ctx, run.campaign.ID, to, reason)
		run.stop()
	})
}

// claimSize is about a fifth of a second of sending at the rate the rows
// will leave at: enough to keep the pipeline fed, small enough that little
// sits claimed but idle.
func (d *Dispatcher) claimSize(rate float64) int {
	n := max(d.cfg.BatchSize, min(int(rate)+1, MaxClaimRate)/5)
	return (n + d.cfg.BatchSize - 1) / d.cfg.BatchSize * d.cfg.BatchSize
}

// runCampaign claims and prepares in one goroutine while this one paces
// and hands batches to the workers, so the rate does not pause while the
// next rows are claimed. At most about two claims are held unsent.
func (d *Dispatcher) runCampaign(run *campaignRun) {
	defer close(run.done)
	d.log.Info("campaign running", "campaign", run.campaign.ID, "tps", run.campaign.TPS)
	ready := make(chan *job, max(1, d.claimSize(run.rate())/d.cfg.BatchSize))
	go d.produce(run, ready)
	var unsent []*job
	for j := range ready {
		d.metrics.queued.Dec()
		if run.ctx.Err() != nil {
			unsent = append(unsent, j)
			continue
		}
		if !run.window.Open(d.cfg.Now()) { // claimed before the close: back to the store, not held overnight
			d.release(d.held(j, ready))
			continue
		}
		if !d.awaitLease(run.ctx) { // the lease ran out while the heartbeat lagged
			if run.ctx.Err() != nil {
				unsent = append(unsent, j)
				continue
			}
			jobs := d.held(j, ready)
			d.metrics.leaseShort.Add(float64(len(jobs)))
			d.release(jobs)
			continue
		}
		if err := d.handOut(run, j); err != nil {
			if errors.Is(err, errWindowClosed) {
				d.release(d.held(j, ready))
				continue
			}
			if errors.Is(err, pace.ErrTooLarge) && !j.fresh {
				// A frozen request larger than the sender key's limit
				// (lowered since it was made) can never leave as itself.
				d.settleAll(j.rows, "REQUEST_TOO_LARGE", fmt.Sprintf("in doubt, and its request of %d recipients no longer fits the sender key's limit", len(j.batch.Destinations)))
				continue
			}
			d.release([]*job{j})
			if run.ctx.Err() == nil { // the limiter failed (Redis down): wait, do not spin
				if healthy(run.global) == nil { // an outage is logged once, by the limiter
					d.logErr(run.ctx, "pace", err, "campaign", run.campaign.ID)
				}
				sleep(run.ctx, time.Second)
			}
		}
	}
	d.release(unsent)
}

// held is j and every job already waiting behind it, given back together
// in one release: one by one, a claim of 1,000 single-destination jobs is
// 1,000 commits, which on SQLite's single writer would delay the very
// heartbeats that let the next claim leave.
func (d *Dispatcher) held(j *job, ready <-chan *job) []*job {
	jobs := []*job{j}
	for {
		select {
		case more, ok := <-ready:
			if !ok {
				return jobs
			}
			d.metrics.queued.Dec()
			jobs = append(jobs, more)
		default:
			return jobs
		}
	}
}

// MaxClaimRate caps the rate used to size claims (1,000 rows at most).
const MaxClaimRate = 5000

// produce claims and prepares until the campaign completes or the run stops.
func (d *Dispatcher) produce(run *campaignRun, ready chan<- *job) {
	defer close(ready)
	ctx := run.ctx
	for ctx.Err() == nil {
		if err := healthy(run.global); err != nil { // claim nothing that cannot leave
			sleep(ctx, time.Second)
			continue
		}
		if !d.awaitLease(ctx) { // claim nothing that could not leave before the lease ends
			continue
		}
		if !d.windowOpen(run) { // claim nothing outside the send window
			if d.complete(ctx, run) { // the last results came in after the close
				return
			}
			sleep(ctx, d.cfg.PollInterval)
			continue
		}
		d.slowForReports(run)
		now := d.cfg.Now()
		rows, err := d.claim(ctx, herald.ClaimParams{
			CampaignID: run.campaign.ID, Limit: d.claimSize(run.rate()),
			Owner: d.cfg.Owner, Now: now, LeaseUntil: now.Add(d.cfg.LeaseTTL),
		})
		if err != nil {
			d.logErr(ctx, "claim recipients", err, "campaign", run.campaign.ID)
			sleep(ctx, d.cfg.PollInterval)
			continue
		}
		if len(rows) == 0 {
			if d.complete(ctx, run) {
				return
			}
			sleep(ctx, d.cfg.PollInterval)
			continue
		}
		d.metrics.claimed.Add(float64(len(rows)))
		if ctx.Err() != nil { // stopped while claiming: give the rows back
			d.releaseRows(rows)
			return
		}
		for _, j := range d.prepare(ctx, run, rows) {
			d.metrics.queued.Inc()
			ready <- j // blocks while the pacer is behind; the consumer drains it on stop
		}
	}
}

// claim claims rows on a context that a stopping run does not cancel: a
// claim cancelled after its commit would leave rows SENDING under this
// live process, which nobody would then hand back.
func (d *Dispatcher) claim(ctx context.Context, p herald.ClaimParams) ([]herald.Recipient, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	return d.store.ClaimRecipients(ctx, p)
}

// handOut takes a free sending slot, then paces the job, then sends it at
// once: the limiter's admission is the moment the request leaves, never
// earlier (a job admitted while every worker was busy would leave late and
// bunch up with the next ones at the provider). An error means the job was
// not sent.
func (d *Dispatcher) handOut(run *campaignRun, j *job) error {
	select {
	case d.slots <- struct{}{}:
	case <-run.ctx.Done():
		return run.ctx.Err()
	}
	paced := time.Now()
	if err := run.wait(run.ctx, len(j.batch.Destinations)); err != nil {
		<-d.slots
		return err
	}
	if !run.window.Open(d.cfg.Now()) { // the window closed while it waited for its turn
		<-d.slots
		return errWindowClosed
	}
	since(d.metrics.pacerWait, paced)
	d.workers.Add(1)
	go func() {
		defer d.workers.Done()
		defer func() { <-d.slots }()
		d.send(j)
	}()
	return nil
}

// errWindowClosed: the job was not sent because the send window closed.
var errWindowClosed = errors.New("send window closed")

// windowOpen says whether the run may claim now, and logs each closing
// and opening of its window once.
func (d *Dispatcher) windowOpen(run *campaignRun) bool {
	now := d.cfg.Now()
	open := run.window.Open(now)
	if open == run.closed {
		run.closed = !open
		if open {
			d.log.Info("send window open", "campaign", run.campaign.ID, "window", run.window.String(), "closes", run.window.NextClose(now))
		} else {
			d.metrics.windowShut.Inc()
			d.log.Info("send window closed; claiming stops", "campaign", run.campaign.ID, "window", run.window.String(), "opens", run.window.NextOpen(now))
		}
	}
	return open
}

// release gives back the rows of jobs that were never handed to the
// provider: rows that were not in doubt return to PENDING, rows in doubt
// wait for their resend (the store tells them apart).
func (d *Dispatcher) release(jobs []*job) {
	var claims []herald.Claim
	for _, j := range jobs {
		claims = append(claims, j.claims()...)
	}
	d.releaseClaims(claims)
}

func (d *Dispatcher) releaseClaims(claims []herald.Claim) {
	if len(claims) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.store.ReleaseRecipients(ctx, d.cfg.Owner, claims, d.cfg.Now()); err != nil {
		// Still SENDING under this live process, which nobody else may
		// requeue: try again at the next heartbeat (the release is fenced
		// by the claim tokens, so a late one changes nothing that moved).
		d.log.Warn("release unsent recipients; retrying", "count", len(claims), "err", err)
		d.relMu.Lock()
		d.unreleased = append(d.unreleased, claims...)
		d.relMu.Unlock()
	}
}

// retryReleases gives back the claims whose release failed before.
func (d *Dispatcher) retryReleases() {
	d.relMu.Lock()
	claims := d.unreleased
	d.unreleased = nil
	d.relMu.Unlock()
	d.releaseClaims(claims)
}

func (d *Dispatcher) complete(ctx context.Context, run *campaignRun) bool {
	done, err := d.store.CompleteCampaign(ctx, run.campaign.ID, d.cfg.Now())
	if err != nil {
		d.logErr(ctx, "complete campaign", err, "campaign", run.campaign.ID)
		return false
	}
	if done {
		d.log.Info("campaign completed", "campaign", run.campaign.ID)
	}
	return done
}

// slowForReports throttles when the report queue backs up: every send
// brings a report back at about the send rate.
func (d *Dispatcher) slowForReports(run *campaignRun) {
	if d.cfg.Backlog != nil && d.cfg.Backlog() > 0.8 {
		run.throttle("report queue backing up")
	}
}
