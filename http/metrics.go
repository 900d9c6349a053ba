package http

import (
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// NewRegistry returns a registry with the Go runtime and process collectors,
// ready to hand to ServerConfig.Registry and to other components.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	imported *prometheus.CounterVec
	// routes caches the series of each (route, code): a look-up by label
	// values hashes them on every request.
	routes sync.Map // routeCode → routeSeries
}

type routeCode struct {
	route string
	code  int
}

type routeSeries struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

func newMetrics(reg prometheus.Registerer) *metrics {
	return &metrics{
		requests: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_http_requests_total",
			Help: "HTTP requests by route pattern and status code.",
		}, []string{"route", "code"})),
		duration: register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "herald_http_request_duration_seconds",
			Help:    "HTTP request duration by route pattern.",
			Buckets: []float64{.001, .005, .025, .1, .5, 2.5, 10, 60},
		}, []string{"route"})),
		imported: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_members_imported_total",
			Help: "Member rows received by imports, by result: inserted, updated, rejected, duplicate.",
		}, []string{"result"})),
	}
}

// register adds c to reg, or returns the collector already there, so that
// two servers may share one registry (tests, a future second listener).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(err) // a programming error: clashing metric names
	}
	return c
}

func (m *metrics) observe(route string, code int, d time.Duration) {
	k := routeCode{route, code}
	v, ok := m.routes.Load(k)
	if !ok {
		v, _ = m.routes.LoadOrStore(k, routeSeries{
			requests: m.requests.WithLabelValues(route, strconv.Itoa(code)),
			duration: m.duration.WithLabelValues(route),
		})
	}
	rs := v.(routeSeries)
	rs.requests.Inc()
	rs.duration.Observe(d.Seconds())
}

func (m *metrics) countImport(r ImportResult) {
	m.imported.WithLabelValues("inserted").Add(float64(r.Inserted))
	m.imported.WithLabelValues("updated").Add(float64(r.Updated))
	m.imported.WithLabelValues("rejected").Add(float64(r.Rejected))
	m.imported.WithLabelValues("duplicate").Add(float64(r.Duplicates))
}
