package ingest_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/internal/reporttest"
)

// TestOutageSpoolSIGKILL runs `herald serve` on PostgreSQL through a TCP
// proxy that the test cuts, to stand for a database outage without
// stopping the shared server, under an open-loop stream of reports at a
// fixed rate (reportStream: a slow answer does not slow what is offered).
// During the outage reports are acknowledged from the spool; serve is
// SIGKILLed at the end of the outage with requests in flight, restarted
// once the database is back and SIGKILLed again halfway through the
// replay, then started a third time. Every report answered 200 must be in
// the database exactly once, and no report at all twice.
//
//	HERALD_OUTAGE_RATE=500        reports offered per second
//	HERALD_OUTAGE_DURATION=2s     how long the database is cut
//	HERALD_OUTAGE_CONNS=64        client connections (requests in flight at most)
//
// bench/webhook-outage.sh runs it at the size; CI runs it small.
func TestOutageSpoolSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the herald binary")
	}
	t.Parallel()
	outage, err := time.ParseDuration(cmpOr(os.Getenv("HERALD_OUTAGE_DURATION"), "2s"))
	if err != nil {
		t.Fatal(err)
	}
	stream := &reportStream{rate: float64(envInt(t, "HERALD_OUTAGE_RATE", 500)), conns: envInt(t, "HERALD_OUTAGE_CONNS", 64)}
	steady := max(time.Second, outage/6) // the stream before the cut and after the restarts
	direct := pgtest.URL(t)
	proxy := newCutProxy(t, "127.0.0.1:5432")
	u, _ := url.Parse(direct)
	u.Host = proxy.addr()
	viaProxy := u.String()
	spool := t.TempDir()
	flags := []string{"--report-spool-dir", spool, "--report-spool-after", "250ms", "--report-committers", "2",
		"--max-connections", strconv.Itoa(stream.conns + 100)}
	segments := func() int {
		segs, _ := filepath.Glob(filepath.Join(spool, "spool-*.wal"))
		return len(segs)
	}

	p := serveHerald(t, viaProxy, flags...)
	up := stream.run(t, p.addr, "up", after(steady), nil)
	t.Logf("%s; herald spooled %.0f", up.summary("database up"), scrape(p.addr, "herald_reports_spooled_total"))
	up.wantAnswered(t)

	proxy.cut()
	down := stream.run(t, p.addr, "down", after(outage), func() { kill(t, p) })
	t.Logf("%s; SIGKILL at the end, %d requests unanswered", down.summary("database cut for "+outage.String()), down.failed)
	if down.acked == 0 {
		t.Fatalf("nothing acknowledged during the outage\n%s", p.output())
	}
	if segments() == 0 {
		t.Fatal("no spool segment during the outage")
	}

	// Database back: killed again once half of what the outage spooled
	// is replayed, with the stream still on.
	proxy.restore()
	p = serveHerald(t, viaProxy, flags...)
	halfway := make(chan struct{})
	go func() {
		defer close(halfway)
		deadline := time.Now().Add(reporttest.MaxWait + 20*outage)
		for scrape(p.addr, "herald_reports_replayed_total") < float64(down.acked)/2 && segments() > 0 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
	}()
	var replayed float64
	replay := stream.run(t, p.addr, "replay", halfway, func() {
		replayed = scrape(p.addr, "herald_reports_replayed_total")
		kill(t, p)
	})
	t.Logf("%s; SIGKILL after %.0f of %d outage reports replayed (%.0f/s beside the stream), %d segments left, %d requests unanswered",
		replay.summary("replaying"), replayed, down.acked, replayed/replay.elapsed.Seconds(), segments(), replay.failed)

	p = serveHerald(t, viaProxy, flags...)
	steadyAfter := stream.run(t, p.addr, "after", after(steady), nil)
	t.Logf("%s; %d spool segments at its end", steadyAfter.summary("after the restarts"), segments())
	steadyAfter.wantAnswered(t)
	// The replay takes as long as it takes the database to write what the
	// outage spooled: the wait grows with the outage.
	drainStart := time.Now()
	deadline := drainStart.Add(reporttest.MaxWait + 20*outage)
	for segments() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d spool segments still not replayed\n%s", segments(), p.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
	drained := time.Since(drainStart)
	replayedAll := scrape(p.addr, "herald_reports_replayed_total")
	t.Logf("spool empty %s after the stream stopped; this process spooled %.0f and replayed %.0f (%.0f/s since it started)",
		drained.Round(10*time.Millisecond), scrape(p.addr, "herald_reports_spooled_total"), replayedAll,
		replayedAll/(steadyAfter.elapsed+drained).Seconds())
	p.stop(t)

	counts := pgReportCounts(t, direct)
	phases := []*streamPhase{up, down, replay, steadyAfter}
	lost, twice, acked := 0, 0, 0
	for _, ph := range phases {
		acked += len(ph.keys)
		for _, k := range ph.keys {
			if counts[k] == 0 {
				lost++
			}
		}
	}
	for _, n := range counts {
		if n > 1 {
			twice++
		}
	}
	if lost > 0 || twice > 0 {
		t.Fatalf("of %d acknowledged reports, %d are not in the database; %d reports are there more than once", acked, lost, twice)
	}
	t.Logf("%d acknowledged, all stored once; %d reports stored in all (the rest were refused or unanswered)", acked, len(counts))
}

