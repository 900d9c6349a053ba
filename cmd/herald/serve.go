package main

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	herald "github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/ingest"
	"github.com/heraldhq/herald/internal/httpserver"
)

// defaultReadHeaderTimeout is --read-header-timeout's default.
const defaultReadHeaderTimeout = 5 * time.Second

// serveConfig is everything `herald serve` needs.
type serveConfig struct {
	DB              string
	Listen          string
	AdminTokens     []string
	MaxImportBytes  int64
	ShutdownTimeout time.Duration
	LogLevel        string
	// MaxConnections and ReadHeaderTimeout bound what clients can hold:
	// past the limit a connection is answered 503 and closed at once.
	MaxConnections    int
	ReadHeaderTimeout time.Duration
	// DebugListen, when set, serves net/http/pprof there (loopback only:
	// profiles name internals), apart from the API.
	DebugListen     string
	RequireApprover bool
	Reports         reportConfig
	Send            sendConfig
	Provider        providerAPIConfig
}

// reportConfig is the report webhook's part of serveConfig. Without a
// secret or a token the webhook is not mounted.
type reportConfig struct {
	Secret         string
	Tokens         []string
	BindSignature  bool
	AllowFrom      []string
	TrustedProxies []string
	InFlight       int
	BodyTimeout    time.Duration
	BatchSize      int
	FlushInterval  time.Duration
	QueueSize      int
	Committers     int
	RecentKeys     int
	SpoolDir       string
	SpoolMaxBytes  int64
	SpoolAfter     time.Duration
}

func (c *reportConfig) addFlags(f *pflag.FlagSet) {
	f.StringVar(&c.Secret, "report-secret", "", "secret the provider signs reports with (X-IB-Signature); never logged")
	f.StringSliceVar(&c.Tokens, "report-token", nil, "bearer token(s) accepted on the report webhook; several, comma-separated, for rotation")
	f.BoolVar(&c.BindSignature, "report-bind-signature", false, "refuse (401) a signature seen before with another body; only for a provider that never signs two requests with the same timestamp")
	f.StringSliceVar(&c.AllowFrom, "report-allow-from", nil, "networks (CIDR, comma-separated) reports are accepted from; empty: any")
	f.StringSliceVar(&c.TrustedProxies, "report-trusted-proxies", nil, "proxies (CIDR) whose X-Forwarded-For names the source for --report-allow-from")
	f.IntVar(&c.InFlight, "report-in-flight", heraldhttp.DefaultReportsInFlight, "report requests read or waiting at once before the webhook answers 429")
	f.DurationVar(&c.BodyTimeout, "report-body-timeout", heraldhttp.DefaultReportBodyTimeout, "how long a report body may take to arrive")
	f.IntVar(&c.BatchSize, "report-batch-size", ingest.DefaultBatchSize, "most reports written in one transaction")
	f.DurationVar(&c.FlushInterval, "report-flush-interval", ingest.DefaultFlushInterval, "longest a report batch waits to fill (it stops sooner after a 250µs pause in arrivals)")
	f.IntVar(&c.QueueSize, "report-queue-size", ingest.DefaultQueueSize, "reports waiting for a transaction before the webhook answers 429")
	f.IntVar(&c.Committers, "report-committers", 0, "report batches written at once; 0 picks 1 for SQLite (one writer), 2 for PostgreSQL")
	f.IntVar(&c.RecentKeys, "report-recent-keys", ingest.DefaultRecentKeys, "keys of stored reports remembered to acknowledge copies without the database; -1: off")
	f.StringVar(&c.SpoolDir, "report-spool-dir", "", "directory of the local report spool, for batches the database fails or is slow to take; empty: no spool (503 instead)")
	f.Int64Var(&c.SpoolMaxBytes, "report-spool-max-bytes", ingest.DefaultSpoolMaxBytes, "largest size of the report spool; past it the webhook answers 503")
	f.DurationVar(&c.SpoolAfter, "report-spool-after", ingest.DefaultSpoolAfter, "how long a report commit may take before its batch is spooled")
}

func (c reportConfig) enabled() bool { return c.Secret != "" || len(c.Tokens) > 0 }

func (c reportConfig) ingestConfig() ingest.Config {
	return ingest.Config{
		BatchSize: c.BatchSize, FlushInterval: c.FlushInterval, QueueSize: c.QueueSize, Committers: c.Committers,
		RecentKeys: c.RecentKeys, SpoolDir: c.SpoolDir, SpoolMaxBytes: c.SpoolMaxBytes, SpoolAfter: c.SpoolAfter,
	}
}

