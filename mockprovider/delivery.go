package mockprovider

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/infobank"
	"github.com/heraldhq/herald/internal/clock"
)

// maxAckBytes bounds what is read of a webhook answer.
const maxAckBytes = 64 << 10

// Bounds on the waits of ReportRetriesUntilAcked: the doubling backoff
// stops growing at maxReportBackoff, and a Retry-After beyond
// maxRetryAfter is taken as maxRetryAfter.
const (
	maxReportBackoff = 5 * time.Second
	maxRetryAfter    = time.Minute
)

// delivery posts reports to the webhook: a bounded queue in due order, one
// dispatcher that waits for each report's due time, and a fixed pool of
// posters. Reports that do not fit in the queue are dropped and counted:
// the mock never slows its send path for its own reports.
type delivery struct {
	cfg   Config
	log   *slog.Logger
	http  *http.Client
	queue chan pending
	work  chan pending
	drain chan struct{} // closed by stop: finish the queue, then exit
	once  sync.Once
	wg    sync.WaitGroup
	stats deliveryStats
}

// pending is the reports of one recipient waiting for their due time,
// posted in order: the AlimTalk report, then the fallback's.
type pending struct {
	due     time.Time
	reports []outgoing
}

// outgoing is one report; copies is 2 when the mock plays a duplicate.
type outgoing struct {
	report herald.Report
	copies int
}

// deliveryStats are counted with atomics: posters update them concurrently.
type deliveryStats struct {
	sent, acked, retried, refused, givenUp, lost, duplicated, dropped atomic.Int64
}

func newDelivery(cfg Config, log *slog.Logger) *delivery {
	return &delivery{
		cfg: cfg, log: log, http: webhookClient(cfg),
		queue: make(chan pending, cfg.ReportQueue),
		work:  make(chan pending),
		drain: make(chan struct{}),
	}
}

func webhookClient(cfg Config) *http.Client {
	dialer := &net.Dialer{Timeout: 3 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Client{
		Timeout: cfg.ReportTimeout,
		Transport: &http.Transport{
			DialContext:         dialer.DialContext,
			MaxIdleConns:        cfg.ReportConcurrency,
			MaxIdleConnsPerHost: cfg.ReportConcurrency,
			MaxConnsPerHost:     cfg.ReportConcurrency,
			IdleConnTimeout:     90 * time.Second,
			DisableKeepAlives:   cfg.ReportNewConnection,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// enqueue schedules a report, unless the queue is full.
func (d *delivery) enqueue(p pending) {
	select {
	case d.queue <- p:
	default:
		d.stats.dropped.Add(int64(len(p.reports)))
	}
}

// start runs the dispatcher and the posters until stop, or until ctx ends.
func (d *delivery) start(ctx context.Context) {
	d.wg.Add(1 + d.cfg.ReportConcurrency)
	go func() {
		defer d.wg.Done()
		d.dispatch(ctx)
	}()
	for range d.cfg.ReportConcurrency {
		go func() {
			defer d.wg.Done()
			for p := range d.work {
				d.deliver(ctx, p)
			}
		}()
	}
}

// stop lets the dispatcher finish the queue and then end the posters.
func (d *delivery) stop() { d.once.Do(func() { close(d.drain) }) }

// dispatch hands reports to the posters when they are due, in queue order
// (the delay is constant, so queue order is due order).
func (d *delivery) dispatch(ctx context.Context) {
	defer close(d.work)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		p, ok := d.next(ctx)
		if !ok {
			return
		}
		if wait := p.due.Sub(d.cfg.Now()); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return
			}
		}
		select {
		case d.work <- p:
		case <-ctx.Done():
			return
		}
	}
}

// next takes the next report; after drain is closed, only what is queued.
func (d *delivery) next(ctx context.Context) (pending, bool) {
	select {
	case p := <-d.queue:
		return p, true
	case <-ctx.Done():
		return pending{}, false
	case <-d.drain:
		select {
		case p := <-d.queue:
			return p, true
		default:
			return pending{}, false
		}
	}
}

// deliver posts each copy of each report, retrying each up to
// ReportRetries times (or until acknowledged).
func (d *delivery) deliver(ctx context.Context, p pending) {
	for _, o := range p.reports {
		body := d.encode(o.report)
		for range o.copies {
			if !d.postWithRetries(ctx, body, o.report.MsgKey) {
				d.stats.givenUp.Add(1)
			}
		}
	}
}

func (d *delivery) encode(r herald.Report) []byte {
	if d.cfg.ReportFormat == FormatSeed {
		return infobank.EncodeSeedReport(r)
	}
	return infobank.EncodeReport(r)
}

// postWithRetries posts until acknowledged, at most ReportRetries more
// times (ReportRetriesUntilAcked: until ctx ends).
func (d *delivery) postWithRetries(ctx context.Context, body []byte, msgKey string) bool {
	backoff := d.cfg.ReportBackoff
	untilAcked := d.cfg.ReportRetries == ReportRetriesUntilAcked
	var retryAfter time.Duration
	for attempt := 0; untilAcked || attempt <= d.cfg.ReportRetries; attempt++ {
		if attempt > 0 {
			d.stats.retried.Add(1)
			wait := backoff
			if untilAcked && retryAfter >= 0 {
				wait = retryAfter
			}
			if !sleep(ctx, wait) {
				return false
			}
			backoff *= 2
			if untilAcked {
				backoff = min(backoff, max(maxReportBackoff, d.cfg.ReportBackoff))
			}
		}
		d.stats.sent.Add(1)
		var acked bool
		if acked, retryAfter = d.post(ctx, body, msgKey); acked {
			d.stats.acked.Add(1)
			return true
		}
	}
	return false
}

// post sends one report and reports whether it was acknowledged: 200 with
// {"msgKey": <same>} (Bizgo), or just 200 (seed format). A refusal (429 or
// 503) is counted; its Retry-After is returned, -1 when there is none.
func (d *delivery) post(ctx context.Context, body []byte, msgKey string) (acked bool, retryAfter time.Duration) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.cfg.ReportURL, bytes.NewReader(body))
	if err != nil {
		return false, -1
	}
	d.authenticate(req)
	resp, err := d.http.Do(req)
	if err != nil {
		d.log.Debug("report post failed", "msg_key", msgKey, "err", err)
		return false, -1
	}
	defer resp.Body.Close()
	ack, err := io.ReadAll(io.LimitReader(resp.Body, maxAckBytes))
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		d.stats.refused.Add(1)
		return false, parseRetryAfter(resp.Header.Get("Retry-After"))
	}
	if err != nil || resp.StatusCode != http.StatusOK {
		return false, -1
	}
	if d.cfg.ReportFormat == FormatSeed {
		return true, -1
	}
	var a struct {
		MsgKey string `json:"msgKey"`
	}
	return json.Unmarshal(ack, &a) == nil && a.MsgKey == msgKey, -1
}

