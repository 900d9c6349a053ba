// Package ingest is herald's report webhook (the "Open API"): it takes the
// provider's delivery reports over HTTP, puts them on a bounded queue and
// writes them with group commit — one Store.ApplyReports transaction per
// batch — answering each request only once its batch is durable. A full
// queue sheds load with 429 at once instead of growing memory.
package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	herald "github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
)

// Defaults for Config.
const (
	DefaultBatchSize     = 500
	DefaultFlushInterval = 2 * time.Millisecond
	DefaultQueueSize     = 10_000
	DefaultQueueBytes    = 64 << 20
	DefaultCommitters    = 1
	DefaultWaitTimeout   = 4 * time.Second
	DefaultSweepInterval = time.Second
	DefaultSweepLimit    = 1000
)

// Limits that Config.Validate enforces.
const (
	// MaxWaitTimeout stays under the provider's 5-second answer deadline:
	// an answer after it counts as lost anyway.
	MaxWaitTimeout = 5 * time.Second
	MinTokenLength = 16
	MaxCommitters  = 16
	MaxBatchSize   = 10_000
)

// commitTimeout bounds one ApplyReports call, so that a hung connection
// cannot stall the committer for ever; its requests have long been
// answered 503 by then.
const commitTimeout = 10 * time.Second

// Config tunes the webhook. At least one credential (Secret or Tokens) is
// required; zero values of the rest take the defaults.
type Config struct {
	// Secret is the key of the provider's X-IB-Signature HMAC.
	Secret []byte
	// Tokens are accepted as Authorization: Bearer; several may be valid at
	// once so that one can be rotated without downtime.
	Tokens []string
	// BatchSize is the most reports one transaction writes.
	BatchSize int
	// FlushInterval is how long a batch waits to fill after its first report.
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
	// WaitTimeout is how long a request waits for its batch to commit
	// before it is answered 503.
	WaitTimeout time.Duration
	// SweepInterval and SweepLimit pace Store.MatchPendingReports.
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
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func orDefault[T int | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// Validate names the field at fault, after defaults are applied.
func (c Config) Validate() error {
	c = c.withDefaults()
	if len(c.Secret) == 0 && len(c.Tokens) == 0 {
		return herald.Invalid("secret", "a signature secret or at least one bearer token is required")
	}
	for _, t := range c.Tokens {
		if len(strings.TrimSpace(t)) < MinTokenLength {
			return herald.Invalid("tokens", "each token must be at least %d characters", MinTokenLength)
		}
	}
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
	}
	return nil
}

// lifecycle states of an Ingest.
const (
	created = iota
	running
	stopped
)

// Ingest is the report webhook: handlers, queue, committers and the sweep
// of unmatched reports.
type Ingest struct {
	cfg     Config
	store   herald.Store
	log     *slog.Logger
	metrics *metrics
	secret  []byte
	tokens  heraldhttp.BearerTokens
	queue   chan *request
	bytes   atomic.Int64 // raw body bytes of queued and committing reports
	pool    sync.Pool    // of *request

	mu    sync.RWMutex // guards state against sends on a closed queue
	state int
	quit  chan struct{} // closed by Stop: ends the sweep
	done  chan struct{} // closed when every goroutine has returned
}

// New checks cfg and registers the metrics on reg; Start begins the work.
func New(cfg Config, store herald.Store, logger *slog.Logger, reg prometheus.Registerer) (*Ingest, error) {
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
		cfg:    cfg,
		store:  store,
		log:    logger.With(slog.String("component", "ingest")),
		secret: bytes.Clone(cfg.Secret),
		queue:  make(chan *request, cfg.QueueSize),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	in.tokens = heraldhttp.NewBearerTokens(cfg.Tokens)
	in.pool.New = func() any { return &request{done: make(chan error, 1)} }
	m, err := newMetrics(reg, in)
	if err != nil {
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
	for range in.cfg.Committers {
		wg.Go(func() { in.commitLoop(base) })
	}
	if in.cfg.SweepInterval > 0 {
		wg.Go(func() { in.sweepLoop(base) })
	}
	go func() {
		wg.Wait()
		close(in.done)
	}()
	in.log.Info("report webhook started", slog.Int("batch_size", in.cfg.BatchSize),
		slog.Duration("flush_interval", in.cfg.FlushInterval), slog.Int("queue_size", in.cfg.QueueSize),
		slog.Int("committers", in.cfg.Committers))
	return nil
}

// Stop refuses new reports (503), commits every report already queued and
// returns when that is done or ctx ends. It may be called more than once.
func (in *Ingest) Stop(ctx context.Context) error {
	in.mu.Lock()
	switch in.state {
	case created:
		in.state = stopped
		close(in.done)
	case running:
		in.state = stopped
		close(in.queue) // committers drain it, then return
		close(in.quit)
	}
	in.mu.Unlock()
	select {
	case <-in.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("ingest stop: %d reports not yet committed: %w", len(in.queue), ctx.Err())
	}
}

// QueueDepth is the number of reports waiting for a committer. The
// dispatcher slows down when it nears QueueCapacity.
func (in *Ingest) QueueDepth() int { return len(in.queue) }

// QueueCapacity is the queue's bound (Config.QueueSize).
func (in *Ingest) QueueCapacity() int { return cap(in.queue) }