func (c reportConfig) edgeConfig() (heraldhttp.ReportConfig, error) {
	allow, err := parsePrefixes("report-allow-from", c.AllowFrom)
	if err != nil {
		return heraldhttp.ReportConfig{}, err
	}
	proxies, err := parsePrefixes("report-trusted-proxies", c.TrustedProxies)
	if err != nil {
		return heraldhttp.ReportConfig{}, err
	}
	return heraldhttp.ReportConfig{
		Secret: []byte(c.Secret), Tokens: c.Tokens, BindSignature: c.BindSignature, AllowFrom: allow,
		TrustedProxies: proxies, InFlight: c.InFlight, BodyTimeout: c.BodyTimeout,
	}, nil
}

// parsePrefixes reads CIDRs; a bare address is a network of one.
func parsePrefixes(flag string, ss []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range ss {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, herald.Invalid(flag, "%q is neither a CIDR nor an address", s)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// forDB picks the number of committers for the database db when none is
// set: one for SQLite (one writer anyway), two for PostgreSQL, which
// measured faster with two batches in flight.
func (c reportConfig) forDB(db string) reportConfig {
	if c.Committers == 0 && !strings.HasPrefix(db, "sqlite:") {
		c.Committers = 2
	}
	return c
}

// Validate names the flag at fault.
func (c reportConfig) Validate() error {
	if !c.enabled() {
		return nil
	}
	edge, err := c.edgeConfig()
	if err == nil {
		err = edge.Validate()
	}
	if err == nil {
		err = c.ingestConfig().Validate()
	}
	return flagError(err, reportFlags)
}

// Validate names the setting at fault.
func (c serveConfig) Validate() error {
	if len(c.AdminTokens) == 0 {
		return herald.Invalid("admin-token", "is required: the admin API is never open without a token")
	}
	for _, t := range c.AdminTokens {
		if len(t) < 16 {
			return herald.Invalid("admin-token", "each token must be at least 16 characters")
		}
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return herald.Invalid("listen", "want HOST:PORT, got %q", c.Listen)
	}
	if c.MaxImportBytes <= 0 {
		return herald.Invalid("max-import-bytes", "must be positive")
	}
	if c.ShutdownTimeout <= 0 {
		return herald.Invalid("shutdown-timeout", "must be positive")
	}
	if c.MaxConnections < 0 {
		return herald.Invalid("max-connections", "must be positive (0: %d)", heraldhttp.DefaultMaxConnections)
	}
	if c.DebugListen != "" {
		host, _, err := net.SplitHostPort(c.DebugListen)
		if ip, perr := netip.ParseAddr(host); err != nil || perr != nil || !ip.IsLoopback() {
			return herald.Invalid("debug-listen", "want a loopback HOST:PORT, got %q", c.DebugListen)
		}
	}
	if c.ReadHeaderTimeout < 0 {
		return herald.Invalid("read-header-timeout", "must be positive (0: %s)", defaultReadHeaderTimeout)
	}
	if err := c.Send.Validate(); err != nil {
		return err
	}
	if err := c.Provider.Validate(c.Send); err != nil {
		return err
	}
	return c.Reports.Validate()
}

func newServeCmd() *cobra.Command {
	var cfg serveConfig
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the admin API, report webhook, metrics, scheduler and dispatcher",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd); err != nil {
				return err
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			logger, err := newLogger(cfg.LogLevel)
			if err != nil {
				return err
			}
			tuneGC()
			return serve(cmd.Context(), cfg, logger)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DB, "db", "sqlite:herald.db", "database: sqlite:PATH, postgres://USER@HOST/DB or mysql://USER:PASS@HOST:3306/DB")
	f.StringVar(&cfg.Listen, "listen", "127.0.0.1:8080", "HOST:PORT of the HTTP server")
	f.StringSliceVar(&cfg.AdminTokens, "admin-token", nil, "bearer token(s) for the admin API; several, comma-separated, for rotation")
	f.Int64Var(&cfg.MaxImportBytes, "max-import-bytes", 1<<30, "largest member import body in bytes")
	f.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "how long to drain on SIGINT/SIGTERM")
	f.StringVar(&cfg.LogLevel, "log-level", "info", "debug, info, warn or error")
	f.IntVar(&cfg.MaxConnections, "max-connections", heraldhttp.DefaultMaxConnections, "open HTTP connections at once; past it a new one is answered 503 and closed")
	f.DurationVar(&cfg.ReadHeaderTimeout, "read-header-timeout", defaultReadHeaderTimeout, "how long a client may take to send a request's headers")
	f.StringVar(&cfg.DebugListen, "debug-listen", "", "HOST:PORT (loopback) serving /debug/pprof/ for profiling; empty: off")
	f.BoolVar(&cfg.RequireApprover, "require-approver", false, "two-person rule: every new campaign is a draft, approved only with another admin token than its creator's")
	cfg.Reports.addFlags(f)
	cfg.Send.addFlags(f)
	cfg.Provider.addFlags(f)
	describeEnv(f)
	return cmd
}