// after is closed once d has passed.
func after(d time.Duration) <-chan struct{} {
	c := make(chan struct{})
	time.AfterFunc(d, func() { close(c) })
	return c
}

// scrape reads one unlabelled metric from a running herald's /metrics;
// -1 when it cannot.
func scrape(addr, name string) float64 {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + addr + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return -1
			}
			return f
		}
	}
	return -1
}

// reportStream offers reports open loop: report n of a phase is due n/rate
// seconds after its start, whatever the answers. A pacer hands due reports
// to conns workers, each with one keep-alive connection, through a queue
// of conns places; a report picked up more than lateAfter after it was due
// is late, and one that finds the queue full is not issued at all (the
// generator's limit, not herald's). Answers 429 and 503 are refusals: not
// acknowledged, not retried.
type reportStream struct {
	rate  float64
	conns int
}

// lateAfter is how far behind its due time a report may be picked up and
// still count as on time.
const lateAfter = 10 * time.Millisecond

// streamPhase is what one phase of the stream offered and got.
type streamPhase struct {
	elapsed            time.Duration
	due, notIssued     int
	late               int
	lag                []time.Duration // due to picked up
	latency            []time.Duration // written to answered, for the 200s
	acked, busy, unav  int
	other, failed      int
	keys               []string // acknowledged
	firstErr, firstOdd string
}

type streamJob struct {
	n   int
	due time.Time
}

// run streams reports tagged tag to addr until stop is closed, then calls
// atStop (with requests still in flight) and waits for every request to
// be answered or to fail.
func (s *reportStream) run(t *testing.T, addr, tag string, stop <-chan struct{}, atStop func()) *streamPhase {
	t.Helper()
	jobs := make(chan streamJob, s.conns)
	parts := make([]streamPhase, s.conns)
	var wg sync.WaitGroup
	for w := range parts {
		wg.Go(func() { s.work(addr, tag, jobs, &parts[w]) })
	}
	ph := &streamPhase{}
	start := time.Now()
	tick := time.NewTicker(time.Millisecond)
	for n := 0; ; {
		select {
		case <-stop:
		case <-tick.C:
			for due := int(time.Since(start).Seconds() * s.rate); n < due; n++ {
				select {
				case jobs <- streamJob{n, start.Add(time.Duration(float64(n) / s.rate * float64(time.Second)))}:
				default:
					ph.notIssued++
				}
			}
			ph.due = n
			continue
		}
		break
	}
	tick.Stop()
	ph.elapsed = time.Since(start)
	if atStop != nil {
		atStop()
	}
	close(jobs)
	wg.Wait()
	for i := range parts {
		ph.merge(&parts[i])
	}
	return ph
}

