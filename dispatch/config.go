// Package dispatch is the sending pipeline: claim → re-check → render →
// pace → send → record, plus the scheduler that prepares due campaigns and
// the recovery of sends left in doubt by a crash.
package dispatch

import (
	"math/rand/v2"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/pace"
)

// Config tunes the dispatcher. Zero fields take the defaults in withDefaults.
type Config struct {
	// Owner names this process in leases; unique per process.
	Owner string
	// SenderKey, when set, replaces each template's own sender key.
	SenderKey string
	// GlobalTPS caps recipients per second per sender key across campaigns
	// (0: only each campaign's own TPS applies).
	GlobalTPS int
	// Headroom is the share of every limit left unused (default 1%).
	Headroom float64
	// Workers is the number of provider requests in flight at once.
	Workers int
	// BatchSize is the most destinations in one provider request.
	BatchSize int
	// LeaseTTL is how long after this process's last heartbeat its claims
	// stay its own: another process takes over the rows of an owner whose
	// heartbeat is older than that. Heartbeats come every LeaseTTL/5, and no
	// send starts (or lasts) past the lease.
	LeaseTTL time.Duration
	// RecoverInterval is how often this process looks for rows of dead
	// owners.
	RecoverInterval time.Duration
	// MaxAttempts bounds retries of provably refused sends.
	MaxAttempts int
	// RetryBase and RetryMax shape the exponential backoff with jitter.
	RetryBase, RetryMax time.Duration
	// InDoubtResends is how often an in-doubt request is resent with the
	// same idempotency key before the row becomes UNKNOWN.
	InDoubtResends int
	// ReportWindow is how long an accepted send may wait for its report
	// before it becomes UNKNOWN (NO_REPORT): the provider keeps undelivered
	// reports for 3 days.
	ReportWindow time.Duration
	// BreakerWindow and BreakerShare make the error breaker: when at least
	// BreakerShare of the last BreakerWindow first sends of a campaign were
	// refused for good, the campaign pauses with the reason instead of
	// failing its whole audience. BreakerWindow < 0 turns it off.
	BreakerWindow int
	BreakerShare  float64
	// IdempotencyTTL is how long the provider remembers a key; a resend
	// after it could deliver twice, so it is never attempted.
	IdempotencyTTL time.Duration
	// PollInterval is how often the scheduler and supervisor look for work.
	PollInterval time.Duration
	// FlushInterval and FlushSize bound how long and how many results wait
	// before one transaction records them.
	FlushInterval time.Duration
	FlushSize     int
	// InquireAfter is how long an accepted send waits for its report before
	// herald asks the provider (report inquiry), every InquiryInterval, at
	// most InquiryRate calls per second.
	InquireAfter    time.Duration
	InquiryInterval time.Duration
	InquiryRate     float64
	// FallbackFrom is the SMS callback number; empty sends no fallback.
	FallbackFrom string
	// SendWindow is the default hours (Asia/Seoul) of campaigns without a
	// window of their own; the zero value is always open. Outside its
	// window a campaign claims nothing and nothing of it leaves, in-doubt
	// resends included; it resumes at the next opening.
	SendWindow herald.SendWindow
	// SenderPacer, when set, gives the limiter of one sender key shared by
	// every process (Redis): every process then sends. When nil, the
	// sender key's limiter is local (GlobalTPS) and only the one process
	// that leads the sender key (Store.LeadSenderKey) sends for it, so that
	// several processes never multiply the limit.
	SenderPacer func(senderKey string) Pacer
	// Backlog, when set, reports how full the report queue is (0..1);
	// above 0.8 the dispatcher slows down, since every send brings a report.
	Backlog func() float64
	// Now is the clock; tests replace it.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.Owner == "" {
		c.Owner = "herald-" + randomID()
	}
	if c.Headroom == 0 {
		c.Headroom = pace.DefaultHeadroom
	}
	setDefault(&c.Workers, 64)
	setDefault(&c.BatchSize, 1)
	setDefault(&c.MaxAttempts, 5)
	setDefault(&c.InDoubtResends, 10)
	setDefault(&c.ReportWindow, 72*time.Hour)
	setDefault(&c.BreakerWindow, 200)
	if c.BreakerShare == 0 {
		c.BreakerShare = 0.5
	}
	setDefault(&c.FlushSize, 500)
	setDefault(&c.LeaseTTL, 10*time.Second)
	setDefault(&c.RecoverInterval, time.Second)
	setDefault(&c.RetryBase, time.Second)
	setDefault(&c.RetryMax, time.Minute)
	setDefault(&c.IdempotencyTTL, 24*time.Hour)
	setDefault(&c.PollInterval, 200*time.Millisecond)
	setDefault(&c.FlushInterval, 10*time.Millisecond)
	// A report normally follows its send within seconds; the provider
	// allows about 5 inquiry calls per second, herald uses 2.
	setDefault(&c.InquireAfter, 2*time.Minute)
	setDefault(&c.InquiryInterval, 10*time.Second)
	if c.InquiryRate == 0 {
		c.InquiryRate = 2
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v == 0 {
		*v = def
	}
}

// Validate names the setting at fault.
func (c Config) Validate() error {
	switch {
	case c.Workers < 1:
		return herald.Invalid("workers", "must be at least 1")
	case c.BatchSize < 1 || c.BatchSize > 200:
		return herald.Invalid("batchSize", "must be between 1 and 200 (the provider's limit)")
	case c.GlobalTPS < 0:
		return herald.Invalid("globalTPS", "must not be negative")
	case c.Headroom < 0 || c.Headroom >= 0.5:
		return herald.Invalid("headroom", "must be in [0, 0.5)")
	case c.IdempotencyTTL > 24*time.Hour:
		return herald.Invalid("idempotencyTTL", "the provider keeps keys at most 24h")
	case c.LeaseTTL < time.Second:
		return herald.Invalid("leaseTTL", "must be at least 1s")
	case c.BreakerShare <= 0 || c.BreakerShare > 1:
		return herald.Invalid("breakerShare", "must be in (0, 1]")
	}
	return nil
}

// backoff is the delay before retry number attempt (1-based), exponential
// with full jitter so that refused rows do not come back in lockstep.
func (c Config) backoff(attempt int) time.Duration {
	d := c.RetryBase << min(attempt-1, 16)
	if d > c.RetryMax || d <= 0 {
		d = c.RetryMax
	}
	return d/2 + rand.N(d/2+1)
}

func randomID() string {
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 8)
	for i := range b {
		b[i] = letters[rand.N(len(letters))]
	}
	return string(b)
}