// serve runs until ctx ends, then shuts down in order: stop HTTP intake,
// stop claiming and drain in-flight sends, commit the reports still queued,
// then close the database.
func serve(ctx context.Context, cfg serveConfig, logger *slog.Logger) error {
	store, err := openStore(ctx, cfg.DB)
	if err != nil {
		return err
	}
	defer store.Close()
	reg := heraldhttp.NewRegistry()
	api, err := heraldhttp.NewServer(heraldhttp.ServerConfig{
		Store:           store,
		AdminTokens:     cfg.AdminTokens,
		MaxImportBytes:  cfg.MaxImportBytes,
		Logger:          logger,
		Registry:        reg,
		Sending:         cfg.Send.reviewSettings(),
		RequireApprover: cfg.RequireApprover,
	})
	if err != nil {
		return err
	}
	stopReports, backlog, in, err := startReports(ctx, cfg.Reports.forDB(cfg.DB), cfg.Provider.polling(), store, logger, reg, api)
	if err != nil {
		return err
	}
	defer stopReports(context.Background())      // a no-op after the ordered shutdown below
	cfg.Send.apiLimiter = cfg.Provider.limiter() // shared by every provider client of this process
	stopPolling, stopSync := func() {}, func() {}
	if cfg.Provider.polling() || cfg.Provider.TemplateSync > 0 {
		client, err := apiClient(cfg.Send, logger)
		if err != nil {
			return err
		}
		defer client.Close()
		if cfg.Provider.polling() {
			if stopPolling, err = startPolling(ctx, cfg.Provider, client, in, store, cfg.Send.LeaseTTL, logger, reg); err != nil {
				return err
			}
			defer stopPolling()
		}
		if cfg.Provider.TemplateSync > 0 {
			stopSync = startTemplateSync(ctx, cfg.Provider.TemplateSync, client, store, cfg.Send.SenderKey, logger)
			defer stopSync()
		}
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := httpserver.ServeWith(heraldhttp.LimitListener(ln, cmp.Or(cfg.MaxConnections, heraldhttp.DefaultMaxConnections)),
		api.Handler(), cmp.Or(cfg.ReadHeaderTimeout, defaultReadHeaderTimeout))
	defer srv.Close() // a no-op after the ordered shutdown below
	if cfg.DebugListen != "" {
		dbg, err := httpserver.Start(cfg.DebugListen, pprofMux())
		if err != nil {
			return fmt.Errorf("debug listen: %w", err)
		}
		defer dbg.Close()
	}
	// Sending starts once the webhook listens: reports follow every send.
	stopSending, err := startSending(ctx, cfg.Send, store, logger, reg, backlog, api.AddReadyCheck)
	if err != nil {
		return err
	}
	defer stopSending(context.Background()) // a no-op after the ordered shutdown below
	logger.Info("serving", "component", "serve", "addr", srv.Addr())
	select {
	case err := <-srv.Err():
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down", "component", "serve")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	stopPolling() // a batch cut short is not acknowledged: it comes back
	stopSync()
	if err := stopSending(sctx); err != nil {
		logger.Warn("in-flight sends cut short; they are settled after restart", "component", "serve", "err", err)
	}
	if err := stopReports(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// pprofMux serves net/http/pprof's handlers, which are not on the API.
func pprofMux() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("/debug/pprof/", pprof.Index)
	m.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	m.HandleFunc("/debug/pprof/profile", pprof.Profile)
	m.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	m.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return m
}

// startReports mounts and starts the report webhook when a credential is
// configured, and returns its stop function (a no-op otherwise). With
// polling, the group commit runs for the poller even without a
// credential, and the webhook is mounted only when one is configured.
// The backlog function tells the dispatcher how full the report queue is.
func startReports(ctx context.Context, cfg reportConfig, polling bool, store herald.Store, log *slog.Logger, reg *prometheus.Registry, api *heraldhttp.Server) (func(context.Context) error, func() float64, *ingest.Ingest, error) {
	if !cfg.enabled() && !polling {
		log.Warn("no --report-secret or --report-token: the report webhook is disabled", "component", "serve")
		return func(context.Context) error { return nil }, nil, nil, nil
	}
	in, err := ingest.New(cfg.ingestConfig(), store, log, reg)
	if err != nil {
		return nil, nil, nil, err
	}
	if cfg.enabled() {
		edge, err := cfg.edgeConfig()
		if err != nil {
			return nil, nil, nil, err
		}
		if err := api.HandleReports(edge, in); err != nil {
			return nil, nil, nil, err
		}
	}
	api.ShowIntake(in) // the dashboard's Report intake panel
	if cfg.SpoolDir != "" {
		api.AddReadyDetail("reports", func() string {
			if in.Spooling() {
				return "spooling"
			}
			return ""
		})
	}
	if err := in.Start(ctx); err != nil {
		return nil, nil, nil, err
	}
	backlog := func() float64 { return float64(in.QueueDepth()) / float64(in.QueueCapacity()) }
	return in.Stop, backlog, in, nil
}
