// Package redis shares one rate limit per sender key between herald
// processes, in Redis.
//
// The provider counts recipients in every trailing 1-second window and
// refuses a request that would push the count over the account's limit. A
// Limiter keeps a sliding-window log per sender key in Redis, updated
// atomically by a Lua script at the Redis server's clock: n recipients are
// admitted iff those admitted in the trailing window (now−W, now] plus n fit
// the current limit, with W = 1 s × (1 + headroom). Since no window of W
// holds more than the limit, no 1-second window does either, whatever the
// job sizes, and the steady state is limit/W ≈ limit × (1 − headroom).
//
// The AIMD state is shared too: a Throttle in any process cuts the limit
// ×0.7 (at most once a second across all processes), and every second
// without a cut regains 5% of the configured limit.
//
// When Redis is unreachable, Wait fails fast with ErrUnavailable: the
// caller must stop sending, never fall back to a local limit.
package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/clock"
	"github.com/heraldhq/herald/pace"
)

// ErrUnavailable wraps every error caused by Redis being unreachable (or
// too slow to answer within the call timeout).
var ErrUnavailable = errors.New("redis rate limiter unavailable")

// ErrTooLarge is returned by Wait for a job larger than the configured
// limit: it could never be admitted.
var ErrTooLarge = errors.New("job larger than the rate limit")

const (
	// KeyPrefix starts every key; the sender key is the hash tag.
	KeyPrefix = "herald:rate:"
	// DefaultTimeout bounds each round trip to Redis.
	DefaultTimeout = 500 * time.Millisecond

	decrease = 0.7  // a cut multiplies the current limit by this
	increase = 0.05 // share of the configured limit regained per second
	cooldown = time.Second
	ttlWins  = 3 // keys outlive the last admission by this many windows
)

// Limiter is the shared limit of one sender key. Its methods are safe for
// concurrent use; set OnChange before first use.
type Limiter struct {
	// OnChange, if set, is called when the rate seen by this process is cut
	// (by its own Throttle, with its reason, or by another process's) and
	// when it has fully recovered ("recovered"). Rates are in recipients
	// per second, as Rate reports them.
	OnChange func(old, new float64, reason string)

	client    goredis.UniversalClient
	senderKey string
	keys      []string
	headroom  float64
	window    time.Duration
	timeout   time.Duration
	health    *health

	mu       sync.Mutex
	limit    int
	cutLevel float64       // last known cut (0: none)
	cutAt    int64         // server µs of the last known cut (0: none)
	offset   time.Duration // server clock − local clock, last seen
	cur      float64       // last known current limit
	lag      pace.Lateness // of this process's timer: it counts over window + lag.Extra
}

// New returns the limiter of senderKey: limit recipients per trailing
// second, of which headroom (herald's default 0.015) is left unused. log
// (nil: discard) gets one line when Redis becomes unreachable and one when
// it is back.
func New(client goredis.UniversalClient, senderKey string, limit int, headroom float64, log *slog.Logger) *Limiter {
	return newLimiter(client, senderKey, limit, headroom, newHealth(log))
}

func newLimiter(client goredis.UniversalClient, senderKey string, limit int, headroom float64, h *health) *Limiter {
	headroom = math.Min(math.Max(headroom, 0), 0.5)
	base := KeyPrefix + "{" + senderKey + "}"
	l := &Limiter{
		client: client, senderKey: senderKey, keys: []string{base + ":log", base + ":st"},
		headroom: headroom, window: time.Duration(math.Round(1e6*(1+headroom))) * time.Microsecond,
		timeout: DefaultTimeout, health: h, limit: max(1, limit),
	}
	l.cur = float64(l.limit)
	return l
}

// SetLimit changes the configured limit (recipients per second).
func (l *Limiter) SetLimit(limit int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.limit = max(1, limit)
	l.cur = l.currentAt(time.Now().Add(l.offset))
}

// Limit is the configured limit.
func (l *Limiter) Limit() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.limit
}

// Rate is the rate currently allowed, in recipients per second: the current
// limit × (1 − headroom), from the last cut this process has seen (every
// Wait and Throttle refreshes it) plus what it has regained since.
func (l *Limiter) Rate() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.currentAt(time.Now().Add(l.offset)) * (1 - l.headroom)
}

// Healthy is nil while Redis answers, else the last error (wrapping
// ErrUnavailable).
func (l *Limiter) Healthy() error { return l.health.get() }

// Wait blocks until n recipients may be sent. It fails with ErrTooLarge if
// n exceeds the configured limit, with an error wrapping ErrUnavailable if
// a round trip to Redis fails or takes longer than the call timeout, and
// with the context's error if ctx ends.
func (l *Limiter) Wait(ctx context.Context, n int) error {
	_, err := l.wait(ctx, n)
	return err
}

