package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	herald "github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/ingest"
)

// serveConfig is everything `herald serve` needs.
type serveConfig struct {
	DB              string
	Listen          string
	AdminTokens     []string
	MaxImportBytes  int64
	ShutdownTimeout time.Duration
	LogLevel        string
	RequireApprover bool
	Reports         reportConfig
	Send            sendConfig
}

// reportConfig is the report webhook's part of serveConfig. Without a
// secret or a token the webhook is not mounted.
type reportConfig struct {
	Secret        string
	Tokens        []string
	BatchSize     int
	FlushInterval time.Duration
	QueueSize     int
	Committers    int
}

func (c *reportConfig) addFlags(f *pflag.FlagSet) {
	f.StringVar(&c.Secret, "report-secret", "", "secret the provider signs reports with (X-IB-Signature); never logged")
	f.StringSliceVar(&c.Tokens, "report-token", nil, "bearer token(s) accepted on the report webhook; several, comma-separated, for rotation")
	f.IntVar(&c.BatchSize, "report-batch-size", ingest.DefaultBatchSize, "most reports written in one transaction")
	f.DurationVar(&c.FlushInterval, "report-flush-interval", ingest.DefaultFlushInterval, "how long a report batch waits to fill")
	f.IntVar(&c.QueueSize, "report-queue-size", ingest.DefaultQueueSize, "reports waiting for a transaction before the webhook answers 429")
	f.IntVar(&c.Committers, "report-committers", 0, "report batches written at once; 0 picks 1 for SQLite (one writer), 2 for PostgreSQL")
}

func (c reportConfig) enabled() bool { return c.Secret != "" || len(c.Tokens) > 0 }

func (c reportConfig) ingestConfig() ingest.Config {
	return ingest.Config{
		Secret: []byte(c.Secret), Tokens: c.Tokens, BatchSize: c.BatchSize, FlushInterval: c.FlushInterval,
		QueueSize: c.QueueSize, Committers: c.Committers,
	}
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

// reportFlags names the flag of each ingest.Config field.
var reportFlags = map[string]string{
	"secret": "report-secret", "tokens": "report-token", "batchSize": "report-batch-size",
	"flushInterval": "report-flush-interval", "queueSize": "report-queue-size", "committers": "report-committers",
}

// Validate names the flag at fault.
func (c reportConfig) Validate() error {
	if !c.enabled() {
		return nil
	}
	err := c.ingestConfig().Validate()
	var inv *herald.InvalidError
	if errors.As(err, &inv) && reportFlags[inv.Field] != "" {
		return herald.Invalid(reportFlags[inv.Field], "%s", inv.Message)
	}
	return err
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
	if err := c.Send.Validate(); err != nil {
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
	f.BoolVar(&cfg.RequireApprover, "require-approver", false, "two-person rule: every new campaign is a draft, approved only with another admin token than its creator's")
	cfg.Reports.addFlags(f)
	cfg.Send.addFlags(f)
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
	stopReports, backlog, err := startReports(ctx, cfg.Reports.forDB(cfg.DB), store, logger, reg, api)
	if err != nil {
		return err
	}
	defer stopReports(context.Background()) // a no-op after the ordered shutdown below
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: api.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	// Sending starts once the webhook listens: reports follow every send.
	stopSending, err := startSending(ctx, cfg.Send, store, logger, reg, backlog, api.AddReadyCheck)
	if err != nil {
		return err
	}
	defer stopSending(context.Background()) // a no-op after the ordered shutdown below
	logger.Info("serving", "component", "serve", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down", "component", "serve")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := stopSending(sctx); err != nil {
		logger.Warn("in-flight sends cut short; they are settled after restart", "component", "serve", "err", err)
	}
	if err := stopReports(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// startReports mounts and starts the report webhook when a credential is
// configured, and returns its stop function (a no-op otherwise).
// The backlog function tells the dispatcher how full the report queue is.
func startReports(ctx context.Context, cfg reportConfig, store herald.Store, log *slog.Logger, reg *prometheus.Registry, api *heraldhttp.Server) (func(context.Context) error, func() float64, error) {
	if !cfg.enabled() {
		log.Warn("no --report-secret or --report-token: the report webhook is disabled", "component", "serve")
		return func(context.Context) error { return nil }, nil, nil
	}
	in, err := ingest.New(cfg.ingestConfig(), store, log, reg)
	if err != nil {
		return nil, nil, err
	}
	in.Register(api)
	if err := in.Start(ctx); err != nil {
		return nil, nil, err
	}
	backlog := func() float64 { return float64(in.QueueDepth()) / float64(in.QueueCapacity()) }
	return in.Stop, backlog, nil
}
