// Package ingest takes the provider's delivery reports — from the webhook
// (http.Server.HandleReports) or from a poller — through one call,
// Submit, puts them on bounded queues and writes them with group commit:
// one Store.ApplyReports transaction per batch, Submit returning only once
// its report is durable. Each report goes to a committer chosen by a hash
// of its msgKey, so that copies of a report meet in one place: copies in a
// batch and copies of a recently stored report never reach the database.
// A full queue refuses at once (herald.ErrBusy) instead of growing memory;
// with a spool directory, batches the database cannot take in time are
// kept in a local write-ahead file and replayed later (spool.go).
package ingest

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	herald "github.com/heraldhq/herald"
)

// Defaults for Config.
const (
	DefaultBatchSize     = 500
	DefaultFlushInterval = 2 * time.Millisecond
	DefaultQueueSize     = 10_000
	DefaultQueueBytes    = 64 << 20
	DefaultCommitters    = 1
	DefaultWaitTimeout   = 4 * time.Second
	DefaultSweepInterval = 200 * time.Millisecond
	DefaultSweepLimit    = 200
	DefaultRecentKeys    = 65_536
	DefaultSpoolMaxBytes = 1 << 30
	DefaultSpoolAfter    = time.Second
)

// MaxBodyBytes bounds a report's raw body; one report is a few hundred bytes.
const MaxBodyBytes = 64 << 10

// Limits that Config.Validate enforces.
const (
	// MaxWaitTimeout stays under the provider's 5-second answer deadline:
	// an answer after it counts as lost anyway.
	MaxWaitTimeout = 5 * time.Second
	MaxCommitters  = 16
	MaxBatchSize   = 10_000
)

// commitTimeout bounds one ApplyReports call, so that a hung connection
// cannot stall the committer for ever; its requests have long been
// answered 503 by then.
const commitTimeout = 10 * time.Second