// wait is Wait, returning the server time it admitted at.
func (l *Limiter) wait(ctx context.Context, n int) (time.Time, error) {
	if n <= 0 {
		return time.Time{}, ctx.Err()
	}
	var timer *time.Timer
	for {
		l.mu.Lock()
		limit := l.limit
		l.mu.Unlock()
		if n > limit {
			return time.Time{}, fmt.Errorf("%w: %d recipients, limit %d", ErrTooLarge, n, limit)
		}
		// During an outage, a ping tells whether Redis is back, failing fast
		// if not. After one, Redis may have restarted empty, forgetting what
		// was admitted just before it: admit nothing until a window has
		// passed since the last failure (nothing was admitted meanwhile).
		if l.health.get() != nil {
			if err := l.ping(ctx); err != nil {
				return time.Time{}, err
			}
		}
		if d := time.Until(l.health.lastFailure().Add(l.window)); d > 0 {
			if !sleepCtx(ctx, d) {
				return time.Time{}, ctx.Err()
			}
		}
		res, err := l.run(ctx, admitScript, limit, n)
		if err != nil {
			return time.Time{}, err
		}
		l.observe(res, limit, "")
		switch res[0] {
		case 1:
			return time.UnixMicro(res[1]), nil
		case -1: // the script saw n > limit: cannot happen, limit is sent along
			return time.Time{}, fmt.Errorf("%w: %d recipients, limit %d", ErrTooLarge, n, limit)
		}
		d := time.Duration(res[1]) * time.Microsecond
		slept := time.Now()
		if timer == nil {
			timer = time.NewTimer(d)
			defer timer.Stop()
		} else {
			timer.Reset(d)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-timer.C:
		}
		now := time.Now()
		l.mu.Lock()
		l.lag.Note(now, now.Sub(slept)-d)
		l.mu.Unlock()
	}
}

// Throttle cuts the shared limit after the provider refused for rate
// (429/A020) or the report queue backed up. Cuts closer together than a
// second, in any process, count once. If Redis is unreachable nothing is
// cut (Wait fails anyway).
func (l *Limiter) Throttle(reason string) {
	l.mu.Lock()
	limit := l.limit
	l.mu.Unlock()
	minLimit := max(1, float64(limit)/100)
	res, err := l.run(context.Background(), throttleScript, limit,
		decrease, cooldown.Microseconds(), minLimit)
	if err != nil {
		return
	}
	if res[0] == 1 {
		l.observe(res, limit, reason)
	} else {
		l.observe(res, limit, "")
	}
}

// run runs a script with the common arguments, within the call timeout,
// and records Redis's health.
func (l *Limiter) run(ctx context.Context, s *goredis.Script, limit int, args ...any) ([]int64, error) {
	ctx2, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	l.mu.Lock()
	window := l.window + l.lag.Extra(time.Now()) // this process's own guard (pace.Lateness)
	l.mu.Unlock()
	ttl := (ttlWins*l.window + time.Millisecond - 1) / time.Millisecond // ≫ the longest window asked for
	all := append([]any{limit, window.Microseconds(), int64(ttl), increase}, args...)
	res, err := s.Run(ctx2, l.client, l.keys, all...).Int64Slice()
	if err == nil && len(res) != 5 {
		err = fmt.Errorf("unexpected script reply %v", res)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err() // the caller gave up: says nothing of Redis
		}
		err = fmt.Errorf("%w: sender key %s: %w", ErrUnavailable, herald.KeyLabel(l.senderKey), err)
		l.health.fail(err)
		return nil, err
	}
	l.health.ok()
	return res, nil
}

// ping checks that Redis answers, within the call timeout.
func (l *Limiter) ping(ctx context.Context) error {
	ctx2, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	if err := l.client.Ping(ctx2).Err(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		err = fmt.Errorf("%w: sender key %s: %w", ErrUnavailable, herald.KeyLabel(l.senderKey), err)
		l.health.fail(err)
		return err
	}
	l.health.ok()
	return nil
}

// observe records a script's reply {status, value, now, cut_level×1000,
// cut_at}; reason is set when it is this process's own cut.
func (l *Limiter) observe(res []int64, limit int, reason string) {
	server := time.UnixMicro(res[2])
	l.mu.Lock()
	l.offset = time.Until(server)
	prevCut, last := l.cutAt, l.cur
	before := l.currentAt(server) // what this process believed, at this time
	l.cutLevel, l.cutAt = float64(res[3])/1000, res[4]
	cutElsewhere := l.cutAt != prevCut
	now := l.currentAt(server)
	l.cur = now
	full := float64(l.limit)
	cb, k := l.OnChange, 1-l.headroom
	l.mu.Unlock()
	old := before
	switch {
	case reason != "":
	case cutElsewhere && now < before:
		reason = "throttled by another process"
	case last < full && now >= full:
		old, reason = last, "recovered"
	default:
		return
	}
	if cb != nil && now != old {
		cb(old*k, now*k, reason)
	}
}

