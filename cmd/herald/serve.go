package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	herald "github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
)

// serveConfig is everything `herald serve` needs.
type serveConfig struct {
	DB              string
	Listen          string
	AdminTokens     []string
	MaxImportBytes  int64
	ShutdownTimeout time.Duration
	LogLevel        string
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
	return nil
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
	f.StringVar(&cfg.DB, "db", "sqlite:herald.db", "database: sqlite:PATH or postgres://USER@HOST/DB")
	f.StringVar(&cfg.Listen, "listen", "127.0.0.1:8080", "HOST:PORT of the HTTP server")
	f.StringSliceVar(&cfg.AdminTokens, "admin-token", nil, "bearer token(s) for the admin API; several, comma-separated, for rotation")
	f.Int64Var(&cfg.MaxImportBytes, "max-import-bytes", 1<<30, "largest member import body in bytes")
	f.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "how long to drain on SIGINT/SIGTERM")
	f.StringVar(&cfg.LogLevel, "log-level", "info", "debug, info, warn or error")
	describeEnv(f)
	return cmd
}

// serve runs until ctx ends, then shuts down in order: stop HTTP intake,
// then close the database.
func serve(ctx context.Context, cfg serveConfig, logger *slog.Logger) error {
	store, err := openStore(ctx, cfg.DB)
	if err != nil {
		return err
	}
	defer store.Close()
	api, err := heraldhttp.NewServer(heraldhttp.ServerConfig{
		Store:          store,
		AdminTokens:    cfg.AdminTokens,
		MaxImportBytes: cfg.MaxImportBytes,
		Logger:         logger,
		Registry:       heraldhttp.NewRegistry(),
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: api.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
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
	return nil
}
