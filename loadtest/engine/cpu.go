package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/heraldhq/herald/internal/procstat"
)

// cpuMetric is the Prometheus process collector's CPU time counter.
const cpuMetric = "process_cpu_seconds_total"

// cpuSample is the CPU time of the target and of this process at one moment.
type cpuSample struct {
	at     time.Duration // since the run started
	target float64       // seconds; NaN when unknown
	self   float64       // seconds; NaN when unknown
}

// cpuSampler reads the target's process_cpu_seconds_total from its
// /metrics, and this process's own CPU time, once a second. A failed
// scrape leaves a gap; a target that never answers is given up after
// giveUpAfter tries, so that it is not polled for nothing.
type cpuSampler struct {
	url   string // empty: the target's CPU is not sampled
	hc    *http.Client
	start time.Time

	mu      sync.Mutex
	samples []cpuSample
	ok      int
	fails   int
	lastErr error
}

// giveUpAfter is how many failed scrapes, without one success, end sampling.
const giveUpAfter = 3

func newCPUSampler(metricsURL string, hc *http.Client, start time.Time) *cpuSampler {
	return &cpuSampler{url: metricsURL, hc: hc, start: start}
}

// run samples until ctx ends, then once more.
func (c *cpuSampler) run(ctx context.Context) {
	c.sample(ctx)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			c.sample(context.Background())
			return
		case <-t.C:
			c.sample(ctx)
		}
	}
}

func (c *cpuSampler) sample(ctx context.Context) {
	s := cpuSample{at: time.Since(c.start), target: math.NaN(), self: selfCPU()}
	if c.url != "" && c.trying() {
		v, err := scrapeCPU(ctx, c.hc, c.url)
		c.mu.Lock()
		switch {
		case err == nil:
			s.target = v
			c.ok++
		case ctx.Err() == nil:
			c.fails++
			c.lastErr = err
		}
		c.mu.Unlock()
	}
	c.mu.Lock()
	c.samples = append(c.samples, s)
	c.mu.Unlock()
}

func (c *cpuSampler) trying() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ok > 0 || c.fails < giveUpAfter
}

// warning explains missing CPU figures; empty when there are none missing.
func (c *cpuSampler) warning() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.lastErr == nil:
		return ""
	case c.ok == 0:
		return "target CPU not sampled: " + c.lastErr.Error()
	}
	return fmt.Sprintf("%d of %d scrapes of the target's CPU failed, the last with: %v", c.fails, c.fails+c.ok, c.lastErr)
}

// between returns the CPU use in percent of one core of the target and of
// this process between the samples nearest from and to.
func (c *cpuSampler) between(from, to time.Duration) (target, self float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return cpuRate(c.samples, from, to, func(s cpuSample) float64 { return s.target }),
		cpuRate(c.samples, from, to, func(s cpuSample) float64 { return s.self })
}

// cpuRate is the growth per second of a CPU counter, in percent, between the
// known samples nearest from and to; NaN without two of them.
func cpuRate(samples []cpuSample, from, to time.Duration, value func(cpuSample) float64) float64 {
	a, b := nearest(samples, from, value), nearest(samples, to, value)
	if a < 0 || b <= a {
		return math.NaN()
	}
	wall := (samples[b].at - samples[a].at).Seconds()
	return 100 * (value(samples[b]) - value(samples[a])) / wall
}

// nearest is the index of the known sample taken closest to t, -1 if none.
func nearest(samples []cpuSample, t time.Duration, value func(cpuSample) float64) int {
	best, dist := -1, time.Duration(math.MaxInt64)
	for i, s := range samples {
		if d := (s.at - t).Abs(); d < dist && !math.IsNaN(value(s)) {
			best, dist = i, d
		}
	}
	return best
}

// scrapeCPU fetches the metrics page and reads the CPU counter.
func scrapeCPU(ctx context.Context, hc *http.Client, url string) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return parseCPU(io.LimitReader(resp.Body, 16<<20))
}

// errNoCPUMetric is returned for a metrics page without the CPU counter.
var errNoCPUMetric = errors.New("no " + cpuMetric + " in the metrics")

// parseCPU reads process_cpu_seconds_total (its first series) from a
// metrics page in the Prometheus text format.
func parseCPU(r io.Reader) (float64, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	// The format ends every line with a newline; a page cut short of its last one still counts.
	families, err := parser.TextToMetricFamilies(io.MultiReader(r, strings.NewReader("\n")))
	if err != nil {
		return 0, fmt.Errorf("metrics: %w", err)
	}
	mf := families[cpuMetric]
	if mf == nil || len(mf.GetMetric()) == 0 {
		return 0, errNoCPUMetric
	}
	m := mf.GetMetric()[0]
	if c := m.GetCounter(); c != nil {
		return c.GetValue(), nil
	}
	if u := m.GetUntyped(); u != nil {
		return u.GetValue(), nil
	}
	if g := m.GetGauge(); g != nil {
		return g.GetValue(), nil
	}
	return 0, fmt.Errorf("metrics: %s is a %s, not a counter", cpuMetric, mf.GetType())
}

// selfCPU is the CPU time this process has used, in seconds; NaN when the
// system does not tell.
func selfCPU() float64 {
	if d := procstat.SelfCPU(); d > 0 {
		return d.Seconds()
	}
	return math.NaN()
}
