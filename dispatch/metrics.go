package dispatch

import (
	"errors"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	herald "github.com/heraldhq/herald"
)

type metrics struct {
	outcomes   *prometheus.CounterVec
	rejected   *prometheus.CounterVec
	inflight   prometheus.Gauge
	resends    prometheus.Counter
	unknown    prometheus.Counter
	recovered  prometheus.Counter
	recorded   prometheus.Counter
	noFallback prometheus.Counter
	inquired   prometheus.Counter
	expired    prometheus.Counter
	halts      *prometheus.CounterVec
	panics     *prometheus.CounterVec
	leaseShort prometheus.Counter
	leader     *prometheus.GaugeVec
	windowShut prometheus.Counter
	sendTime   prometheus.Histogram
	pacerWait  prometheus.Histogram
	claimed    prometheus.Counter
	retries    prometheus.Counter
	inDoubt    prometheus.Counter
	pauses     *prometheus.CounterVec
	queued     prometheus.Gauge
}

// latencyBuckets spans a fast provider (a few ms) to its timeout (10 s).
var latencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// Reasons of herald_dispatch_pauses_total, from the reason the dispatcher
// stores (see halt): an account-level refusal, the error breaker, a
// campaign that cannot start, anything else.
var pauseReasons = []string{"account", "breaker", "cannot_start", "other"}

func pauseReason(reason string) string {
	switch {
	case strings.HasPrefix(reason, "provider refused the account"):
		return "account"
	case strings.HasPrefix(reason, "error breaker"):
		return "breaker"
	case strings.HasPrefix(reason, "cannot start"):
		return "cannot_start"
	}
	return "other"
}

// halt counts a campaign the dispatcher halted, by state and by reason.
func (m *metrics) halt(to herald.CampaignState, reason string) {
	m.halts.WithLabelValues(string(to)).Inc()
	m.pauses.WithLabelValues(pauseReason(reason)).Inc()
}

// update counts what a recorded send result leads to: another attempt
// under a new key (provably refused), or a wait in doubt.
func (m *metrics) update(u herald.RecipientUpdate) {
	switch {
	case u.State == herald.RecipientRetryWait && u.InDoubt:
		m.inDoubt.Inc()
	case u.State == herald.RecipientRetryWait:
		m.retries.Inc()
	}
}

// since observes the seconds from start on h.
func since(h prometheus.Histogram, start time.Time) { h.Observe(time.Since(start).Seconds()) }

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "herald_dispatch_outcomes_total",
			Help: "Destinations sent, by outcome (accepted, refused-retryable, refused-permanent, in-doubt)."}, []string{"outcome"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "herald_dispatch_not_sent_total",
			Help: "Claimed recipients not sent, by resulting state (SKIPPED: withdrawn, FAILED: render or mismatch)."}, []string{"state"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "herald_dispatch_inflight_requests",
			Help: "Provider requests in flight."}),
		resends: prometheus.NewCounter(prometheus.CounterOpts{Name: "herald_dispatch_in_doubt_resends_total",
			Help: "In-doubt requests resent under the same idempotency key."}),
		unknown: prometheus.NewCounter(prometheus.CounterOpts{Name: "herald_dispatch_unknown_total",
			Help: "Recipients left UNKNOWN for an operator."}),
		recovered: prometheus.NewCounter(prometheus.CounterOpts{Name: "herald_dispatch_recovered_total",
			Help: "Recipients handed back from a process whose heartbeat stopped."}),
		recorded: prometheus.NewCounter(prometheus.CounterOpts{Name: "herald_dispatch_recorded_total",
			Help: "Send results written to the database."}),
		noFallback: prometheus.NewCounter(prometheus.CounterOpts{Name: "herald_dispatch_no_fallback_total",
			Help: "Messages sent without SMS/LMS fallback because the text cannot be encoded in EUC-KR or is too long."}),
		inquired: prometheus.NewCounter(prometheus.CounterOpts{Name: "herald_dispatch_inquired_reports_total",
			Help: "Overdue reports found by report inquiry and applied."}),
		expired: prometheus.NewCounter(prometheus.CounterOpts{Name: "herald_dispatch_no_report_total",
			Help: "Accepted recipients made UNKNOWN (NO_REPORT) because no report came within the report window."}),
		halts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "herald_dispatch_campaign_halts_total",
			Help: "Campaigns paused or failed by the dispatcher (account refusal, error breaker, unusable template), by state."}, []string{"state"}),
		panics: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "herald_dispatch_panics_total",
			Help: "Panics contained in the dispatcher, by stage (prepare, send)."}, []string{"stage"}),
		leaseShort: prometheus.NewCounter(prometheus.CounterOpts{Name: "herald_dispatch_lease_too_short_total",
			Help: "Requests not started because this process's lease would end before they could finish."}),
		leader: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "herald_dispatch_sender_key_leader",
			Help: "1 while this process is the one that sends for the sender key (without a shared Redis limiter)."}, []string{"sender_key"}),
		windowShut: prometheus.NewCounter(prometheus.CounterOpts{Name: "herald_dispatch_send_window_closings_total",
			Help: "Times a running campaign stopped claiming because its send window closed."}),
		sendTime: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "herald_dispatch_send_duration_seconds",
			Help: "Duration of one provider request, from sending to its answer (or timeout).", Buckets: latencyBuckets}),
		pacerWait: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "herald_dispatch_pacer_wait_seconds",
			Help: "Time a request waited for the campaign's and the sender key's rate limits.", Buckets: latencyBuckets}),
		claimed: prometheus.NewCounter(prometheus.CounterOpts{Name: "herald_dispatch_claimed_total",
			Help: "Recipients claimed for sending (first sends and in-doubt resends)."}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{Name: "herald_dispatch_retries_total",
			Help: "Send results that wait for another attempt under a new key (the provider provably took nothing)."}),
		inDoubt: prometheus.NewCounter(prometheus.CounterOpts{Name: "herald_dispatch_in_doubt_total",
			Help: "Send results left in doubt (timeout, 5xx, refused resend): resent only as the same request under its key."}),
		pauses: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "herald_dispatch_pauses_total",
			Help: "Campaigns halted by the dispatcher, by reason (account, breaker, cannot_start, other)."}, []string{"reason"}),
		queued: prometheus.NewGauge(prometheus.GaugeOpts{Name: "herald_dispatch_queued_requests",
			Help: "Requests claimed and prepared, waiting for a worker and the rate limits."}),
	}
	// Known label values start at 0, so that dashboards and alerts see
	// the series before the first event.
	for _, r := range pauseReasons {
		m.pauses.WithLabelValues(r)
	}
	for _, st := range []herald.CampaignState{herald.CampaignPaused, herald.CampaignFailed} {
		m.halts.WithLabelValues(string(st))
	}
	for _, k := range []herald.OutcomeKind{herald.Accepted, herald.RefusedRetryable, herald.RefusedPermanent, herald.InDoubt, herald.RefusedAccount} {
		m.outcomes.WithLabelValues(k.String())
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.outcomes, m.rejected, m.inflight, m.resends, m.unknown, m.recovered, m.recorded, m.noFallback, m.inquired, m.expired, m.halts, m.panics, m.leaseShort, m.leader, m.windowShut,
		m.sendTime, m.pacerWait, m.claimed, m.retries, m.inDoubt, m.pauses, m.queued} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, err
			}
		}
	}
	return m, nil
}
