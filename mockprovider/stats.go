package mockprovider

import "sync/atomic"

// Stats is what the mock saw, for GET /mock/stats and the stats file.
// Recipient counts are destinations, not requests.
type Stats struct {
	TPS int `json:"tps"`
	// Requests counts send requests; Unauthorized and BadRequests are
	// those refused for a bad key or a malformed body.
	Requests     int64 `json:"requests"`
	Unauthorized int64 `json:"unauthorized"`
	BadRequests  int64 `json:"bad_requests"`
	// Accepted counts recipients accepted (each is delivered a report).
	Accepted int64 `json:"accepted"`
	// Replayed counts recipients answered A301: accepted earlier under the
	// same idempotency key, not delivered again.
	Replayed int64 `json:"replayed"`
	// RefusedRateLimit counts recipients in requests refused with 429 by
	// the limiter (a brown-out's 429 phase counts its own, in Brownout).
	RefusedRateLimit    int64 `json:"refused_rate_limit"`
	RateLimitedRequests int64 `json:"rate_limited_requests"`
	// RefusedOther counts recipients refused otherwise (bad number, 503).
	RefusedOther      int64 `json:"refused_other"`
	FailedAfterAccept int64 `json:"failed_after_accept"`
	Hung              int64 `json:"hung"`

	UniqueRecipients int `json:"unique_recipients"`
	// DuplicateRecipients counts numbers accepted more than once.
	DuplicateRecipients        int      `json:"duplicate_recipients"`
	DuplicateRecipientExamples []string `json:"duplicate_recipient_examples"`
	UniqueRefs                 int      `json:"unique_refs"`
	// DuplicateRefs counts destination refs (herald message ids) accepted
	// more than once: the duplicates that matter most.
	DuplicateRefs        int      `json:"duplicate_refs"`
	DuplicateRefExamples []string `json:"duplicate_ref_examples"`

	// MaxWindow is the most recipients accepted in any trailing second.
	MaxWindow int `json:"max_window"`
	// WindowsOverLimit counts acceptances after which the trailing second
	// held more than TPS recipients: a self-check, 0 unless the limiter is wrong.
	WindowsOverLimit int64         `json:"windows_over_limit"`
	PerSecond        []SecondCount `json:"per_second"`

	// ReportsSent counts webhook POSTs (retries and duplicate copies
	// included), ReportsRetried those that were a post again, and
	// ReportsRefused the answers 429 or 503 (the webhook asked to come
	// back later).
	ReportsSent         int64 `json:"reports_sent"`
	ReportsAcked        int64 `json:"reports_acked"`
	ReportsRetried      int64 `json:"reports_retried"`
	ReportsRefused      int64 `json:"reports_refused"`
	ReportsGivenUp      int64 `json:"reports_given_up"`
	ReportsLost         int64 `json:"reports_lost"`
	ReportsDuplicated   int64 `json:"reports_duplicated"`
	ReportsDropped      int64 `json:"reports_dropped"`
	ReportsQueued       int   `json:"reports_queued"`
	ReportsPolled       int64 `json:"reports_polled"`
	ReportsAwaitingPoll int   `json:"reports_awaiting_poll"`
	// PollBatches counts batches handed out for the first time,
	// PollRedelivered the times an unacknowledged batch was handed out
	// again, PollAcked the reports of acknowledged batches, and
	// PollOutstanding the reports of the batch handed out and not yet
	// acknowledged.
	PollBatches     int64 `json:"poll_batches"`
	PollRedelivered int64 `json:"poll_redelivered"`
	PollAcked       int64 `json:"poll_acked"`
	PollOutstanding int   `json:"poll_outstanding"`

	// APIRate is the non-send limit (requests in any trailing second, 0:
	// none); APIRequests counts inquiry, polling, ack and template
	// requests, APIRefusedRateLimit those refused with A020, and
	// APIMaxWindow the most that arrived in any trailing second (refused
	// ones included): a client that keeps the limit never exceeds APIRate.
	APIRate             int              `json:"api_rate"`
	APIRequests         int64            `json:"api_requests"`
	APIRefusedRateLimit int64            `json:"api_refused_rate_limit"`
	APIMaxWindow        int              `json:"api_max_window"`
	APIRequestsByKind   map[string]int64 `json:"api_requests_by_kind"`

	// BrownoutPhase is the kind of the brown-out phase on now ("" when
	// none); Brownout details the schedule, nil when there is none.
	BrownoutPhase string         `json:"brownout_phase"`
	Brownout      *BrownoutStats `json:"brownout,omitempty"`
}

// SecondCount is the recipients accepted in one wall-clock second.
type SecondCount struct {
	Second   int64 `json:"second"` // Unix time
	Accepted int   `json:"accepted"`
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	st := Stats{TPS: s.cfg.TPS}
	s.ledger.Load().snapshot(&st)
	c := &s.counts
	st.Requests, st.Unauthorized, st.BadRequests = c.requests.Load(), c.unauthorized.Load(), c.badRequests.Load()
	st.RefusedOther, st.FailedAfterAccept, st.Hung = c.refusedOther.Load(), c.failedAfterAccept.Load(), c.hung.Load()
	s.delivery.snapshot(&st)
	s.store.snapshot(&st)
	s.api.snapshot(&st)
	if st.Brownout = s.brownoutStats(); st.Brownout != nil {
		st.BrownoutPhase = st.Brownout.Phase
	}
	return st
}

// Reset forgets everything counted and remembered (idempotency keys,
// reports, the window). Reports already queued are still posted. The
// brown-out schedule and its per-phase counts are left alone.
func (s *Server) Reset() {
	s.ledger.Store(newLedger(s.cfg.TPS, s.cfg.StatsSeconds))
	c := &s.counts
	for _, n := range []*atomic.Int64{&c.requests, &c.unauthorized, &c.badRequests, &c.refusedOther, &c.failedAfterAccept, &c.hung} {
		n.Store(0)
	}
	s.delivery.reset()
	s.store.reset()
	s.api.reset()
}
