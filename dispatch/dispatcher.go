package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/clock"
	"github.com/heraldhq/herald/pace"
)

// Dispatcher runs the scheduler, one runner per running campaign, a bounded
// pool of send workers, the result recorder, the heartbeat that keeps this
// process's claims its own, and the recovery of rows whose owner died.
// Start it once; Stop drains it.
type Dispatcher struct {
	cfg      Config
	store    herald.Store
	provider herald.Provider
	log      *slog.Logger
	metrics  *metrics
	lease    *lease

	rec        *recorder
	slots      chan struct{}          // one per request in flight (Workers)
	runs       map[int64]*campaignRun // owned by the supervisor goroutine
	retryAt    map[int64]time.Time    // campaigns whose start failed for a transient reason
	leading    map[string]bool        // sender keys this process leads; owned by the supervisor
	limMu      sync.Mutex
	globals    map[string]Pacer
	gates      map[string]*gate // one per sender key, in front of its pacer
	tplCache   *templateCache
	relMu      sync.Mutex
	unreleased []herald.Claim // claims whose release failed, retried at every heartbeat

	cancel     context.CancelFunc // stops claiming, scheduling, recovery
	sendCtx    context.Context    // in-flight provider requests
	sendCancel context.CancelFunc
	loops      sync.WaitGroup
	workers    sync.WaitGroup
	startOnce  sync.Once
	stopOnce   sync.Once
}

// New builds a dispatcher; reg may be nil.
func New(cfg Config, store herald.Store, provider herald.Provider, log *slog.Logger, reg prometheus.Registerer) (*Dispatcher, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	d := &Dispatcher{
		cfg: cfg, store: store, provider: provider, log: log.With("component", "dispatch"), metrics: m,
		slots: make(chan struct{}, cfg.Workers), runs: map[int64]*campaignRun{}, retryAt: map[int64]time.Time{},
		leading: map[string]bool{}, globals: map[string]Pacer{}, gates: map[string]*gate{}, tplCache: &templateCache{store: store, byID: map[int64]*campaignTemplate{}},
		lease: newLease(cfg.LeaseTTL),
	}
	d.rec = newRecorder(store, cfg.FlushSize, cfg.FlushInterval, d.log)
	d.rec.onFlush = func(n int) { m.recorded.Add(float64(n)) }
	return d, nil
}

// Start launches the background work; it returns at once. Nothing is
// claimed before the first heartbeat is written.
func (d *Dispatcher) Start(ctx context.Context) {
	d.startOnce.Do(func() {
		ctx, d.cancel = context.WithCancel(context.WithoutCancel(ctx))
		d.sendCtx, d.sendCancel = context.WithCancel(context.Background())
		go d.rec.run()
		d.loops.Add(4)
		go d.heartbeatLoop(ctx)
		go d.supervise(ctx)
		go d.recoverLoop(ctx)
		go d.inquireLoop(ctx)
	})
}

// Stop stops claiming, lets in-flight sends finish until ctx ends (then
// cancels them: they become in doubt and are settled under the same key),
// flushes the results and releases rows claimed but never sent.
func (d *Dispatcher) Stop(ctx context.Context) error {
	var err error
	d.stopOnce.Do(func() {
		if d.cancel == nil {
			return
		}
		d.cancel()
		d.loops.Wait() // runners have released what they had not handed out
		d.retryReleases()
		drained := make(chan struct{})
		go func() { d.workers.Wait(); close(drained) }()
		select {
		case <-drained:
		case <-ctx.Done():
			err = fmt.Errorf("drain in-flight sends: %w", ctx.Err())
			d.sendCancel()
			<-drained
		}
		d.sendCancel()
		d.rec.close()
	})
	return err
}

