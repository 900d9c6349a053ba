package dispatch

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/pace"
	"github.com/heraldhq/herald/template"
)

// campaignRun is the claimer of one running campaign in this process.
type campaignRun struct {
	campaign herald.Campaign
	tpl      *campaignTemplate
	limiter  *pace.Limiter
	global   *pace.Limiter // nil without a global cap
	ctx      context.Context
	stop     context.CancelFunc
	done     chan struct{}
}

func (d *Dispatcher) newRun(ctx context.Context, c herald.Campaign) (*campaignRun, error) {
	tpl, err := d.tplCache.get(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	run := &campaignRun{campaign: c, tpl: tpl, done: make(chan struct{}), global: d.global(d.senderKey(tpl))}
	run.ctx, run.stop = context.WithCancel(ctx)
	run.limiter = pace.New(c.TPS, d.cfg.BatchSize, d.cfg.Headroom)
	run.limiter.OnChange = d.logRate("campaign", c.ID)
	return run, nil
}

// wait paces n recipients through the campaign's and the sender key's limits.
func (r *campaignRun) wait(ctx context.Context, n int) error {
	if err := r.limiter.Wait(ctx, n); err != nil {
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

// claimSize is about a fifth of a second of sending: enough to keep the
// pipeline fed, small enough that little sits claimed but idle.
func (d *Dispatcher) claimSize(tps int) int {
	n := max(d.cfg.BatchSize, min(tps, MaxClaimRate)/5)
	return (n + d.cfg.BatchSize - 1) / d.cfg.BatchSize * d.cfg.BatchSize
}

// runCampaign claims and prepares in one goroutine while this one paces
// and hands batches to the workers, so the rate does not pause while the
// next rows are claimed. At most about two claims are held unsent.
func (d *Dispatcher) runCampaign(run *campaignRun) {
	defer close(run.done)
	d.log.Info("campaign running", "campaign", run.campaign.ID, "tps", run.campaign.TPS)
	ready := make(chan *job, d.claimSize(run.campaign.TPS)/d.cfg.BatchSize)
	go d.produce(run, ready)
	var unsent []*job
	for j := range ready {
		if run.ctx.Err() != nil || d.handOut(run, j) != nil {
			unsent = append(unsent, j)
		}
	}
	d.release(unsent)
}

// MaxClaimRate caps the rate used to size claims (1,000 rows at most).
const MaxClaimRate = 5000

// produce claims and prepares until the campaign completes or the run stops.
func (d *Dispatcher) produce(run *campaignRun, ready chan<- *job) {
	defer close(ready)
	ctx := run.ctx
	for ctx.Err() == nil {
		d.slowForReports(run)
		now := d.cfg.Now()
		rows, err := d.store.ClaimRecipients(ctx, herald.ClaimParams{
			CampaignID: run.campaign.ID, Limit: d.claimSize(int(run.limiter.Rate()) + 1),
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
		for _, j := range d.prepare(ctx, run.tpl, run, rows) {
			ready <- j // blocks while the pacer is behind; the consumer drains it on stop
		}
	}
}

// handOut paces one job and gives it to a free worker; when every worker is
// busy it waits (nothing is rejected). An error means the run stopped first
// and the job was never sent.
func (d *Dispatcher) handOut(run *campaignRun, j *job) error {
	if err := run.wait(run.ctx, len(j.rows)); err != nil {
		return err
	}
	select {
	case d.jobs <- j:
		return nil
	case <-run.ctx.Done():
		return run.ctx.Err()
	}
}

func (d *Dispatcher) release(jobs []*job) {
	var ids []int64
	for _, j := range jobs {
		for _, r := range j.rows {
			ids = append(ids, r.ID)
		}
	}
	if len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.store.ReleaseRecipients(ctx, d.cfg.Owner, ids, d.cfg.Now()); err != nil {
		// Left SENDING without having been sent: recovery returns them to
		// PENDING once the lease ends.
		d.log.Warn("release unsent recipients", "count", len(ids), "err", err)
	}
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

// prepare re-checks each claimed member, renders and validates the text,
// records the rows that must not be sent, groups the rest into requests and
// writes each request's idempotency key before anything leaves.
func (d *Dispatcher) prepare(ctx context.Context, tpl *campaignTemplate, run *campaignRun, rows []herald.Recipient) []*job {
	members, err := d.members(ctx, rows)
	if err != nil {
		d.logErr(ctx, "load members", err)
		d.release([]*job{{rows: rows}})
		return nil
	}
	var jobs []*job
	for _, r := range rows {
		dest, reject := d.destination(tpl, r, members)
		if reject != nil {
			d.metrics.rejected.WithLabelValues(string(reject.State)).Inc()
			d.rec.add(*reject)
			continue
		}
		jobs = d.appendDestination(jobs, tpl, run, r, dest)
	}
	return d.markBatches(ctx, jobs)
}

// members loads the current member of every row with one query.
func (d *Dispatcher) members(ctx context.Context, rows []herald.Recipient) (map[string]herald.Member, error) {
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.MemberID
	}
	return d.store.GetMembers(ctx, ids)
}

// destination renders one recipient's message, or says why it is not sent.
func (d *Dispatcher) destination(tpl *campaignTemplate, r herald.Recipient, members map[string]herald.Member) (rendered, *herald.RecipientUpdate) {
	reject := func(state herald.RecipientState, code, text string) (rendered, *herald.RecipientUpdate) {
		return rendered{}, &herald.RecipientUpdate{ID: r.ID, Owner: d.cfg.Owner, State: state, ResultCode: code, ResultText: text, At: d.cfg.Now()}
	}
	m, ok := members[r.MemberID]
	switch {
	case !ok:
		return reject(herald.RecipientSkipped, "MEMBER_GONE", "member no longer exists")
	case m.Status != herald.MemberActive:
		return reject(herald.RecipientSkipped, "WITHDRAWN", "member withdrew before the send")
	}
	lookup := template.MemberLookup(m, tpl.variables)
	msg, err := tpl.compiled.Render(lookup)
	if err != nil {
		return reject(herald.RecipientFailed, "RENDER", err.Error())
	}
	if field := tpl.compiled.Mismatch(msg); field != "" {
		return reject(herald.RecipientFailed, "MISMATCH", fmt.Sprintf("rendered %s does not match the approved template", field))
	}
	out := rendered{msg: msg, dest: herald.Destination{To: m.Phone, MessageID: r.MessageID, Text: msg.Text}}
	if d.providerRenders() {
		out.dest.ReplaceWords = make(map[string]string, len(tpl.vars))
		for _, name := range tpl.vars {
			out.dest.ReplaceWords[name], _ = lookup(name)
		}
	}
	if d.cfg.FallbackFrom != "" {
		if fb, err := template.FallbackFor(msg.Text, msg.Title); err == nil {
			out.dest.FallbackKind, out.dest.FallbackText, out.dest.FallbackFrom = fb.Kind, fb.Text, d.cfg.FallbackFrom
		} else {
			d.metrics.noFallback.Inc()
		}
	}
	return out, nil
}

type rendered struct {
	msg  template.Message
	dest herald.Destination
}

// appendDestination adds a destination to the last job when it shares its
// title and buttons and has room, else starts a new job.
func (d *Dispatcher) appendDestination(jobs []*job, tpl *campaignTemplate, run *campaignRun, r herald.Recipient, x rendered) []*job {
	if n := len(jobs); n > 0 {
		last := jobs[n-1]
		if len(last.rows) < d.cfg.BatchSize && last.batch.Title == x.msg.Title && reflect.DeepEqual(last.batch.Buttons, x.msg.Buttons) {
			last.rows = append(last.rows, r)
			last.batch.Destinations = append(last.batch.Destinations, x.dest)
			return jobs
		}
	}
	return append(jobs, &job{
		run:  run,
		rows: []herald.Recipient{r},
		batch: herald.SendBatch{
			SenderKey: d.senderKey(tpl), TemplateCode: tpl.raw.Code, Title: x.msg.Title, Buttons: x.msg.Buttons,
			Ref: fmt.Sprintf("c%d", r.CampaignID), IdempotencyTTL: d.cfg.IdempotencyTTL,
			ProviderRenders: d.providerRenders(), Destinations: []herald.Destination{x.dest},
		},
	})
}

// markBatches names each request and writes the names before sending. The
// key carries the attempt, so a provably refused request is never confused
// with its retry, while an in-doubt one is resent under the same key.
func (d *Dispatcher) markBatches(ctx context.Context, jobs []*job) []*job {
	if len(jobs) == 0 {
		return nil
	}
	keys := map[int64]string{}
	now := d.cfg.Now()
	for _, j := range jobs {
		first := j.rows[0]
		j.batch.IdempotencyKey = fmt.Sprintf("%s.a%d", first.MessageID, first.Attempts)
		if len(j.rows) > 1 {
			j.batch.IdempotencyKey += fmt.Sprintf(".n%d", len(j.rows))
		}
		j.sentAt = now
		for _, r := range j.rows {
			keys[r.ID] = j.batch.IdempotencyKey
		}
	}
	if err := d.store.MarkBatches(ctx, d.cfg.Owner, keys, now); err != nil {
		d.logErr(ctx, "mark batches", err)
		d.release(jobs)
		return nil
	}
	return jobs
}

// providerRenders says whether requests carry the template's variables
// (sendType "template") rather than one text each: with batches of several
// recipients, personalised texts could not otherwise share a request. The
// fallback leg needs a text per request, so it turns this off.
func (d *Dispatcher) providerRenders() bool {
	return d.cfg.BatchSize > 1 && d.cfg.FallbackFrom == ""
}

func (d *Dispatcher) senderKey(tpl *campaignTemplate) string {
	if d.cfg.SenderKey != "" {
		return d.cfg.SenderKey
	}
	return tpl.raw.SenderKey
}

// campaignTemplate is a campaign's template, compiled once.
type campaignTemplate struct {
	raw       herald.Template
	compiled  *template.Compiled
	vars      []string
	variables map[string]string
}

// templateCache compiles each campaign's template once per process.
type templateCache struct {
	store herald.Store
	mu    sync.Mutex
	byID  map[int64]*campaignTemplate
}

func (c *templateCache) get(ctx context.Context, campaignID int64) (*campaignTemplate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.byID[campaignID]; ok {
		return t, nil
	}
	camp, err := c.store.GetCampaign(ctx, campaignID)
	if err != nil {
		return nil, err
	}
	raw, err := c.store.GetTemplate(ctx, camp.TemplateCode)
	if err != nil {
		return nil, err
	}
	compiled, err := template.Compile(raw)
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", raw.Code, err)
	}
	t := &campaignTemplate{raw: raw, compiled: compiled, vars: compiled.Vars(), variables: camp.Variables}
	c.byID[campaignID] = t
	return t, nil
}
