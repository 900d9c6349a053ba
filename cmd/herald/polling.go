package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/infobank"
	"github.com/heraldhq/herald/reportpoll"
)

// Report methods: each Bizgo API key takes reports one way, set at the
// provider.
const (
	reportsWebhook = "webhook"
	reportsPolling = "polling"
)

// DefaultAPIRate keeps under the provider's 5 requests per second on the
// non-send APIs with 10% to spare for arrival jitter.
const DefaultAPIRate = 4.5

// providerAPIConfig is serve's part that uses the provider's non-send APIs:
// how reports arrive, the limit those APIs share, and the template sync.
type providerAPIConfig struct {
	Reports      string
	APIRate      float64
	PollIdle     time.Duration
	TemplateSync time.Duration
}

func (c *providerAPIConfig) addFlags(f *pflag.FlagSet) {
	f.StringVar(&c.Reports, "reports", reportsWebhook, "how the provider hands over reports, as set for the API key at Infobank: webhook (POST /v1/reports) or polling (herald fetches them; one process at a time)")
	f.Float64Var(&c.APIRate, "api-rate", DefaultAPIRate, "requests per second to the provider's non-send APIs (inquiry, polling, ack, templates) together; the provider allows 5")
	f.DurationVar(&c.PollIdle, "report-poll-idle", reportpoll.DefaultIdle, "with --reports polling: wait after an empty batch")
	f.DurationVar(&c.TemplateSync, "template-sync-interval", 0, "pull the sender key's templates from the provider this often (0: off; see herald templates sync)")
}

// withDefaults fills the zero values (a config not made from the flags).
func (c providerAPIConfig) withDefaults() providerAPIConfig {
	if c.Reports == "" {
		c.Reports = reportsWebhook
	}
	if c.APIRate == 0 {
		c.APIRate = DefaultAPIRate
	}
	return c
}

// Validate names the flag at fault; send is the provider's configuration.
func (c providerAPIConfig) Validate(send sendConfig) error {
	c = c.withDefaults()
	switch c.Reports {
	case reportsWebhook, reportsPolling:
	default:
		return herald.Invalid("reports", "want webhook or polling, got %q", c.Reports)
	}
	if c.APIRate <= 0 || c.APIRate > 5 {
		return herald.Invalid("api-rate", "must be in (0, 5]: the provider allows 5 requests per second")
	}
	if c.PollIdle < 0 {
		return herald.Invalid("report-poll-idle", "must not be negative")
	}
	if c.TemplateSync < 0 {
		return herald.Invalid("template-sync-interval", "must not be negative")
	}
	if (c.Reports == reportsPolling || c.TemplateSync > 0) && send.ProviderURL == "" {
		return herald.Invalid("provider-url", "is required with --reports polling or --template-sync-interval")
	}
	if c.TemplateSync > 0 && send.SenderKey == "" {
		return herald.Invalid("sender-key", "is required with --template-sync-interval: templates are listed per sender key")
	}
	return nil
}

func (c providerAPIConfig) polling() bool { return c.Reports == reportsPolling }

// limiter is the one limiter of every non-send API call of the process:
// every provider client of serve gets it.
func (c providerAPIConfig) limiter() *infobank.APILimiter {
	return infobank.NewAPILimiter(c.withDefaults().APIRate)
}

// apiClient is a provider client for the non-send APIs, with a small pool
// of its own so that polling never waits behind sends.
func apiClient(send sendConfig, log *slog.Logger) (*infobank.Client, error) {
	return infobank.New(infobank.Config{BaseURL: send.ProviderURL, APIKey: send.ProviderKey, MaxConns: 4, Timeout: send.Timeout,
		Logger: log, APILimiter: send.apiLimiter})
}

// startPolling runs the report poller until the returned stop is called.
func startPolling(ctx context.Context, c providerAPIConfig, client *infobank.Client, sub reportpoll.Submitter, store herald.Store, leaseTTL time.Duration, log *slog.Logger, reg prometheus.Registerer) (func(), error) {
	p, err := reportpoll.New(reportpoll.Config{
		Owner: processOwner("poll"), LeaseTTL: leaseTTL, Idle: c.PollIdle,
	}, client, sub, store, log, reg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.Run(ctx)
	}()
	log.Info("polling reports", "component", "serve", "api_rate", c.APIRate)
	return func() {
		cancel()
		<-done
	}, nil
}

// processOwner names this process in leases: host, pid and a random part.
func processOwner(role string) string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s-%s-%d-%s", role, host, os.Getpid(), randomHex(4))
}