// currentAt is the current limit at server time t; l.mu must be held. It is
// the script's cur.
func (l *Limiter) currentAt(t time.Time) float64 {
	limit := float64(l.limit)
	if l.cutAt == 0 {
		return limit
	}
	secs := math.Max(0, math.Floor(float64(t.UnixMicro()-l.cutAt)/1e6))
	return math.Min(limit, l.cutLevel+secs*increase*limit)
}

// health tracks whether Redis answers, logging once per outage.
type health struct {
	log    *slog.Logger
	mu     sync.Mutex
	err    error
	since  time.Time
	failed time.Time // the last failure
}

func newHealth(log *slog.Logger) *health {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &health{log: log}
}

func (h *health) fail(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failed = time.Now()
	if h.err == nil {
		h.since = time.Now()
		h.log.Error("redis unreachable: sending stops until it is back", "err", err)
	}
	h.err = err
}

func (h *health) ok() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err != nil {
		h.log.Info("redis reachable again: sending resumes",
			"outage", time.Since(h.since).Round(time.Millisecond).String())
		h.err = nil
	}
}

func (h *health) lastFailure() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.failed
}

// sleepCtx waits d or until ctx ends; false when ctx ended.
func sleepCtx(ctx context.Context, d time.Duration) bool { return clock.Sleep(ctx, d) }

func (h *health) get() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err
}

// Limiters hands out one Limiter per sender key, all sharing one client,
// configuration and health (so an outage is logged once, not per key).
type Limiters struct {
	// OnChange, if set before first use, becomes each Limiter's OnChange.
	OnChange func(senderKey string, old, new float64, reason string)

	client   goredis.UniversalClient
	limit    int
	headroom float64
	health   *health
	mu       sync.Mutex
	m        map[string]*Limiter
}

// NewLimiters returns a factory of limiters of limit recipients per second
// each (see New).
func NewLimiters(client goredis.UniversalClient, limit int, headroom float64, log *slog.Logger) *Limiters {
	return &Limiters{client: client, limit: limit, headroom: headroom,
		health: newHealth(log), m: map[string]*Limiter{}}
}

// Get returns the limiter of senderKey, creating it on first use.
func (ls *Limiters) Get(senderKey string) *Limiter {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	l, ok := ls.m[senderKey]
	if !ok {
		l = newLimiter(ls.client, senderKey, ls.limit, ls.headroom, ls.health)
		if cb := ls.OnChange; cb != nil {
			l.OnChange = func(old, new float64, reason string) { cb(senderKey, old, new, reason) }
		}
		ls.m[senderKey] = l
	}
	return l
}

// Healthy is nil while Redis answers, else the last error.
func (ls *Limiters) Healthy() error { return ls.health.get() }

// Open connects to a redis:// or rediss:// URL (go-redis's ParseURL
// syntax) with timeouts fit for a rate limiter: unless the URL sets them,
// 1 s to dial, 500 ms to read or write, 1 s to get a pooled connection;
// context deadlines honoured and one dial attempt per command (see
// newClient). It pings once and fails (wrapping
// ErrUnavailable) if Redis does not answer.
func Open(ctx context.Context, rawURL string) (goredis.UniversalClient, error) {
	opts, err := goredis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("redis url: %w", err)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("redis url: %w", err)
	}
	q := u.Query()
	set := func(name string, d *time.Duration, v time.Duration) {
		if !q.Has(name) {
			*d = v
		}
	}
	set("dial_timeout", &opts.DialTimeout, time.Second)
	set("read_timeout", &opts.ReadTimeout, DefaultTimeout)
	set("write_timeout", &opts.WriteTimeout, DefaultTimeout)
	set("pool_timeout", &opts.PoolTimeout, time.Second)
	client := newClient(opts)
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := client.Ping(pctx).Err(); err != nil {
		client.Close()
		return nil, fmt.Errorf("%w: ping %s: %w", ErrUnavailable, u.Redacted(), err)
	}
	return client, nil
}

// newClient applies what every client of a limiter needs: context
// deadlines honoured, one dial attempt per command (the limiter fails fast
// and the caller retries), no maintenance notifications, and go-redis's
// own log (a line per failed dial) demoted to slog's debug level, since
// the limiter logs each outage once.
func newClient(opts *goredis.Options) *goredis.Client {
	quietOnce.Do(func() { goredis.SetLogger(debugLog{}) })
	opts.ContextTimeoutEnabled = true
	opts.DialerRetries = 1
	if opts.MaintNotificationsConfig == nil {
		opts.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	}
	return goredis.NewClient(opts)
}

var quietOnce sync.Once

// debugLog sends go-redis's log to slog.Default at debug level.
type debugLog struct{}

func (debugLog) Printf(ctx context.Context, format string, v ...any) {
	slog.Default().DebugContext(ctx, fmt.Sprintf(format, v...), "component", "go-redis")
}
