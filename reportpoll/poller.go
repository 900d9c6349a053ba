// Package reportpoll takes delivery reports by polling, for a Bizgo API key
// set to POLLING instead of WEBHOOK (docs/PROVIDER.md §5): it fetches a
// batch (at most 1,000 reports), hands every report to the same group
// commit as the webhook, and acknowledges the batch only once all of it is
// durable. A crash between the commit and the acknowledgement makes the
// provider hand the batch out again: a harmless duplicate, never a loss.
//
// One process polls at a time (a lease in the database, the same
// leadership rows as the sender keys under a key of its own). The provider
// allows 5 requests per second for inquiry, polling, ack and templates
// together: the Source keeps that limit (an *infobank.Client whose
// Config.APILimiter is shared by every client of the process).
package reportpoll

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/infobank"
)

// LeaseKey is the leadership key of the poller. Sender keys are Kakao
// profile keys (hex), so a key starting with "~" never collides with one.
const LeaseKey = "~report-polling"

// Defaults for Config.
const (
	DefaultLeaseTTL    = 10 * time.Second
	DefaultIdle        = time.Second
	DefaultBackoffMin  = time.Second
	DefaultBackoffMax  = 30 * time.Second
	DefaultBatchWait   = 30 * time.Second
	DefaultSubmitRetry = 50 * time.Millisecond
)

// submitAttempts is how often one report is handed over before its batch
// is given up (and left unacknowledged).
const submitAttempts = 5

// Submitter is the group commit: Submit returns nil only once the report is
// durable. (*ingest.Ingest).Submit implements it.
type Submitter interface {
	Submit(ctx context.Context, r herald.Report) error
}

// Source is the provider's polling API; *infobank.Client implements it.
type Source interface {
	Poll(ctx context.Context) (infobank.Polled, error)
	Ack(ctx context.Context, reportID string) error
}

// LeaseStore is the part of herald.Store the poller's lease needs.
type LeaseStore interface {
	Heartbeat(ctx context.Context, owner string, now time.Time) error
	LeadSenderKey(ctx context.Context, senderKey, owner string, deadBefore time.Time) (string, error)
	ResignSenderKey(ctx context.Context, senderKey, owner string) error
}

