package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/heraldhq/herald/internal/httpserver"
	"github.com/heraldhq/herald/mockprovider"
)

// mockOptions are the mock-provider settings that are not the mock's own
// Config: where to listen and what to do on the way out.
type mockOptions struct {
	listen          string
	templates       string
	statsFile       string
	logLevel        string
	shutdownTimeout time.Duration
}

func newMockProviderCmd() *cobra.Command {
	cfg := mockprovider.DefaultConfig()
	var opt mockOptions
	cmd := &cobra.Command{
		Use:   "mock-provider",
		Short: "Run a stand-in for Infobank's Bizgo API: TPS limit, duplicates count, reports back",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnvPrefix(cmd.Flags(), envMockPrefix); err != nil {
				return err
			}
			if err := finishMockConfig(&cfg, opt); err != nil {
				return err
			}
			logger, err := newLogger(opt.logLevel)
			if err != nil {
				return err
			}
			return runMockProvider(cmd.Context(), cfg, opt, logger)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opt.listen, "listen", "127.0.0.1:9090", "address to listen on")
	f.StringVar(&opt.templates, "templates", "", "template catalog, a JSON or YAML list (code, senderKey, text, title, buttons, inspectionStatus REG/REQ/APR/REJ, default APR); served by the template API, only APR ones may be sent")
	f.StringVar(&opt.statsFile, "stats-file", "", "write the stats as JSON to this file on shutdown")
	f.StringVar(&opt.logLevel, "log-level", "info", "debug, info, warn or error")
	f.DurationVar(&opt.shutdownTimeout, "shutdown-timeout", 15*time.Second, "how long shutdown may take to post queued reports")
	addMockFlags(f, &cfg)
	describeEnvPrefix(f, envMockPrefix)
	return cmd
}

// addMockFlags binds the mock's Config to flags, with its defaults.
func addMockFlags(f *pflag.FlagSet, c *mockprovider.Config) {
	f.StringVar(&c.APIKey, "key", "", "API key expected in Authorization (empty: any)")
	f.IntVar(&c.TPS, "tps", c.TPS, "recipients accepted in any trailing 1-second window")
	f.IntVar(&c.APIRate, "api-rate", c.APIRate, "non-send requests (inquiry, polling, ack, templates) allowed in any trailing second, independent of --tps; beyond, A020 (0: no limit)")
	f.StringSliceVar(&c.SenderKeys, "sender-keys", nil, "Kakao sender keys the account owns; a send or template list with another answers A502 (empty: any)")
	f.StringSliceVar(&c.RegisteredFrom, "registered-from", nil, "registered SMS/LMS sender numbers; a fallback from another answers A327 (empty: any)")
	f.StringVar(&c.DuplicateAnswer, "duplicate-answer", c.DuplicateAnswer, "how a replayed idempotency key is answered: destination (A301 with the original msgKey in a 200), destination-no-msgkey, or request (HTTP 400 A301 when the whole request is a replay)")
	f.StringVar(&c.RateLimitAnswer, "rate-limit-answer", c.RateLimitAnswer, "how A020 is answered: 429 (HTTP 429, documented) or 200 (inside an HTTP 200, as the official SDK's test fake does)")
	f.DurationVar(&c.Latency, "latency", 0, "median answer time")
	f.DurationVar(&c.LatencySpread, "latency-spread", 0, "answer time varies uniformly by ± this")
	f.Float64Var(&c.TailRate, "latency-tail-rate", 0, "share of answers that take --latency-tail instead (a long tail)")
	f.DurationVar(&c.TailLatency, "latency-tail", time.Second, "answer time of the long tail")
	f.Float64Var(&c.RefuseRate, "refuse-rate", 0, "share of requests refused with 503 A920 (not accepted)")
	f.Float64Var(&c.FailAfterAcceptRate, "fail-after-accept-rate", 0, "share of requests accepted, then answered 500 A910")
	f.Float64Var(&c.HangRate, "hang-rate", 0, "share of requests accepted, then never answered")
	f.Float64Var(&c.NotUserRate, "not-user-rate", 0, "share of recipients that are not KakaoTalk users (63019)")
	f.Float64Var(&c.BlockedRate, "blocked-rate", 0, "share of recipients that blocked AlimTalk (63020)")
	f.Float64Var(&c.UncertainRate, "uncertain-rate", 0, "share of recipients with an uncertain result (63005)")
	f.Uint64Var(&c.Seed, "seed", 0, "seed of the result mix and the fault dice")
	f.StringVar(&c.Reports, "reports", "", "webhook, polling or off (default: webhook with --report-url, else polling)")
	f.StringVar(&c.ReportURL, "report-url", "", "herald's report webhook, e.g. http://127.0.0.1:8080/v1/reports")
	f.StringVar(&c.ReportSecret, "report-secret", "", "HMAC secret for X-IB-Signature")
	f.StringVar(&c.ReportToken, "report-token", "", "bearer token sent with each report")
	f.StringVar(&c.ReportFormat, "report-format", c.ReportFormat, "bizgo or seed")
	f.DurationVar(&c.ReportDelay, "report-delay", c.ReportDelay, "time from acceptance to report")
	f.IntVar(&c.ReportConcurrency, "report-concurrency", c.ReportConcurrency, "reports posted at once")
	f.IntVar(&c.ReportQueue, "report-queue", c.ReportQueue, "reports that may wait; beyond, they are dropped and counted")
	f.DurationVar(&c.ReportTimeout, "report-timeout", c.ReportTimeout, "time the webhook has to answer")
	f.IntVar(&c.ReportRetries, "report-retries", c.ReportRetries, "further attempts after a failed post (0..10); -1: until acknowledged, waiting what a 429/503's Retry-After asks, else the backoff (capped at 5s)")
	f.DurationVar(&c.ReportBackoff, "report-backoff", c.ReportBackoff, "wait before the first retry, doubling after")
	f.BoolVar(&c.ReportNewConnection, "report-new-connection", false, "post each report on a TCP connection of its own (no keep-alive)")
	f.Float64Var(&c.ReportLossRate, "report-loss-rate", 0, "share of reports never posted")
	f.Float64Var(&c.ReportDupRate, "report-dup-rate", 0, "share of reports posted twice")
	f.IntVar(&c.ReportStore, "report-store", c.ReportStore, "msgKeys whose reports are kept for inquiry and polling")
	f.Var((*brownoutValue)(&c.Brownout), "brownout", "fault schedule played once, e.g. hold=15s,refuse=10s,429=10s: hold answers after --hold-answer (accepted, client times out), refuse shuts the port (ECONNREFUSED), 429 answers A020 accepting nothing, ok is normal service; POST /mock/brownout starts one at any time")
	f.DurationVar(&c.BrownoutAfter, "brownout-after", 0, "wait this long before the --brownout schedule, counted from --brownout-from")
	f.StringVar(&c.BrownoutFrom, "brownout-from", c.BrownoutFrom, "first-send (the first send that accepted anyone) or start")
	f.DurationVar(&c.HoldAnswer, "hold-answer", c.HoldAnswer, "how long a hold phase holds each answer (herald's client times out after 10s)")
}

