package ingest

import (
	"github.com/prometheus/client_golang/prometheus"

	herald "github.com/heraldhq/herald"
)

type metrics struct {
	received       prometheus.Counter
	shed           prometheus.Counter
	timeouts       prometheus.Counter
	deduped        *prometheus.CounterVec
	slowCommits    prometheus.Counter
	spooled        prometheus.Counter
	replayed       prometheus.Counter
	spoolErrors    prometheus.Counter
	committed      *prometheus.CounterVec
	lateMatched    prometheus.Counter
	commitErrors   prometheus.Counter
	commitPanics   prometheus.Counter
	batchSize      prometheus.Histogram
	commitDuration prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer, in *Ingest) (*metrics, error) {
	m := &metrics{
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_reports_received_total",
			Help: "Valid reports queued for commit.",
		}),
		shed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_reports_shed_total",
			Help: "Reports refused (429) because the queue was full.",
		}),
		timeouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_reports_wait_timeouts_total",
			Help: "Reports not durable within the wait timeout (503); they may still be stored.",
		}),
		deduped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_reports_deduplicated_total",
			Help: "Copies answered without a write, by where the original was: batch (the same batch), recent (stored lately).",
		}, []string{"where"}),
		slowCommits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_report_slow_commits_total",
			Help: "Report batches spooled because their commit took longer than the spool threshold.",
		}),
		spooled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_reports_spooled_total",
			Help: "Reports made durable in the local spool instead of the database.",
		}),
		replayed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_reports_replayed_total",
			Help: "Spooled reports written to the database by the replay.",
		}),
		spoolErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_report_spool_errors_total",
			Help: "Batches the spool refused (full, or a write failed); their callers were refused.",
		}),
		committed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_reports_committed_total",
			Help: "Reports stored, by result: matched (moved a recipient), unmatched (kept for later), unchanged (duplicate or outranked), held (msgKey contradicts the one recorded for its ref: kept, not applied).",
		}, []string{"result"}),
		lateMatched: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_reports_late_matched_total",
			Help: "Unmatched reports matched later by the sweep.",
		}),
		commitErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_report_commit_errors_total",
			Help: "Report batches whose transaction failed (their requests got 503).",
		}),
		commitPanics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_report_commit_panics_total",
			Help: "Report batches whose commit panicked (their requests got 503; the committer went on).",
		}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "herald_report_batch_size",
			Help:    "Reports per committed batch.",
			Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000},
		}),
		commitDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "herald_report_commit_duration_seconds",
			Help:    "Duration of one report batch transaction.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
		}),
	}
	cs := []prometheus.Collector{m.received, m.shed, m.timeouts, m.deduped, m.committed, m.lateMatched, m.commitErrors,
		m.commitPanics, m.batchSize, m.commitDuration, m.slowCommits, m.spooled, m.replayed, m.spoolErrors,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "herald_report_spool_bytes",
			Help: "Bytes in the local report spool, waiting for the database.",
		}, func() float64 { return float64(in.SpoolBytes()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "herald_report_queue_depth",
			Help: "Reports waiting for a committer.",
		}, func() float64 { return float64(in.QueueDepth()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "herald_report_queue_capacity",
			Help: "Bound of the report queue; beyond it requests get 429.",
		}, func() float64 { return float64(in.QueueCapacity()) }),
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) count(r herald.ReportResult) {
	m.committed.WithLabelValues("matched").Add(float64(r.Matched))
	m.committed.WithLabelValues("unmatched").Add(float64(r.Unmatched))
	m.committed.WithLabelValues("unchanged").Add(float64(r.Unchanged))
	m.committed.WithLabelValues("held").Add(float64(r.Held))
}