// supervise prepares due campaigns and keeps one runner per running one.
func (d *Dispatcher) supervise(ctx context.Context) {
	defer d.loops.Done()
	var runners sync.WaitGroup
	defer runners.Wait()
	if !d.lease.wait(ctx) {
		return
	}
	defer d.resignAll()
	tick := time.NewTicker(d.cfg.PollInterval)
	defer tick.Stop()
	for {
		d.schedule(ctx)
		d.reconcile(ctx, &runners)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// schedule prepares every due campaign. The lease makes sure only one
// process prepares a campaign; preparation is one INSERT…SELECT.
func (d *Dispatcher) schedule(ctx context.Context) {
	for ctx.Err() == nil {
		now := d.cfg.Now()
		c, err := d.store.AcquireCampaignLease(ctx, d.cfg.Owner, now, d.cfg.LeaseTTL)
		if errors.Is(err, herald.ErrNotFound) {
			return
		}
		if err != nil {
			d.logErr(ctx, "acquire campaign lease", err)
			return
		}
		n, err := d.store.PrepareRecipients(ctx, c.ID, d.cfg.Owner, now)
		if err != nil {
			d.logErr(ctx, "prepare recipients", err, "campaign", c.ID)
			return
		}
		d.log.Info("campaign prepared", "campaign", c.ID, "recipients", n)
	}
}

// reconcile starts runners for running campaigns whose sender key this
// process may send for, passes TPS edits on, and stops runners whose
// campaign was paused, cancelled or finished, or whose sender key another
// process now leads.
func (d *Dispatcher) reconcile(ctx context.Context, runners *sync.WaitGroup) {
	running, err := d.store.RunningCampaigns(ctx)
	if err != nil {
		d.logErr(ctx, "list running campaigns", err)
		return
	}
	keep := make(map[int64]bool, len(running))
	leads := d.leadership(ctx)
	tps := make(map[int64]int, len(running))
	for _, c := range running {
		tps[c.ID] = c.TPS
		if run, ok := d.runs[c.ID]; ok {
			keep[c.ID] = leads(run.key)
			continue
		}
		if at, wait := d.retryAt[c.ID]; wait && d.cfg.Now().Before(at) {
			keep[c.ID] = true
			continue
		}
		tpl, err := d.tplCache.get(ctx, c.ID)
		if err != nil {
			keep[c.ID] = true
			d.startFailed(ctx, c, err)
			continue
		}
		if !leads(d.senderKey(tpl)) {
			continue
		}
		keep[c.ID] = true
		delete(d.retryAt, c.ID)
		run := d.newRun(ctx, c, tpl)
		d.runs[c.ID] = run
		runners.Add(1)
		go func() { defer runners.Done(); d.runCampaign(run) }()
	}
	for id, run := range d.runs {
		select {
		case <-run.done:
			delete(d.runs, id)
			continue
		default:
		}
		if !keep[id] {
			run.stop()
		}
	}
	d.share(tps)
	for id := range d.retryAt {
		if !keep[id] {
			delete(d.retryAt, id)
		}
	}
}

// share sets each running campaign's limiter to its TPS (edits apply
// live), or to its weighted share of its sender key when the campaigns of
// the key ask for more than the key's limit (fairShares).
func (d *Dispatcher) share(tps map[int64]int) {
	byKey := map[string]map[int64]int{}
	for id, run := range d.runs {
		t, ok := tps[id]
		if !ok {
			continue
		}
		run.tps.Store(int64(t))
		if run.campaign.Kind == herald.KindMessages {
			run.limiter.SetLimit(t, d.cfg.Headroom)
			continue
		}
		if byKey[run.key] == nil {
			byKey[run.key] = map[int64]int{}
		}
		byKey[run.key][id] = t
	}
	for _, campaigns := range byKey {
		for id, limit := range fairShares(d.cfg.GlobalTPS, campaigns) {
			d.runs[id].limiter.SetLimit(limit, d.cfg.Headroom)
		}
	}
}

// startFailed handles a campaign that could not start. A template that is
// gone or no longer compiles fails the campaign for good, with the reason
// stored and its unsent rows settled; anything else (the database blinked)
// is retried with a backoff.
func (d *Dispatcher) startFailed(ctx context.Context, c herald.Campaign, cause error) {
	if ctx.Err() != nil {
		return
	}
	var invalid *herald.InvalidError
	if !errors.Is(cause, herald.ErrNotFound) && !errors.As(cause, &invalid) {
		wait := min(d.cfg.RetryMax, 5*time.Second)
		d.retryAt[c.ID] = d.cfg.Now().Add(wait)
		d.log.Warn("campaign cannot start yet; retrying", "campaign", c.ID, "in", wait, "err", cause)
		return
	}
	d.halt(ctx, c.ID, herald.CampaignFailed, "cannot start: "+cause.Error())
}

// halt pauses or fails a campaign with the reason, once: it is stored,
// shown by the API and the CLI, counted, and logged in one line.
func (d *Dispatcher) halt(ctx context.Context, id int64, to herald.CampaignState, reason string) {
	if _, err := d.store.HaltCampaign(ctx, id, to, reason, d.cfg.Now()); err != nil {
		if !errors.Is(err, herald.ErrConflict) { // an operator moved it first
			d.logErr(ctx, "halt campaign", err, "campaign", id, "to", to)
		}
		return
	}
	d.metrics.halt(to, reason)
	d.log.Error("campaign halted", "campaign", id, "state", to, "reason", reason)
}

// gate is the sender key's gate in front of its limiter (see gate), nil
// when the key has no limiter of its own.
func (d *Dispatcher) gate(senderKey string) *gate {
	p := d.global(senderKey)
	if p == nil {
		return nil
	}
	d.limMu.Lock()
	defer d.limMu.Unlock()
	g, ok := d.gates[senderKey]
	if !ok || g.pacer != p {
		g = newGate(p, CampaignFloor)
		d.gates[senderKey] = g
	}
	return g
}

// global is the limiter shared by every campaign of one sender key: the
// shared one (Redis) when configured, else a local one, made anew whenever
// this process takes the lead of the key (see leadership).
func (d *Dispatcher) global(senderKey string) Pacer {
	d.limMu.Lock()
	defer d.limMu.Unlock()
	if l, ok := d.globals[senderKey]; ok {
		return l
	}
	var l Pacer
	switch {
	case d.cfg.SenderPacer != nil:
		l = d.cfg.SenderPacer(senderKey)
	case d.cfg.GlobalTPS > 0:
		local := pace.New(d.cfg.GlobalTPS, d.cfg.BatchSize, d.cfg.Headroom)
		local.OnChange = d.logRate("sender_key_limit", "")
		l = local
	default:
		return nil
	}
	d.globals[senderKey] = l
	return l
}

func (d *Dispatcher) logRate(scope string, campaign any) func(old, new float64, reason string) {
	return func(old, new float64, reason string) {
		d.log.Warn("send rate changed", "scope", scope, "campaign", campaign,
			"from", fmt.Sprintf("%.1f", old), "to", fmt.Sprintf("%.1f", new), "reason", reason)
	}
}

func (d *Dispatcher) logErr(ctx context.Context, msg string, err error, args ...any) {
	if ctx.Err() != nil {
		return // shutting down: the error is the cancellation
	}
	d.log.Error(msg, append(args, "err", err)...)
}

// sleep waits for d or the context.
func sleep(ctx context.Context, d time.Duration) bool { return clock.Sleep(ctx, d) }