// brownoutValue is the --brownout flag: a schedule parsed as it is set, so
// that a bad one is reported with the flag's name.
type brownoutValue []mockprovider.Phase

func (v *brownoutValue) String() string { return mockprovider.FormatBrownout(*v) }
func (v *brownoutValue) Type() string   { return "schedule" }
func (v *brownoutValue) Set(s string) error {
	phases, err := mockprovider.ParseBrownout(s)
	if err != nil {
		return err
	}
	*v = phases
	return nil
}

// finishMockConfig applies what depends on other flags, then validates.
func finishMockConfig(cfg *mockprovider.Config, opt mockOptions) error {
	if cfg.Reports == "" {
		cfg.Reports = mockprovider.ReportsPolling
		if cfg.ReportURL != "" {
			cfg.Reports = mockprovider.ReportsWebhook
		}
	}
	if opt.templates != "" {
		ts, insp, err := mockprovider.LoadCatalog(opt.templates)
		if err != nil {
			return err
		}
		cfg.Templates, cfg.Inspection = ts, insp
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("mock-provider: %w", flagError(err, mockFlags))
	}
	return nil
}

// runMockProvider serves until ctx ends or SIGINT/SIGTERM, then stops the
// mock (new sends refused, queued reports posted), shuts the HTTP server
// down and writes the stats file.
func runMockProvider(ctx context.Context, cfg mockprovider.Config, opt mockOptions, logger *slog.Logger) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	mock, err := mockprovider.New(cfg, logger)
	if err != nil {
		return err
	}
	// The mock's own listener, so that a refuse phase can shut the port.
	ln, err := mockprovider.Listen(opt.listen)
	if err != nil {
		return fmt.Errorf("mock-provider: %w", err)
	}
	mock.Attach(ln)
	mock.Start(context.WithoutCancel(ctx))
	srv := httpserver.Serve(ln, mock)
	logger.Info("mock provider listening", "component", "mockprovider", "addr", ln.Addr().String(),
		"tps", cfg.TPS, "reports", cfg.Reports, "templates", len(cfg.Templates),
		"brownout", mockprovider.FormatBrownout(cfg.Brownout))
	select {
	case <-ctx.Done():
	case err := <-srv.Err():
		return fmt.Errorf("mock-provider: serve: %w", err)
	}
	return shutdownMock(mock, srv, opt, logger)
}

func shutdownMock(mock *mockprovider.Server, srv *httpserver.Server, opt mockOptions, logger *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), opt.shutdownTimeout)
	defer cancel()
	// The mock first: it answers new sends 503 and releases hung ones, so
	// the HTTP server's Shutdown has nothing left to wait for.
	stopErr := mock.Stop(ctx)
	if err := srv.Shutdown(ctx); err != nil {
		stopErr = errors.Join(stopErr, err)
	}
	st := mock.Stats()
	logger.Info("mock provider stopped", "component", "mockprovider", "accepted", st.Accepted,
		"refused_rate_limit", st.RefusedRateLimit, "duplicate_recipients", st.DuplicateRecipients,
		"max_window", st.MaxWindow, "reports_acked", st.ReportsAcked, "reports_refused", st.ReportsRefused,
		"reports_retried", st.ReportsRetried, "reports_given_up", st.ReportsGivenUp)
	if opt.statsFile != "" {
		if err := writeMockStats(opt.statsFile, st); err != nil {
			stopErr = errors.Join(stopErr, err)
		}
	}
	return stopErr
}

func writeMockStats(path string, st mockprovider.Stats) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("stats file: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("stats file: %w", err)
	}
	return nil
}