// work posts the jobs on one connection, dialled again after a failure.
func (s *reportStream) work(addr, tag string, jobs <-chan streamJob, ph *streamPhase) {
	var c *rawClient
	fail := func(err error) {
		ph.failed++
		if ph.firstErr == "" {
			ph.firstErr = err.Error()
		}
		if c != nil {
			c.close()
			c = nil
		}
	}
	for j := range jobs {
		lag := time.Since(j.due)
		ph.lag = append(ph.lag, lag)
		if lag > lateAfter {
			ph.late++
		}
		if c == nil {
			var err error
			if c, err = dialRaw(addr); err != nil {
				fail(err)
				continue
			}
		}
		key := fmt.Sprintf("OUT-%s-%08d", tag, j.n)
		t0 := time.Now()
		status, err := c.post(reporttest.Bizgo(key, "", "ALIMTALK", "10000", t0))
		switch {
		case err != nil:
			fail(err)
		case status == http.StatusOK:
			ph.acked++
			ph.keys = append(ph.keys, key)
			ph.latency = append(ph.latency, time.Since(t0))
		case status == http.StatusTooManyRequests:
			ph.busy++
		case status == http.StatusServiceUnavailable:
			ph.unav++
		default:
			ph.other++
			if ph.firstOdd == "" {
				ph.firstOdd = strconv.Itoa(status)
			}
		}
	}
	if c != nil {
		c.close()
	}
}

// merge adds a worker's counts to the phase's.
func (ph *streamPhase) merge(w *streamPhase) {
	ph.late += w.late
	ph.lag = append(ph.lag, w.lag...)
	ph.latency = append(ph.latency, w.latency...)
	ph.acked, ph.busy, ph.unav, ph.other, ph.failed = ph.acked+w.acked, ph.busy+w.busy, ph.unav+w.unav, ph.other+w.other, ph.failed+w.failed
	ph.keys = append(ph.keys, w.keys...)
	ph.firstErr, ph.firstOdd = cmpOr(ph.firstErr, w.firstErr), cmpOr(ph.firstOdd, w.firstOdd)
}

// summary is one line: what was offered, on time, and answered.
func (ph *streamPhase) summary(what string) string {
	slices.Sort(ph.lag)
	slices.Sort(ph.latency)
	issued := ph.due - ph.notIssued
	s := fmt.Sprintf("%s, %s: offered %d (%.0f/s), %d not issued, %d late > %s (lag p99 %s, max %s); "+
		"200: %d (%.0f/s, p50 %s, p99 %s, max %s), refused 429: %d, 503: %d, other: %d, no answer: %d",
		what, ph.elapsed.Round(10*time.Millisecond), issued, float64(issued)/ph.elapsed.Seconds(), ph.notIssued,
		ph.late, lateAfter, quantile(ph.lag, .99), quantile(ph.lag, 1), ph.acked, float64(ph.acked)/ph.elapsed.Seconds(),
		quantile(ph.latency, .5), quantile(ph.latency, .99), quantile(ph.latency, 1), ph.busy, ph.unav, ph.other, ph.failed)
	if ph.firstErr != "" {
		s += " (first: " + ph.firstErr + ")"
	}
	return s
}

// wantAnswered fails the test unless every request of a phase without a
// kill was answered 200, 429 or 503.
func (ph *streamPhase) wantAnswered(t *testing.T) {
	t.Helper()
	if ph.failed > 0 || ph.other > 0 {
		t.Errorf("%d requests without an answer (first: %s), %d with another status (first: %s)",
			ph.failed, ph.firstErr, ph.other, ph.firstOdd)
	}
}

// quantile of sorted durations, rounded for a log line; 0 when empty.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	d := sorted[int(q*float64(len(sorted)-1))]
	if d < 10*time.Millisecond {
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Millisecond)
}

func kill(t *testing.T, p *process) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-p.exited
}

// pgReportCounts counts the stored reports per msgKey.
func pgReportCounts(t *testing.T, dsn string) map[string]int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT msg_key, count(*) FROM reports GROUP BY msg_key`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	var k string
	var n int
	_, err = pgx.ForEachRow(rows, []any{&k, &n}, func() error { out[k] = n; return nil })
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// cutProxy forwards TCP connections to a target until cut: then it drops
// every connection and refuses new ones, as a database that went away.
type cutProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]struct{}
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.cut() })
	return p
}

func (p *cutProxy) addr() string { return p.ln.Addr().String() }

func (p *cutProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			c.Close()
			continue
		}
		go p.pipe(c)
	}
}

func (p *cutProxy) pipe(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.down {
		p.mu.Unlock()
		c.Close()
		up.Close()
		return
	}
	p.conns[c], p.conns[up] = struct{}{}, struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { io.Copy(up, c); done <- struct{}{} }()
	go func() { io.Copy(c, up); done <- struct{}{} }()
	<-done
	c.Close()
	up.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}

func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
}

func (p *cutProxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}
