package dispatch

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
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
}

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
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.outcomes, m.rejected, m.inflight, m.resends, m.unknown, m.recovered, m.recorded, m.noFallback, m.inquired, m.expired, m.halts, m.panics, m.leaseShort, m.leader, m.windowShut} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, err
			}
		}
	}
	return m, nil
}
