package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/dispatch"
	"github.com/heraldhq/herald/infobank"
	"github.com/heraldhq/herald/internal/review"
	"github.com/heraldhq/herald/pace"
	"github.com/heraldhq/herald/redis"
)

// sendConfig is how herald reaches the provider and how fast it sends;
// serve and demo share it.
type sendConfig struct {
	ProviderURL  string
	ProviderKey  string
	SenderKey    string
	TPS          int
	Workers      int
	BatchSize    int
	FallbackFrom string
	LeaseTTL     time.Duration
	Timeout      time.Duration
	ReportWindow time.Duration
	BreakerWin   int
	BreakerShare float64
	Redis        string
	Headroom     float64
	// apiLimiter paces the non-send calls of every provider client of the
	// process together (serve sets it).
	apiLimiter *infobank.APILimiter
	SendWindow string
}

func (c *sendConfig) addFlags(f *pflag.FlagSet) {
	addProviderAPIFlags(f, &c.ProviderURL, &c.ProviderKey)
	f.StringVar(&c.SenderKey, "sender-key", "", "Kakao sender key to send with; empty uses each template's own")
	f.IntVar(&c.TPS, "tps", 200, "most recipients per second per sender key, across campaigns (the provider's account limit); 0 for no global cap")
	f.IntVar(&c.Workers, "workers", 64, "provider requests in flight at once")
	f.IntVar(&c.BatchSize, "batch-size", 1, "destinations per provider request (1..200)")
	f.StringVar(&c.FallbackFrom, "fallback-from", "", "callback number for SMS/LMS fallback; empty sends AlimTalk only")
	f.DurationVar(&c.LeaseTTL, "lease-ttl", 10*time.Second, "how long after this process's last heartbeat (every lease-ttl/5) others may take over its rows; no send outlives it")
	f.DurationVar(&c.Timeout, "provider-timeout", infobank.DefaultTimeout, "longest wait for one provider answer; a send not answered in time is in doubt and resent only under the same key")
	f.DurationVar(&c.ReportWindow, "report-window", 72*time.Hour, "how long an accepted send waits for its report before it becomes UNKNOWN (NO_REPORT)")
	f.Float64Var(&c.Headroom, "headroom", pace.DefaultHeadroom, "share of --tps left unused: every limit counts over a window of 1 s × (1 + headroom), so arrival jitter at the provider up to that much (15 ms at 1.5%) stays under the limit")
	f.StringVar(&c.Redis, "redis", "", "redis://host:6379/0: every serve process sends, sharing one limit per sender key in Redis; empty: one process per sender key sends (leadership in the database)")
	f.StringVar(&c.SendWindow, "send-window", "", `default hours, in Asia/Seoul, when campaigns without a sendWindow of their own may send, e.g. "08:00-20:50"; empty: any time`)
	f.IntVar(&c.BreakerWin, "breaker-window", 200, "error breaker: how many of a campaign's last sends it looks at (negative: off)")
	f.Float64Var(&c.BreakerShare, "breaker-share", 0.5, "error breaker: pause the campaign when this share of the window was refused")
}

// Validate names the setting at fault.
func (c sendConfig) Validate() error {
	if _, err := herald.ParseSendWindow(c.SendWindow); err != nil {
		return herald.Invalid("send-window", `want "HH:MM-HH:MM" in Asia/Seoul, such as "08:00-20:50"`)
	}
	if c.ProviderURL == "" {
		return nil // sending disabled; serve still takes the API and reports
	}
	u, err := url.Parse(c.ProviderURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return herald.Invalid("provider-url", "want an http(s) URL")
	}
	if c.ProviderKey == "" {
		return herald.Invalid("provider-key", "is required with --provider-url")
	}
	if c.TPS < 0 {
		return herald.Invalid("tps", "must not be negative")
	}
	if c.Redis != "" && c.TPS == 0 {
		return herald.Invalid("redis", "needs --tps: Redis shares the sender key's limit")
	}
	if c.Redis != "" && !strings.HasPrefix(c.Redis, "redis://") && !strings.HasPrefix(c.Redis, "rediss://") {
		return herald.Invalid("redis", "want a redis:// or rediss:// URL")
	}
	return nil
}

