package mockprovider

import (
	"context"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald/infobank"
)

// Server is the mock provider, an http.Handler. Start runs its background
// work (report delivery, the per-second log line); Stop drains it.
type Server struct {
	cfg      Config
	log      *slog.Logger
	mux      *http.ServeMux
	catalog  atomic.Pointer[catalog] // replaced whole by PUT /mock/templates
	dice     *dice
	keys     *msgKeys
	trIDs    atomic.Int64
	counts   requestCounts
	ledger   atomic.Pointer[ledger] // replaced whole by reset
	store    *store
	delivery *delivery
	api      *apiLimit

	gate  gate
	brown brownout
	// firstAccept is closed at the first send that accepts anyone: a
	// configured brown-out counts from it.
	firstAccept chan struct{}
	firstOnce   sync.Once
	stopping    chan struct{} // closed by Stop: hung and slow answers return
	startOnce   sync.Once
	stopOnce    sync.Once
	started     atomic.Bool
	cancel      context.CancelFunc
	bg          sync.WaitGroup
}

// requestCounts are the counters outside the ledger's lock.
type requestCounts struct {
	requests, unauthorized, badRequests, refusedOther, failedAfterAccept, hung atomic.Int64
}

// New validates cfg and builds a server; logger may be nil.
func New(cfg Config, logger *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("mock provider: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := logger.With("component", "mockprovider")
	s := &Server{
		cfg: cfg, log: log,
		dice: newDice(cfg.Seed), keys: newMsgKeys(),
		store:    newStore(storeSize(cfg), cfg.Reports == ReportsPolling),
		delivery: newDelivery(cfg, log), api: newAPILimit(cfg.APIRate),
		stopping: make(chan struct{}), firstAccept: make(chan struct{}),
	}
	s.ledger.Store(newLedger(cfg.TPS, cfg.StatsSeconds))
	s.catalog.Store(newCatalog(cfg.Templates, cfg.Inspection))
	s.routes()
	return s, nil
}

func storeSize(cfg Config) int {
	if cfg.Reports == ReportsOff {
		return 0
	}
	return cfg.ReportStore
}

func (s *Server) routes() {
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("POST "+infobank.PathSend, s.handleSend)
	s.mux.HandleFunc("GET "+infobank.PathInquiry+"{msgKey}", s.handleInquiry)
	s.mux.HandleFunc("GET "+infobank.PathPolling, s.handlePoll)
	s.mux.HandleFunc("DELETE "+infobank.PathPolling+"/{reportId}", s.handleAck)
	s.mux.HandleFunc("GET /mock/stats", s.handleStats)
	s.mux.HandleFunc("POST /mock/reset", s.handleReset)
	s.mux.HandleFunc("POST /mock/brownout", s.handleBrownout)
	s.mux.HandleFunc("GET /mock/brownout", s.handleBrownoutGet)
	s.mux.HandleFunc("GET "+infobank.PathTemplateList, s.handleTemplateList)
	s.mux.HandleFunc("GET "+infobank.PathTemplate, s.handleTemplate)
	s.mux.HandleFunc("PUT /mock/templates", s.handleReplaceTemplates)
	s.mux.HandleFunc("GET /mock/templates", s.handleGetTemplates)
	s.mux.HandleFunc("/", s.handleUnknown)
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Start runs report delivery (webhook mode) and the per-second log line
// until Stop, or until ctx ends (which abandons reports not yet posted).
// Calling it again does nothing.
func (s *Server) Start(ctx context.Context) {
	s.startOnce.Do(func() {
		ctx, s.cancel = context.WithCancel(ctx)
		s.started.Store(true)
		if s.cfg.Reports == ReportsWebhook {
			s.delivery.start(ctx)
		}
		if s.cfg.LogEvery > 0 {
			s.bg.Go(func() { s.logLoop(ctx) })
		}
		s.startConfigured()
	})
}

// Stop refuses new sends (503), releases hung answers, waits for the
// answers in flight, then posts the reports still queued. When ctx ends
// first, what is left is abandoned and ctx's error returned. Calling it
// again waits again.
func (s *Server) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() { close(s.stopping) })
	s.gate.close()
	s.stopBrownout()
	if err := waitFor(ctx, s.gate.wg.Wait); err != nil {
		if s.started.Load() {
			s.cancel()
		}
		return err
	}
	if !s.started.Load() {
		return nil
	}
	s.delivery.stop()
	err := waitFor(ctx, s.delivery.wg.Wait)
	s.cancel() // ends the log loop and, when ctx ended first, the posts in flight
	s.delivery.wg.Wait()
	s.bg.Wait()
	return err
}

// waitFor returns when wait does, or with ctx's error when ctx ends first.
func waitFor(ctx context.Context, wait func()) error {
	done := make(chan struct{})
	go func() {
		wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// authorized compares the Authorization header in constant time.
func (s *Server) authorized(r *http.Request) bool {
	if s.cfg.APIKey == "" {
		return true
	}
	got := r.Header.Get("Authorization")
	return subtle.ConstantTimeCompare([]byte(got), []byte(s.cfg.APIKey)) == 1
}

// logLoop writes one line per interval in which something happened.
func (s *Server) logLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.LogEvery)
	defer t.Stop()
	var prev Stats
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st := s.Stats()
		if st.Accepted == prev.Accepted && st.Requests == prev.Requests && st.ReportsSent == prev.ReportsSent {
			continue
		}
		s.log.Info("mock provider", "accepted", st.Accepted-prev.Accepted,
			"refused_rate_limit", st.RefusedRateLimit-prev.RefusedRateLimit,
			"requests", st.Requests-prev.Requests, "reports_acked", st.ReportsAcked-prev.ReportsAcked,
			"max_window", st.MaxWindow, "duplicate_recipients", st.DuplicateRecipients)
		prev = st
	}
}

// gate lets requests in until it is closed, and counts those inside.
type gate struct {
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

// enter reports whether the request may proceed; it must then call leave.
func (g *gate) enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.wg.Add(1)
	return true
}

func (g *gate) leave() { g.wg.Done() }

// close lets no more requests in; those inside are waited for with g.wg.
func (g *gate) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}
