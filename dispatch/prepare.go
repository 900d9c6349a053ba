package dispatch

import (
	"context"
	"fmt"
	"reflect"
	"runtime/debug"
	"sync"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/template"
)

// prepare turns claimed rows into requests. Rows without a key are new
// sends: re-checked, rendered, grouped and frozen (MarkBatches) before
// anything leaves. Rows with a key may have been taken already: they go out
// again only as their frozen request, byte for byte. A panic settles the
// claim instead of killing the process (and the rows do not panic again
// after a restart): FAILED when nothing of it was sent, UNKNOWN when it
// may have been.
func (d *Dispatcher) prepare(ctx context.Context, run *campaignRun, rows []herald.Recipient) (jobs []*job) {
	defer func() {
		if p := recover(); p != nil {
			d.log.Error("panic while preparing a claim", "campaign", run.campaign.ID, "rows", len(rows), "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			d.metrics.panics.WithLabelValues("prepare").Inc()
			for _, r := range rows {
				d.rec.add(d.settle(r, panicState(r), "PANIC", fmt.Sprintf("panic while preparing the send: %v", p)))
			}
			jobs = nil
		}
	}()
	var fresh, frozen []herald.Recipient
	for _, r := range rows {
		if r.BatchKey != "" {
			frozen = append(frozen, r)
		} else {
			fresh = append(fresh, r)
		}
	}
	return append(d.resendJobs(ctx, run, frozen), d.freshJobs(ctx, run, fresh)...)
}

// panicState is where a row goes after a panic before its send: FAILED if
// nothing was ever sent for it, UNKNOWN if an earlier send may have been
// taken.
func panicState(r herald.Recipient) herald.RecipientState {
	if r.BatchKey != "" {
		return herald.RecipientUnknown
	}
	return herald.RecipientFailed
}

// settle is the update that ends a claimed row without sending it.
func (d *Dispatcher) settle(r herald.Recipient, state herald.RecipientState, code, text string) herald.RecipientUpdate {
	if state == herald.RecipientUnknown {
		d.metrics.unknown.Inc()
	}
	return herald.RecipientUpdate{ID: r.ID, Owner: d.cfg.Owner, Token: r.ClaimToken, State: state, ResultCode: code, ResultText: text, At: d.cfg.Now()}
}

// resendJobs loads the frozen request of each in-doubt row and makes one
// job per request. A request past its key's lifetime, or one that was never
// frozen, is not sent: the row becomes UNKNOWN with the reason.
func (d *Dispatcher) resendJobs(ctx context.Context, run *campaignRun, rows []herald.Recipient) []*job {
	if len(rows) == 0 {
		return nil
	}
	byKey := map[string][]herald.Recipient{}
	var keys []string
	for _, r := range rows {
		if byKey[r.BatchKey] == nil {
			keys = append(keys, r.BatchKey)
		}
		byKey[r.BatchKey] = append(byKey[r.BatchKey], r)
	}
	reqs, err := d.store.Requests(ctx, keys)
	if err != nil {
		d.logErr(ctx, "load frozen requests", err, "campaign", run.campaign.ID)
		d.releaseRows(rows)
		return nil
	}
	now := d.cfg.Now()
	var jobs []*job
	for _, key := range keys {
		held := byKey[key]
		batch, ok := reqs[key]
		switch {
		case !ok:
			d.settleAll(held, "REQUEST_CHANGED", "the request that may have been sent was not stored; not resent under another form")
		case now.Sub(held[0].SentAt) > d.cfg.IdempotencyTTL-time.Hour:
			d.settleAll(held, herald.CodeInDoubt, "in doubt and the idempotency key has lapsed; not resent")
		case held[0].Resends > d.cfg.InDoubtResends:
			d.settleAll(held, herald.CodeInDoubt, fmt.Sprintf("still in doubt after %d resends under the same key: %s %s", d.cfg.InDoubtResends, held[0].ResultCode, held[0].ResultText))
		default:
			d.metrics.resends.Inc()
			jobs = append(jobs, &job{run: run, rows: held, batch: batch})
		}
	}
	return jobs
}

func (d *Dispatcher) settleAll(rows []herald.Recipient, code, text string) {
	for _, r := range rows {
		d.rec.add(d.settle(r, herald.RecipientUnknown, code, text))
	}
}

func (d *Dispatcher) releaseRows(rows []herald.Recipient) {
	d.release([]*job{{rows: rows}})
}

// freshJobs re-checks each claimed member, renders and validates the text,
// records the rows that must not be sent, groups the rest into requests and
// freezes each request with its key before anything leaves.
func (d *Dispatcher) freshJobs(ctx context.Context, run *campaignRun, rows []herald.Recipient) []*job {
	if len(rows) == 0 {
		return nil
	}
	sources, err := d.sources(ctx, run, rows)
	if err != nil {
		d.logErr(ctx, "load members", err)
		d.releaseRows(rows)
		return nil
	}
	var jobs []*job
	for _, r := range rows {
		dest, reject := d.destination(run.tpl, r, sources[r.ID])
		if reject != nil {
			d.metrics.rejected.WithLabelValues(string(reject.State)).Inc()
			d.rec.add(*reject)
			continue
		}
		jobs = d.appendDestination(jobs, run, r, dest)
	}
	return d.freeze(ctx, jobs)
}

// source is what one row's message is made from: the member as of now
// and the variables (the campaign's constants, or a one-off message's own).
type source struct {
	member herald.Member
	found  bool
	vars   map[string]string
}

// sources reads, in a query or two, what every row is rendered from. A
// campaign's rows are its members; a one-off message's row is its message:
// a member (read now, like a campaign's) or just a phone number.
func (d *Dispatcher) sources(ctx context.Context, run *campaignRun, rows []herald.Recipient) (map[int64]source, error) {
	out := make(map[int64]source, len(rows))
	if run.campaign.Kind != herald.KindMessages {
		members, err := d.members(ctx, rows)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			m, ok := members[r.MemberID]
			out[r.ID] = source{member: m, found: ok, vars: run.tpl.variables}
		}
		return out, nil
	}
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	msgs, err := d.store.MessagesOf(ctx, ids)
	if err != nil {
		return nil, err
	}
	var memberIDs []string
	for _, m := range msgs {
		if m.MemberID != "" {
			memberIDs = append(memberIDs, m.MemberID)
		}
	}
	var members map[string]herald.Member
	if len(memberIDs) > 0 {
		if members, err = d.store.GetMembers(ctx, memberIDs); err != nil {
			return nil, err
		}
	}
	for _, r := range rows {
		msg, ok := msgs[r.ID]
		switch {
		case !ok:
			out[r.ID] = source{}
		case msg.MemberID != "":
			m, found := members[msg.MemberID]
			out[r.ID] = source{member: m, found: found, vars: msg.Variables}
		default:
			out[r.ID] = source{member: herald.Member{Phone: msg.Phone, Status: herald.MemberActive}, found: true, vars: msg.Variables}
		}
	}
	return out, nil
}

