package ingest

import (
	"sync"

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
	quarantined    prometheus.Counter
	committed      *prometheus.CounterVec
	lateMatched    prometheus.Counter
	commitErrors   prometheus.Counter
	commitPanics   prometheus.Counter
	batchSize      prometheus.Histogram
	commitDuration prometheus.Histogram
	byCode         *prometheus.CounterVec
	codes          codeLabels
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
		quarantined: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_report_spool_quarantined_total",
			Help: "Spooled reports moved to a quarantine file because their commit kept failing (or panicked) while the database took others.",
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
	m.byCode = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "herald_reports_by_code_total",
		Help: "Reports stored, by channel (AT, SMS, LMS, MMS, other) and report code (10000 delivered, 63019…; other past the first 100 codes).",
	}, []string{"channel", "code"})
	cs := []prometheus.Collector{m.received, m.shed, m.timeouts, m.deduped, m.committed, m.lateMatched, m.commitErrors,
		m.commitPanics, m.batchSize, m.commitDuration, m.byCode, m.slowCommits, m.spooled, m.replayed, m.spoolErrors,
		m.quarantined,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "herald_report_spool_quarantine_reports",
			Help: "Reports in the spool directory's quarantine files (this run's and earlier ones'), waiting for an operator.",
		}, func() float64 { return float64(in.quarantinedReports()) }),
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

// countCodes counts committed reports by channel and code.
func (m *metrics) countCodes(reports []herald.Report) {
	for _, r := range reports {
		m.byCode.WithLabelValues(channelLabel(r.ServiceType), m.codes.label(r.Code)).Inc()
	}
}

func channelLabel(service string) string {
	switch service {
	case herald.ChannelAlimTalk, herald.ChannelSMS, herald.ChannelLMS, herald.ChannelMMS:
		return herald.ChannelName(service)
	}
	return "other"
}

// maxCodeLabels bounds the code label: codes come from outside, and each
// new value is a series kept for the life of the process.
const maxCodeLabels = 100

// codeLabels hands out code labels: a short alphanumeric code as itself
// while fewer than maxCodeLabels are known, "other" for the rest.
type codeLabels struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (c *codeLabels) label(code string) string {
	if len(code) == 0 || len(code) > 8 {
		return "other"
	}
	for _, b := range []byte(code) {
		if !('0' <= b && b <= '9' || 'A' <= b && b <= 'Z' || 'a' <= b && b <= 'z') {
			return "other"
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = map[string]bool{}
	}
	if !c.seen[code] && len(c.seen) >= maxCodeLabels {
		return "other"
	}
	c.seen[code] = true
	return code
}