// parseRetryAfter reads a Retry-After in seconds (the form herald sends),
// capped at maxRetryAfter; -1 when absent or not a number of seconds.
func parseRetryAfter(v string) time.Duration {
	s, err := strconv.Atoi(v)
	if err != nil || s < 0 {
		return -1
	}
	return min(time.Duration(s)*time.Second, maxRetryAfter)
}

func (d *delivery) authenticate(req *http.Request) {
	req.Header.Set("Content-Type", "application/json")
	if d.cfg.ReportSecret != "" {
		ts := strconv.FormatInt(d.cfg.Now().UnixMilli(), 10)
		req.Header.Set(infobank.HeaderTimestamp, ts)
		req.Header.Set(infobank.HeaderSignature, infobank.Sign([]byte(d.cfg.ReportSecret), ts))
	}
	if d.cfg.ReportToken != "" {
		req.Header.Set("Authorization", "Bearer "+d.cfg.ReportToken)
	}
}

// sleep waits for d or until ctx ends; false when ctx ended.
func sleep(ctx context.Context, d time.Duration) bool { return clock.Sleep(ctx, d) }

func (d *delivery) snapshot(s *Stats) {
	s.ReportsSent = d.stats.sent.Load()
	s.ReportsAcked = d.stats.acked.Load()
	s.ReportsRetried = d.stats.retried.Load()
	s.ReportsRefused = d.stats.refused.Load()
	s.ReportsGivenUp = d.stats.givenUp.Load()
	s.ReportsLost = d.stats.lost.Load()
	s.ReportsDuplicated = d.stats.duplicated.Load()
	s.ReportsDropped = d.stats.dropped.Load()
	s.ReportsQueued = len(d.queue)
}

func (d *delivery) reset() {
	st := &d.stats
	for _, c := range []*atomic.Int64{&st.sent, &st.acked, &st.retried, &st.refused, &st.givenUp, &st.lost, &st.duplicated, &st.dropped} {
		c.Store(0)
	}
}
