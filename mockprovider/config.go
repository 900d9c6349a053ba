// Package mockprovider is a stand-in for Infobank's Bizgo API (PROVIDER.md):
// the same wire format, enforcement of the recipients-per-second limit,
// idempotency keys, reports posted back (or polled), configurable faults,
// and statistics that show whether the client sending to it behaved:
// duplicates per recipient and the busiest 1-second window.
package mockprovider

import (
	"fmt"
	"net/url"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/infobank"
	"github.com/heraldhq/herald/template"
)

// Report delivery modes.
const (
	ReportsWebhook = "webhook" // POST each report to ReportURL
	ReportsPolling = "polling" // keep reports for GET …/report/polling
	ReportsOff     = "off"     // no reports at all (inquiry finds nothing)
)

// Report body formats for the webhook.
const (
	FormatBizgo = "bizgo"
	FormatSeed  = "seed"
)

// Ways to answer a replayed request (A301).
const (
	DuplicatePerDestination = "destination"
	DuplicateNoMsgKey       = "destination-no-msgkey"
	DuplicateRequest        = "request"
)

// Ways to answer a rate refusal (A020).
const (
	RateLimitAs429 = "429" // HTTP 429, as documented
	RateLimitIn200 = "200" // inside an HTTP 200, as the official SDK's test fake answers
)

// Limits on the configuration.
const (
	MaxTPS = 1_000_000
	// ReportRetriesUntilAcked as ReportRetries: no limit on the attempts.
	ReportRetriesUntilAcked = -1
)