// reviewSettings are the settings a campaign review renders and forecasts
// with: the dispatcher's.
func (c sendConfig) reviewSettings() review.Settings {
	w, _ := herald.ParseSendWindow(c.SendWindow) // validated
	return review.Settings{BatchSize: c.BatchSize, FallbackFrom: c.FallbackFrom, SenderKey: c.SenderKey,
		TPS: c.TPS, Headroom: c.Headroom, SendWindow: w}
}

// newDispatcher connects the provider client (and Redis, when asked for)
// and builds the dispatcher. ready, when not nil, learns of Redis's health.
func newDispatcher(ctx context.Context, c sendConfig, store herald.Store, log *slog.Logger, reg prometheus.Registerer, backlog func() float64, ready func(name string, check func() error)) (*dispatch.Dispatcher, func(), error) {
	client, err := infobank.New(infobank.Config{BaseURL: c.ProviderURL, APIKey: c.ProviderKey, MaxConns: c.Workers, Timeout: c.Timeout,
		Logger: log, APILimiter: c.apiLimiter})
	if err != nil {
		return nil, nil, flagError(err, sendFlags)
	}
	cfg := dispatch.Config{
		SenderKey: c.SenderKey, GlobalTPS: c.TPS, Workers: c.Workers, BatchSize: c.BatchSize,
		FallbackFrom: c.FallbackFrom, Backlog: backlog, LeaseTTL: c.LeaseTTL, ReportWindow: c.ReportWindow,
		BreakerWindow: c.BreakerWin, BreakerShare: c.BreakerShare, Headroom: c.Headroom,
	}
	cfg.SendWindow, _ = herald.ParseSendWindow(c.SendWindow) // validated
	closeRedis := func() {}
	if c.Redis != "" {
		rc, err := redis.Open(ctx, c.Redis)
		if err != nil {
			return nil, nil, fmt.Errorf("redis: %w", err)
		}
		closeRedis = func() { rc.Close() }
		limiters := redis.NewLimiters(rc, c.TPS, c.Headroom, log.With("component", "redis"))
		cfg.SenderPacer = func(senderKey string) dispatch.Pacer { return limiters.Get(senderKey) }
		if ready != nil {
			ready("redis", limiters.Healthy)
		}
	}
	d, err := dispatch.New(cfg, store, client, log, reg)
	if err != nil {
		closeRedis()
		return nil, nil, flagError(err, sendFlags)
	}
	return d, closeRedis, nil
}

// startSending starts the dispatcher when a provider is configured and
// returns its stop function (a no-op otherwise).
func startSending(ctx context.Context, c sendConfig, store herald.Store, log *slog.Logger, reg prometheus.Registerer, backlog func() float64, ready func(string, func() error)) (func(context.Context) error, error) {
	if c.ProviderURL == "" {
		log.Warn("no --provider-url: campaigns will not be sent by this process", "component", "serve")
		return func(context.Context) error { return nil }, nil
	}
	d, closeRedis, err := newDispatcher(ctx, c, store, log, reg, backlog, ready)
	if err != nil {
		return nil, err
	}
	d.Start(ctx)
	return func(ctx context.Context) error {
		defer closeRedis()
		return d.Stop(ctx)
	}, nil
}

// addProviderAPIFlags adds the provider's address and key: serve and demo
// (through sendConfig), templates sync and doctor.
func addProviderAPIFlags(f *pflag.FlagSet, url, key *string) {
	f.StringVar(url, "provider-url", "", "base URL of the provider's API (Bizgo), e.g. https://mars.ibapi.kr")
	f.StringVar(key, "provider-key", "", "the provider's API key (never logged)")
}