// Config tunes the poller; zero fields take the defaults.
type Config struct {
	// Owner names this process in the lease; unique per process.
	Owner string
	// LeaseTTL is how long a silent poller keeps the lease; it heartbeats
	// every LeaseTTL/5.
	LeaseTTL time.Duration
	// Idle is the wait after an empty batch.
	Idle time.Duration
	// BackoffMin and BackoffMax bound the wait after a failed call,
	// doubling from the first to the second, with jitter.
	BackoffMin, BackoffMax time.Duration
	// BatchWait bounds how long one batch may take to become durable
	// before the poller gives up on it (unacknowledged: it comes back).
	BatchWait time.Duration
	// SubmitRetry is the wait before a report refused for a full queue is
	// submitted again.
	SubmitRetry time.Duration
	// Now is the clock.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.LeaseTTL, DefaultLeaseTTL)
	def(&c.Idle, DefaultIdle)
	def(&c.BackoffMin, DefaultBackoffMin)
	def(&c.BackoffMax, DefaultBackoffMax)
	def(&c.BatchWait, DefaultBatchWait)
	def(&c.SubmitRetry, DefaultSubmitRetry)
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Poller polls reports until its Run's context ends.
type Poller struct {
	cfg     Config
	src     Source
	sub     Submitter
	leases  LeaseStore
	log     *slog.Logger
	metrics *metrics
	leading bool
}

// New checks the configuration and registers the metrics on reg (nil: a
// private registry).
func New(cfg Config, src Source, sub Submitter, leases LeaseStore, log *slog.Logger, reg prometheus.Registerer) (*Poller, error) {
	switch {
	case cfg.Owner == "":
		return nil, herald.Invalid("owner", "is required")
	case src == nil || sub == nil || leases == nil:
		return nil, herald.Invalid("poller", "needs a source, a submitter and a lease store")
	case cfg.LeaseTTL < 0 || cfg.Idle < 0 || cfg.BackoffMin < 0 || cfg.BackoffMax < cfg.BackoffMin:
		return nil, herald.Invalid("poller", "durations must not be negative, and BackoffMax not below BackoffMin")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("report poller metrics: %w", err)
	}
	return &Poller{cfg: cfg.withDefaults(), src: src, sub: sub, leases: leases,
		log: log.With("component", "reportpoll"), metrics: m}, nil
}

// Run polls while this process holds the lease, and stands by otherwise,
// until ctx ends; then it gives the lease up so that a standby takes over
// at once. It returns ctx's error.
func (p *Poller) Run(ctx context.Context) error {
	hbCtx, stopHB := context.WithCancel(ctx)
	var wg sync.WaitGroup
	p.heartbeat(hbCtx) // before the first claim: the lease needs a live owner
	wg.Go(func() { p.heartbeatLoop(hbCtx) })
	defer func() {
		stopHB()
		wg.Wait()
		p.resign()
	}()
	failures := 0
	for ctx.Err() == nil {
		if !p.lead(ctx) {
			sleep(ctx, p.cfg.LeaseTTL/5)
			continue
		}
		n, err := p.once(ctx)
		switch {
		case ctx.Err() != nil:
		case err != nil:
			failures++
			p.logFailure(err, failures)
			sleep(ctx, p.backoff(failures, err))
		case n == 0:
			failures = 0
			sleep(ctx, p.cfg.Idle)
		default:
			failures = 0 // more may be waiting: poll again at once
		}
	}
	return ctx.Err()
}

// once polls one batch, makes it durable and acknowledges it; it returns
// the number of reports in the batch.
func (p *Poller) once(ctx context.Context) (int, error) {
	b, err := p.src.Poll(ctx)
	p.metrics.calls.WithLabelValues("poll", outcome(err)).Inc()
	if err != nil {
		return 0, err
	}
	if b.Invalid > 0 {
		p.metrics.invalid.Add(float64(b.Invalid))
		p.log.Warn("polled reports that cannot be read were left out", "report_id", b.ReportID, "invalid", b.Invalid)
	}
	if b.ReportID == "" {
		return 0, nil
	}
	if err := p.submitAll(ctx, b.Reports); err != nil {
		return 0, fmt.Errorf("batch %s not stored, not acknowledged: %w", b.ReportID, err)
	}
	err = p.src.Ack(ctx, b.ReportID)
	p.metrics.calls.WithLabelValues("ack", outcome(err)).Inc()
	if infobank.ErrorCode(err) == infobank.CodeBadReportID {
		// Acknowledged already (by a poller that lost the lease meanwhile)
		// or expired: the reports are stored; if it comes back, the copy
		// changes nothing.
		p.log.Warn("the provider did not know the batch acknowledged", "report_id", b.ReportID, "err", err)
		err = nil
	}
	if err != nil {
		return 0, err
	}
	p.metrics.batches.Inc()
	p.metrics.reports.Add(float64(len(b.Reports)))
	return len(b.Reports) + b.Invalid, nil
}

// submitAll hands every report to the group commit at once (they share a
// few transactions) and waits until each is durable. A report refused as
// invalid is counted and dropped: no store can keep it, and holding the
// batch back would block every later report.
func (p *Poller) submitAll(ctx context.Context, reports []herald.Report) error {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.BatchWait)
	defer cancel()
	errs := make([]error, len(reports))
	var wg sync.WaitGroup
	for i := range reports {
		wg.Go(func() { errs[i] = p.submit(ctx, reports[i]) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// submit hands one report over until it is durable or refused as invalid,
// trying a few times (a full queue, a failed transaction) before it gives
// up on the report, and so on its batch, which then comes back later.
func (p *Poller) submit(ctx context.Context, r herald.Report) error {
	wait := p.cfg.SubmitRetry
	for attempt := 1; ; attempt++ {
		err := p.sub.Submit(ctx, r)
		var inv *herald.InvalidError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &inv):
			p.metrics.invalid.Inc()
			p.log.Warn("polled report refused", "msg_key", r.MsgKey, "field", inv.Field, "reason", inv.Message)
			return nil
		case ctx.Err() != nil || attempt == submitAttempts:
			return err
		}
		if !sleep(ctx, wait) {
			return err
		}
		wait *= 2
	}
}

// lead claims or renews the lease; false means another process polls.
func (p *Poller) lead(ctx context.Context) bool {
	leader, err := p.leases.LeadSenderKey(ctx, LeaseKey, p.cfg.Owner, p.cfg.Now().Add(-p.cfg.LeaseTTL))
	leads := err == nil && leader == p.cfg.Owner
	if err != nil && ctx.Err() == nil {
		p.log.Warn("report polling lease", "err", err)
	}
	if leads != p.leading {
		p.log.Info("report polling leadership changed", "leads", leads, "leader", leader)
		p.leading = leads
	}
	p.metrics.leader.Set(map[bool]float64{true: 1}[leads])
	return leads
}

func (p *Poller) heartbeatLoop(ctx context.Context) {
	for sleep(ctx, p.cfg.LeaseTTL/5) {
		p.heartbeat(ctx)
	}
}

func (p *Poller) heartbeat(ctx context.Context) {
	if err := p.leases.Heartbeat(ctx, p.cfg.Owner, p.cfg.Now()); err != nil && ctx.Err() == nil {
		p.log.Warn("report poller heartbeat", "err", err)
	}
}

func (p *Poller) resign() {
	p.metrics.leader.Set(0)
	if !p.leading {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.leases.ResignSenderKey(ctx, LeaseKey, p.cfg.Owner); err != nil {
		p.log.Warn("resign report polling", "err", err)
	}
	p.leading = false
}

// backoff is the wait after the n-th failure in a row: exponential with
// jitter, the longest at once when the key is not set to polling (an
// operator must change it at the provider).
func (p *Poller) backoff(n int, err error) time.Duration {
	if infobank.ErrorCode(err) == infobank.CodeNoPolling {
		return p.cfg.BackoffMax
	}
	d := p.cfg.BackoffMin << min(n-1, 16)
	if d > p.cfg.BackoffMax || d <= 0 {
		d = p.cfg.BackoffMax
	}
	return d/2 + rand.N(d/2+1)
}

func (p *Poller) logFailure(err error, n int) {
	if infobank.ErrorCode(err) == infobank.CodeNoPolling {
		p.log.Error("the provider refuses polling for this API key (A801): it is set to WEBHOOK; "+
			"ask Infobank to set it to POLLING, or run serve with --reports webhook", "err", err)
		return
	}
	if n == 1 || n%10 == 0 {
		p.log.Warn("report polling failed; backing off", "failures", n, "err", err)
	}
}

func outcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case infobank.RateLimited(err):
		return "rate_limited"
	}
	return "error"
}

// sleep waits d or until ctx ends; false when ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