// Config tunes the intake; zero values take the defaults.
type Config struct {
	// BatchSize is the most reports one transaction writes.
	BatchSize int
	// FlushInterval is the longest a batch waits to fill after its first
	// report; it stops sooner after a pause of fillGap in arrivals.
	FlushInterval time.Duration
	// QueueSize bounds the reports waiting for a committer; beyond it,
	// requests are answered 429 at once.
	QueueSize int
	// QueueBytes bounds the raw bodies held by queued and committing
	// reports (a report is a few hundred bytes, but a body may be 64 KiB).
	QueueBytes int
	// Committers is the number of batches written at once. One suits
	// SQLite (a single writer); PostgreSQL may gain from two.
	Committers int
	// WaitTimeout is how long Submit waits for its batch to be durable
	// before it gives up with herald.ErrUnavailable (the webhook's 503).
	WaitTimeout time.Duration
	// RecentKeys is how many keys of stored reports are remembered, so that
	// a copy of one is acknowledged without a database round trip.
	// Negative turns the cache off.
	RecentKeys int
	// SpoolDir, when set, is where batches go that the database failed or
	// did not commit within SpoolAfter: they are fsynced there,
	// acknowledged, and replayed in order once the database takes them.
	SpoolDir string
	// SpoolMaxBytes bounds the spool; past it, Submit is refused again.
	SpoolMaxBytes int64
	// SpoolAfter is how long a commit may take before its batch is spooled.
	SpoolAfter time.Duration
	// SweepInterval and SweepLimit pace Store.MatchPendingReports: at most
	// SweepLimit due reports every SweepInterval (1,000 a second by
	// default) when they match nothing. Small sweeps often rather than one
	// large one a second: a stream of reports that match nothing keeps the
	// sweep at its limit, and one sweep of 1,000 took the database for
	// 30-60 ms at once (SQLite: every commit waiting behind it).
	SweepInterval time.Duration
	SweepLimit    int
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// withDefaults fills the zero values.
func (c Config) withDefaults() Config {
	c.BatchSize = orDefault(c.BatchSize, DefaultBatchSize)
	c.FlushInterval = orDefault(c.FlushInterval, DefaultFlushInterval)
	c.QueueSize = orDefault(c.QueueSize, DefaultQueueSize)
	c.QueueBytes = orDefault(c.QueueBytes, DefaultQueueBytes)
	c.Committers = orDefault(c.Committers, DefaultCommitters)
	c.WaitTimeout = orDefault(c.WaitTimeout, DefaultWaitTimeout)
	c.SweepInterval = orDefault(c.SweepInterval, DefaultSweepInterval)
	c.SweepLimit = orDefault(c.SweepLimit, DefaultSweepLimit)
	c.RecentKeys = orDefault(c.RecentKeys, DefaultRecentKeys)
	c.SpoolMaxBytes = orDefault(c.SpoolMaxBytes, DefaultSpoolMaxBytes)
	c.SpoolAfter = orDefault(c.SpoolAfter, DefaultSpoolAfter)
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func orDefault[T int | int64 | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// Validate names the field at fault, after defaults are applied.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.BatchSize < 1 || c.BatchSize > MaxBatchSize:
		return herald.Invalid("batchSize", "must be between 1 and %d, got %d", MaxBatchSize, c.BatchSize)
	case c.FlushInterval < 0 || c.FlushInterval > time.Second:
		return herald.Invalid("flushInterval", "must be between 0 and 1s, got %s", c.FlushInterval)
	case c.QueueSize < c.BatchSize:
		return herald.Invalid("queueSize", "must be at least the batch size (%d), got %d", c.BatchSize, c.QueueSize)
	case c.QueueBytes < MaxBodyBytes:
		return herald.Invalid("queueBytes", "must be at least %d, got %d", MaxBodyBytes, c.QueueBytes)
	case c.Committers < 1 || c.Committers > MaxCommitters:
		return herald.Invalid("committers", "must be between 1 and %d, got %d", MaxCommitters, c.Committers)
	case c.WaitTimeout <= 0 || c.WaitTimeout >= MaxWaitTimeout:
		return herald.Invalid("waitTimeout", "must be positive and under %s, got %s", MaxWaitTimeout, c.WaitTimeout)
	case c.SweepInterval < 0:
		return herald.Invalid("sweepInterval", "must not be negative, got %s", c.SweepInterval)
	case c.SweepLimit < 1:
		return herald.Invalid("sweepLimit", "must be positive, got %d", c.SweepLimit)
	case c.SpoolMaxBytes < 1<<20:
		return herald.Invalid("spoolMaxBytes", "must be at least 1 MiB, got %d", c.SpoolMaxBytes)
	case c.SpoolDir != "" && (c.SpoolAfter < 0 || c.SpoolAfter >= c.WaitTimeout):
		return herald.Invalid("spoolAfter", "must be positive and under the wait timeout (%s), got %s", c.WaitTimeout, c.SpoolAfter)
	}
	return nil
}

// lifecycle states of an Ingest.
const (
	created = iota
	running
	stopped
)

// ReportStore is the part of herald.Store the intake writes to: the group
// commit and the sweep of unmatched reports. Every herald.Store is one.
type ReportStore interface {
	ApplyReports(ctx context.Context, reports []herald.Report, now time.Time) (herald.ReportResult, error)
	MatchPendingReports(ctx context.Context, now time.Time, limit int) (int, error)
}

// Ingest is the report intake: queues, committers, spool and the sweep of
// unmatched reports.
type Ingest struct {
	cfg     Config
	store   ReportStore
	log     *slog.Logger
	metrics *metrics
	queues  []chan *request // one per committer, chosen by route
	seed    maphash.Seed
	bytes   atomic.Int64 // raw body bytes of queued and committing reports
	pool    sync.Pool    // of *request
	spool   *spool       // nil without Config.SpoolDir

	lastPanicLog atomic.Int64 // unix ns of the last commit panic logged
	lastFailure  atomic.Int64 // unix ns of the last failed commit, 0 if none

	mu    sync.RWMutex // guards state against sends on a closed queue
	state int
	quit  chan struct{} // closed by Stop: ends the sweep
	done  chan struct{} // closed when every goroutine has returned
}

// New checks cfg and registers the metrics on reg; Start begins the work.
func New(cfg Config, store ReportStore, logger *slog.Logger, reg prometheus.Registerer) (*Ingest, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if store == nil {
		return nil, herald.Invalid("store", "is required")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	cfg = cfg.withDefaults()
	in := &Ingest{
		cfg:   cfg,
		store: store,
		log:   logger.With(slog.String("component", "ingest")),
		seed:  maphash.MakeSeed(),
		quit:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	// The queue's bound is shared out: a committer's queue holds its share.
	per := (cfg.QueueSize + cfg.Committers - 1) / cfg.Committers
	for range cfg.Committers {
		in.queues = append(in.queues, make(chan *request, per))
	}
	in.pool.New = func() any {
		wait := time.NewTimer(time.Hour)
		wait.Stop()
		return &request{done: make(chan error, 1), wait: wait}
	}
	if cfg.SpoolDir != "" {
		sp, err := openSpool(cfg.SpoolDir, cfg.SpoolMaxBytes)
		if err != nil {
			return nil, err
		}
		in.spool = sp
	}
	m, err := newMetrics(reg, in)
	if err != nil {
		in.closeSpool()
		return nil, fmt.Errorf("ingest metrics: %w", err)
	}
	in.metrics = m
	return in, nil
}

// Start runs the committers and the sweep. They stop only through Stop,
// not when ctx ends: requests still in flight during a shutdown must be
// committed. ctx is the parent of every store call (without its
// cancellation).
func (in *Ingest) Start(ctx context.Context) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.state != created {
		return errors.New("ingest: Start called twice or after Stop")
	}
	in.state = running
	base := context.WithoutCancel(ctx)
	var wg sync.WaitGroup
	for _, q := range in.queues {
		wg.Go(func() { in.commitLoop(base, q) })
	}
	if in.cfg.SweepInterval > 0 {
		wg.Go(func() { in.sweepLoop(base) })
	}
	var replay sync.WaitGroup
	if in.spool != nil {
		replay.Go(func() { in.replayLoop(base) })
	}
	go func() {
		wg.Wait()
		// The replayer goes on until the committers are done: they may
		// still spool during the shutdown.
		in.spool.close()
		replay.Wait()
		in.closeSpool()
		close(in.done)
	}()
	in.log.Info("report webhook started", slog.Int("batch_size", in.cfg.BatchSize),
		slog.Duration("flush_interval", in.cfg.FlushInterval), slog.Int("queue_size", in.cfg.QueueSize),
		slog.Int("committers", in.cfg.Committers), slog.Bool("spool", in.spool != nil))
	return nil
}

// Stop refuses new reports (503), commits every report already queued and
// returns when that is done or ctx ends. It may be called more than once.
func (in *Ingest) Stop(ctx context.Context) error {
	in.mu.Lock()
	switch in.state {
	case created:
		in.state = stopped
		in.closeSpool()
		close(in.done)
	case running:
		in.state = stopped
		for _, q := range in.queues {
			close(q) // committers drain it, then return
		}
		close(in.quit)
	}
	in.mu.Unlock()
	select {
	case <-in.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("ingest stop: %d reports not yet committed: %w", in.QueueDepth(), ctx.Err())
	}
}

// QueueDepth is the number of reports waiting for a committer. The
// dispatcher slows down when it nears QueueCapacity.
func (in *Ingest) QueueDepth() int {
	n := 0
	for _, q := range in.queues {
		n += len(q)
	}
	return n
}

// QueueCapacity is the queues' bound (Config.QueueSize, rounded up to a
// multiple of the committers).
func (in *Ingest) QueueCapacity() int { return cap(in.queues[0]) * len(in.queues) }
