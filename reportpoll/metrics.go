package reportpoll

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	calls   *prometheus.CounterVec
	batches prometheus.Counter
	reports prometheus.Counter
	invalid prometheus.Counter
	leader  prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "herald_report_poll_calls_total",
			Help: "Polling API calls by call (poll, ack) and outcome (ok, rate_limited, error)."}, []string{"call", "outcome"}),
		batches: prometheus.NewCounter(prometheus.CounterOpts{Name: "herald_report_poll_batches_total",
			Help: "Polled batches stored and acknowledged."}),
		reports: prometheus.NewCounter(prometheus.CounterOpts{Name: "herald_report_poll_reports_total",
			Help: "Polled reports stored (a batch handed out again counts again)."}),
		invalid: prometheus.NewCounter(prometheus.CounterOpts{Name: "herald_report_poll_invalid_total",
			Help: "Polled reports left out because no store could keep them."}),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{Name: "herald_report_poll_leader",
			Help: "1 while this process is the one that polls reports."}),
	}
	for _, c := range []prometheus.Collector{m.calls, m.batches, m.reports, m.invalid, m.leader} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