// members loads the current member of every row with one query.
func (d *Dispatcher) members(ctx context.Context, rows []herald.Recipient) (map[string]herald.Member, error) {
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.MemberID
	}
	return d.store.GetMembers(ctx, ids)
}

// destination renders one recipient's message, or says why it is not
// sent: the same path a campaign review takes (template.Destination).
func (d *Dispatcher) destination(tpl *campaignTemplate, r herald.Recipient, src source) (rendered, *herald.RecipientUpdate) {
	if !src.found {
		u := d.settle(r, herald.RecipientSkipped, "MEMBER_GONE", "member no longer exists")
		return rendered{}, &u
	}
	out, reject := tpl.compiled.Destination(src.member, src.vars, r.MessageID, d.sendOptions())
	if reject != nil {
		u := d.settle(r, reject.State, reject.Code, reject.Text)
		return rendered{}, &u
	}
	if out.NoFallback {
		d.metrics.noFallback.Inc()
	}
	return rendered{msg: out.Message, dest: out.Destination}, nil
}

// sendOptions are the settings every destination is made with.
func (d *Dispatcher) sendOptions() template.SendOptions {
	return template.SendOptionsFor(d.cfg.BatchSize, d.cfg.FallbackFrom)
}

type rendered struct {
	msg  template.Message
	dest herald.Destination
}

// appendDestination adds a destination to the last job when it shares its
// title and buttons and has room, else starts a new job.
func (d *Dispatcher) appendDestination(jobs []*job, run *campaignRun, r herald.Recipient, x rendered) []*job {
	if n := len(jobs); n > 0 {
		last := jobs[n-1]
		if len(last.rows) < d.batchSize(run) && last.batch.Title == x.msg.Title && reflect.DeepEqual(last.batch.Buttons, x.msg.Buttons) {
			last.rows = append(last.rows, r)
			last.batch.Destinations = append(last.batch.Destinations, x.dest)
			return jobs
		}
	}
	return append(jobs, &job{
		run:   run,
		fresh: true,
		rows:  []herald.Recipient{r},
		batch: herald.SendBatch{
			SenderKey: d.senderKey(run.tpl), TemplateCode: run.tpl.raw.Code, Title: x.msg.Title, Buttons: x.msg.Buttons,
			Ref: fmt.Sprintf("c%d", r.CampaignID), IdempotencyTTL: d.cfg.IdempotencyTTL,
			ProviderRenders: d.providerRenders(), Destinations: []herald.Destination{x.dest},
		},
	})
}

// batchSize is the most recipients a new request of the run carries: the
// configured batch size, but never more than the campaign's or the sender
// key's rate, so that a request always fits in one second of either.
func (d *Dispatcher) batchSize(run *campaignRun) int {
	n := min(d.cfg.BatchSize, run.limiter.Limit())
	if d.cfg.GlobalTPS > 0 {
		n = min(n, d.cfg.GlobalTPS)
	}
	return n
}

// freeze names each request and stores it, exactly as it will leave,
// before anything is sent. The key carries the message id (namespaced by
// the database's instance id) and the attempt, so a provably refused
// request is never confused with its retry, while an in-doubt one is only
// ever resent as itself.
func (d *Dispatcher) freeze(ctx context.Context, jobs []*job) []*job {
	if len(jobs) == 0 {
		return nil
	}
	now := d.cfg.Now()
	reqs := make([]herald.SentRequest, len(jobs))
	for i, j := range jobs {
		first := j.rows[0]
		j.batch.IdempotencyKey = fmt.Sprintf("%s.a%d", first.MessageID, first.Attempts)
		if len(j.rows) > 1 {
			j.batch.IdempotencyKey += fmt.Sprintf(".n%d", len(j.rows))
		}
		reqs[i] = herald.SentRequest{Batch: j.batch, Claims: j.claims(), At: now}
	}
	if err := d.store.MarkBatches(ctx, d.cfg.Owner, reqs); err != nil {
		d.logErr(ctx, "freeze requests", err)
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
	return d.sendOptions().ProviderRenders
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
	t := &campaignTemplate{raw: raw, compiled: compiled, variables: camp.Variables}
	c.byID[campaignID] = t
	return t, nil
}