// Config configures a Server. Start from DefaultConfig: a zero field is
// taken literally (a zero report delay means none).
type Config struct {
	// APIKey is the expected Authorization header; empty accepts any.
	APIKey string
	// TPS is the most recipients accepted in any trailing 1-second window.
	TPS int
	// Templates is the template catalog; empty means any templateCode is
	// accepted and texts are not checked. Inspection gives a code's
	// inspection state (REG, REQ, APR, REJ); without one, an approved
	// template is APR, a rejected one REJ and a draft REQ. Only APR
	// templates may be sent (else A505); the template API serves them all.
	Templates  []herald.Template
	Inspection map[string]string

	// Account gating. SenderKeys are the Kakao sender profiles the account
	// owns (empty: any); a send with another answers 400 A502.
	// RegisteredFrom are the registered SMS/LMS sender numbers (empty:
	// any); a fallback from another answers 400 A327.
	SenderKeys     []string
	RegisteredFrom []string
	// DuplicateAnswer is how a replay (a known idempotency key) is
	// answered: DuplicatePerDestination (A301 with the original msgKey, per
	// destination, in a 200), DuplicateNoMsgKey (the same without the
	// msgKey) or DuplicateRequest (HTTP 400 A301 for the whole request
	// when all of it is a replay).
	DuplicateAnswer string

	// Latency is the median answer time; each answer takes a uniformly
	// random time in [Latency-LatencySpread, Latency+LatencySpread].
	Latency       time.Duration
	LatencySpread time.Duration
	// TailRate of answers take TailLatency instead: the long tail of a
	// real provider (e.g. 0.01 and 1s for a p99 of about a second).
	TailRate    float64
	TailLatency time.Duration
	// RefuseRate answers 503 A920 without accepting anything.
	RefuseRate float64
	// FailAfterAcceptRate accepts, then answers 500 A910 (in doubt).
	FailAfterAcceptRate float64
	// HangRate accepts, then never answers until the client gives up.
	HangRate float64

	// Result mix, chosen per recipient number from a hash with Seed.
	NotUserRate   float64 // report 63019
	BlockedRate   float64 // report 63020
	UncertainRate float64 // report 63005
	Seed          uint64

	// Reports is ReportsWebhook, ReportsPolling or ReportsOff.
	Reports      string
	ReportURL    string
	ReportSecret string // signs X-IB-Signature when set
	ReportToken  string // sent as Authorization: Bearer when set
	ReportFormat string // FormatBizgo or FormatSeed
	ReportDelay  time.Duration
	// ReportConcurrency is the number of reports posted at once.
	ReportConcurrency int
	// ReportQueue is how many reports may wait; beyond, they are dropped
	// (and counted) so that the mock never blocks its send path.
	ReportQueue   int
	ReportTimeout time.Duration // an answer must come within this
	// ReportRetries is the further attempts after the first (Bizgo makes
	// 3); ReportRetriesUntilAcked posts again until the webhook
	// acknowledges or the mock stops, waiting what a refusal's
	// Retry-After asks (else the backoff, capped at maxReportBackoff).
	ReportRetries int
	ReportBackoff time.Duration // before the first retry, doubling after
	// ReportNewConnection posts each report on a TCP connection of its
	// own (no keep-alive), as some providers do: the webhook's worst case
	// for connections and memory.
	ReportNewConnection bool
	ReportLossRate      float64 // reports never posted
	ReportDupRate       float64 // reports posted twice
	// ReportStore is how many msgKeys keep their reports for inquiry and
	// how many reports wait for polling.
	ReportStore int

	// Brownout is a timed fault schedule (hold, refuse, 429, ok phases),
	// played once, BrownoutAfter after its start: the first send that
	// accepted anyone (BrownoutFrom "first-send", the default) or Start
	// ("start"). POST /mock/brownout starts another at any time.
	Brownout      []Phase
	BrownoutAfter time.Duration
	BrownoutFrom  string
	// HoldAnswer is how long a hold phase holds each answer; longer than
	// the client's timeout (herald's default is 10 s) makes it time out.
	HoldAnswer time.Duration

	// APIRate is how many non-send requests (inquiry, polling, ack,
	// templates) the account may make in any trailing second, independent
	// of TPS; beyond, they are answered A020. 0 means no limit.
	APIRate int
	// RateLimitAnswer is RateLimitAs429 or RateLimitIn200: how an A020
	// refusal is answered, for sends and the other APIs alike.
	RateLimitAnswer string

	// MaxBody limits a request body in bytes.
	MaxBody int64
	// StatsSeconds is how many seconds of per-second counts are kept.
	StatsSeconds int
	// LogEvery is the interval of the "accepted=N" log line.
	LogEvery time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// DefaultConfig returns the defaults: 200 TPS, reports after 100 ms.
func DefaultConfig() Config {
	return Config{
		TPS:               200,
		APIRate:           5,
		RateLimitAnswer:   RateLimitAs429,
		DuplicateAnswer:   DuplicatePerDestination,
		Reports:           ReportsPolling,
		ReportFormat:      FormatBizgo,
		ReportDelay:       100 * time.Millisecond,
		ReportConcurrency: 32,
		ReportQueue:       100_000,
		ReportTimeout:     5 * time.Second,
		ReportRetries:     3,
		ReportBackoff:     100 * time.Millisecond,
		ReportStore:       1_000_000,
		MaxBody:           1 << 20,
		StatsSeconds:      3600,
		LogEvery:          time.Second,
		BrownoutFrom:      BrownoutFromFirstSend,
		HoldAnswer:        15 * time.Second,
	}
}

// Validate reports the first invalid field by name.
func (c Config) Validate() error {
	if c.TPS < 1 || c.TPS > MaxTPS {
		return herald.Invalid("tps", "must be 1..%d, not %d", MaxTPS, c.TPS)
	}
	if err := checkRates(c); err != nil {
		return err
	}
	if err := checkDurations(c); err != nil {
		return err
	}
	if err := checkReports(c); err != nil {
		return err
	}
	if err := checkBrownout(c); err != nil {
		return err
	}
	if c.APIRate < 0 {
		return herald.Invalid("apiRate", "must not be negative")
	}
	if c.RateLimitAnswer != RateLimitAs429 && c.RateLimitAnswer != RateLimitIn200 {
		return herald.Invalid("rateLimitAnswer", "must be %q or %q, not %q", RateLimitAs429, RateLimitIn200, c.RateLimitAnswer)
	}
	switch c.DuplicateAnswer {
	case DuplicatePerDestination, DuplicateNoMsgKey, DuplicateRequest:
	default:
		return herald.Invalid("duplicateAnswer", "must be %q, %q or %q, not %q", DuplicatePerDestination, DuplicateNoMsgKey, DuplicateRequest, c.DuplicateAnswer)
	}
	for code, st := range c.Inspection {
		switch st {
		case infobank.InspectionRegistered, infobank.InspectionRequested, infobank.InspectionApproved, infobank.InspectionRejected:
		default:
			return herald.Invalid("inspection", "%s: %q is not REG, REQ, APR or REJ", code, st)
		}
	}
	if c.MaxBody < 1024 {
		return herald.Invalid("maxBody", "must be at least 1024 bytes")
	}
	if c.StatsSeconds < 1 {
		return herald.Invalid("statsSeconds", "must be at least 1")
	}
	return checkTemplates(c.Templates)
}

func checkRates(c Config) error {
	rates := []struct {
		name string
		v    float64
	}{
		{"refuseRate", c.RefuseRate}, {"failAfterAcceptRate", c.FailAfterAcceptRate},
		{"hangRate", c.HangRate}, {"notUserRate", c.NotUserRate}, {"blockedRate", c.BlockedRate},
		{"uncertainRate", c.UncertainRate}, {"reportLossRate", c.ReportLossRate},
		{"reportDupRate", c.ReportDupRate},
	}
	for _, r := range rates {
		if !(r.v >= 0 && r.v <= 1) {
			return herald.Invalid(r.name, "must be between 0 and 1, not %v", r.v)
		}
	}
	if s := c.RefuseRate + c.FailAfterAcceptRate + c.HangRate; s > 1 {
		return herald.Invalid("hangRate", "RefuseRate + FailAfterAcceptRate + HangRate must not exceed 1 (is %v)", s)
	}
	if s := c.NotUserRate + c.BlockedRate + c.UncertainRate; s > 1 {
		return herald.Invalid("uncertainRate", "NotUserRate + BlockedRate + UncertainRate must not exceed 1 (is %v)", s)
	}
	return nil
}

func checkDurations(c Config) error {
	switch {
	case c.Latency < 0:
		return herald.Invalid("latency", "must not be negative")
	case c.LatencySpread < 0:
		return herald.Invalid("latencySpread", "must not be negative")
	case c.TailRate < 0 || c.TailRate > 1:
		return herald.Invalid("tailRate", "must be in [0, 1]")
	case c.TailLatency < 0:
		return herald.Invalid("tailLatency", "must not be negative")
	case c.ReportDelay < 0:
		return herald.Invalid("reportDelay", "must not be negative")
	case c.ReportTimeout <= 0:
		return herald.Invalid("reportTimeout", "must be positive")
	case c.ReportBackoff < 0:
		return herald.Invalid("reportBackoff", "must not be negative")
	case c.LogEvery < 0:
		return herald.Invalid("logEvery", "must not be negative (0 turns the log line off)")
	}
	return nil
}

func checkReports(c Config) error {
	switch c.Reports {
	case ReportsWebhook:
		u, err := url.Parse(c.ReportURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return herald.Invalid("reportURL", "must be an http or https URL when Reports is %q", ReportsWebhook)
		}
	case ReportsPolling, ReportsOff:
	default:
		return herald.Invalid("reports", "must be %q, %q or %q, not %q", ReportsWebhook, ReportsPolling, ReportsOff, c.Reports)
	}
	if c.ReportFormat != FormatBizgo && c.ReportFormat != FormatSeed {
		return herald.Invalid("reportFormat", "must be %q or %q, not %q", FormatBizgo, FormatSeed, c.ReportFormat)
	}
	switch {
	case c.ReportConcurrency < 1:
		return herald.Invalid("reportConcurrency", "must be at least 1")
	case c.ReportQueue < 1:
		return herald.Invalid("reportQueue", "must be at least 1")
	case c.ReportRetries < ReportRetriesUntilAcked || c.ReportRetries > 10:
		return herald.Invalid("reportRetries", "must be 0..10, or -1 for until acknowledged")
	case c.ReportRetries == ReportRetriesUntilAcked && c.ReportBackoff <= 0:
		return herald.Invalid("reportBackoff", "must be positive when reportRetries is -1 (until acknowledged)")
	case c.ReportStore < 0:
		return herald.Invalid("reportStore", "must not be negative")
	}
	return nil
}

func checkTemplates(ts []herald.Template) error {
	seen := make(map[string]bool, len(ts))
	for i, t := range ts {
		field := fmt.Sprintf("templates[%d]", i)
		if t.Code == "" {
			return herald.Invalid(field+".code", "is required")
		}
		if seen[t.Code] {
			return herald.Invalid(field+".code", "%q appears twice", t.Code)
		}
		seen[t.Code] = true
		if _, err := template.Parse(t.Text); err != nil {
			return herald.Invalid(field+".text", "%v", err)
		}
	}
	return nil
}
