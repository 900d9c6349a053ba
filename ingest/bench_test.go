package ingest_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	herald "github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/infobank"
	"github.com/heraldhq/herald/ingest"
	"github.com/heraldhq/herald/internal/mytest"
	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/internal/procstat"
	"github.com/heraldhq/herald/internal/reporttest"
	"github.com/heraldhq/herald/mysql"
	"github.com/heraldhq/herald/postgres"
)

// BenchmarkIngest drives the webhook over loopback — the admin API's
// server with the webhook mounted, as herald serve runs it — with a
// keep-alive client of many goroutines, on the real stores. Every report
// matches a recipient (by ref), as in production. It reports reports/s,
// latency percentiles, errors and CPU per 1,000 reports: this process
// (server and load generator) and, for PostgreSQL, the backends serving
// the store.
//
// HERALD_BENCH_CONC sets the number of client goroutines (default 64).
func BenchmarkIngest(b *testing.B) {
	cases := []struct {
		engine            string
		batch, committers int
	}{
		{"sqlite", 500, 1}, {"sqlite", 1, 1},
		{"postgres", 500, 1}, {"postgres", 500, 2}, {"postgres", 500, 4}, {"postgres", 1, 1}, {"postgres", 1, 8},
		{"mariadb", 500, 1}, {"mariadb", 500, 2}, {"mariadb", 1, 1}, {"mariadb", 1, 8},
	}
	for _, c := range cases {
		name := fmt.Sprintf("%s/batch=%d/committers=%d", c.engine, c.batch, c.committers)
		b.Run(name, func(b *testing.B) {
			var s herald.Store
			var backends func() map[int]time.Duration
			switch c.engine {
			case "postgres":
				s, backends = benchPostgres(b)
			case "mariadb":
				s, backends = benchMariaDB(b)
			default:
				s, backends = newSQLite(b), func() map[int]time.Duration { return nil }
			}
			benchIngest(b, s, ingest.Config{BatchSize: c.batch, Committers: c.committers}, backends)
		})
	}
}

// benchIngest measures one configuration; backends lists the CPU time of
// the database server processes serving s (nil for SQLite, in process).
func benchIngest(b *testing.B, s herald.Store, cfg ingest.Config, backends func() map[int]time.Duration) {
	conc := 64
	if v, err := strconv.Atoi(os.Getenv("HERALD_BENCH_CONC")); err == nil && v > 0 {
		conc = v
	}
	rs := accepted(b, s, b.N, "K")
	bodies := make([][]byte, b.N)
	for i, r := range rs {
		code := herald.ReportDelivered
		if i%10 == 0 {
			code = kakaoFail
		}
		bodies[i] = reporttest.Bizgo(r.MsgKey, r.MessageID, "ALIMTALK", code, reporttest.Epoch)
	}
	srv, reg := benchServer(b, s, cfg)
	// HERALD_BENCH_CLIENT=nethttp measures with net/http's client instead.
	stdClient := os.Getenv("HERALD_BENCH_CLIENT") == "nethttp"
	c := client(conc)
	latencies := make([][]time.Duration, conc)
	var next, failures atomic.Int64
	var firstErr atomic.Value

	b.ResetTimer()
	cpu0, pg0, start := procstat.SelfCPU(), backends(), time.Now()
	busy0, total0 := machineBusy()
	var wg sync.WaitGroup
	for g := range conc {
		wg.Go(func() {
			lat := make([]time.Duration, 0, b.N/conc+1)
			raw, err := dialRaw(srv.Listener.Addr().String())
			if err != nil {
				b.Error(err)
				return
			}
			defer raw.close()
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					break
				}
				t0 := time.Now()
				var status int
				if stdClient {
					status, err = postReport(context.Background(), c, srv.URL, bodies[i], reporttest.Signed(time.Now())...)
				} else if status, err = raw.post(bodies[i]); err != nil {
					raw.close() // a broken connection is counted, then replaced
					raw, _ = dialRaw(srv.Listener.Addr().String())
				}
				lat = append(lat, time.Since(t0))
				if err != nil || status != 200 {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("status %d, %v", status, err))
				}
			}
			latencies[g] = lat
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	pg1 := backends()
	cpu, pg := procstat.SelfCPU()-cpu0, procstat.CPUSince(pg0, pg1)
	busy1, total1 := machineBusy()
	b.StopTimer()

	all := slices.Concat(latencies...)
	slices.Sort(all)
	pct := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))]) / float64(time.Millisecond) }
	n := float64(b.N)
	b.ReportMetric(n/elapsed.Seconds(), "reports/s")
	b.ReportMetric(pct(.5), "p50-ms")
	b.ReportMetric(pct(.99), "p99-ms")
	b.ReportMetric(float64(failures.Load()), "errors")
	b.ReportMetric(cpu.Seconds()*1000/(n/1000), "cpu-ms/1k")
	if pg1 != nil {
		b.ReportMetric(pg.Seconds()*1000/(n/1000), "pg-cpu-ms/1k")
	}
	if total1 > total0 {
		// All of the host's CPU that this run (including PostgreSQL) did not use went to others.
		others := float64(busy1-busy0)/float64(total1-total0)*float64(runtime.NumCPU()) - (cpu+pg).Seconds()/elapsed.Seconds()
		b.ReportMetric(max(0, others), "other-cores")
	}
	b.ReportMetric(histogramMean(b, reg, "herald_report_batch_size"), "reports/batch")
	b.ReportMetric(histogramMean(b, reg, "herald_report_commit_duration_seconds")*1000, "commit-ms")
	b.ReportMetric(0, "ns/op") // the rate says it better
	if failures.Load() > 0 {
		b.Errorf("%d of %d requests failed, first: %v", failures.Load(), b.N, firstErr.Load())
	}
	for _, r := range rs[:min(len(rs), 3)] {
		if got := reread(b, s, r); got.State != herald.RecipientDelivered && got.State != herald.RecipientFailed {
			b.Fatalf("recipient %d still %s after its report", r.ID, got.State)
		}
	}
}

// benchServer mounts the webhook on the admin API's server on loopback.
func benchServer(b *testing.B, s herald.Store, cfg ingest.Config) (*httptest.Server, *prometheus.Registry) {
	reg := prometheus.NewRegistry()
	in, err := ingest.New(cfg, s, nil, reg)
	if err != nil {
		b.Fatal(err)
	}
	api, err := heraldhttp.NewServer(heraldhttp.ServerConfig{Store: s, AdminTokens: []string{reporttest.AdminToken}, Registry: reg})
	if err != nil {
		b.Fatal(err)
	}
	if err := api.HandleReports(heraldhttp.ReportConfig{Secret: []byte(reporttest.Secret), Tokens: []string{reporttest.TokenA}}, in); err != nil {
		b.Fatal(err)
	}
	if err := in.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(api.Handler())
	b.Cleanup(func() {
		srv.Close()
		in.Stop(context.Background())
	})
	return srv, reg
}

// histogramMean is the mean of a histogram in reg.
func histogramMean(b *testing.B, reg *prometheus.Registry, name string) float64 {
	families, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name && len(f.GetMetric()) == 1 {
			h := f.GetMetric()[0].GetHistogram()
			return h.GetSampleSum() / float64(max(1, h.GetSampleCount()))
		}
	}
	return 0
}

// benchPostgres opens a store on a schema of its own and returns a
// function reading its server processes' CPU time by pid.
func benchPostgres(b *testing.B) (herald.Store, func() map[int]time.Duration) {
	url, backends := pgtest.Backends(b, pgtest.URL(b))
	s, err := postgres.Open(context.Background(), url+os.Getenv("HERALD_BENCH_PGPARAMS"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s, backends
}

// benchMariaDB opens a store on a database of its own and returns a
// function reading the CPU time of the local mariadbd (or mysqld) server
// process: one process serves every connection, so this is the whole
// server's CPU, reported as pg-cpu-ms/1k.
func benchMariaDB(b *testing.B) (herald.Store, func() map[int]time.Duration) {
	s, err := mysql.Open(context.Background(), mytest.URL(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s, func() map[int]time.Duration {
		out := map[int]time.Duration{}
		dirs, _ := os.ReadDir("/proc")
		for _, d := range dirs {
			pid, err := strconv.Atoi(d.Name())
			if err != nil {
				continue
			}
			comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
			if name := strings.TrimSpace(string(comm)); name == "mariadbd" || name == "mysqld" {
				out[pid] = procstat.CPU(pid)
			}
		}
		return out
	}
}

// machineBusy returns the busy and total CPU ticks of the whole host, to
// tell how much of it other work took during a run.
func machineBusy() (busy, total int64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	for i, f := range strings.Fields(line)[1:] {
		v, _ := strconv.ParseInt(f, 10, 64)
		total += v
		if i != 3 && i != 4 { // idle, iowait
			busy += v
		}
	}
	return busy, total
}

// rawClient is a minimal HTTP/1.1 keep-alive client for the benchmark: it
// writes each request in one write and reads the answer by hand, so that
// the load generator costs less of the two cores than the server it
// measures. One per goroutine; it is not safe for concurrent use.
type rawClient struct {
	conn    net.Conn
	r       *bufio.Reader
	buf     []byte
	ts, sig string
}

func dialRaw(addr string) (*rawClient, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &rawClient{conn: c, r: bufio.NewReaderSize(c, 4096), buf: make([]byte, 0, 1024)}, nil
}

// post sends a signed report and returns the status of the answer.
func (c *rawClient) post(body []byte) (int, error) {
	ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
	if ts != c.ts { // one HMAC per millisecond is what a provider sending many reports would do too
		c.ts, c.sig = ts, infobank.Sign([]byte(reporttest.Secret), ts)
	}
	b := append(c.buf[:0], "POST "+heraldhttp.PathReports+" HTTP/1.1\r\nHost: herald\r\nContent-Type: application/json\r\n"...)
	b = append(b, infobank.HeaderTimestamp+": "...)
	b = append(b, c.ts...)
	b = append(b, "\r\n"+infobank.HeaderSignature+": "...)
	b = append(b, c.sig...)
	b = append(b, "\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\n\r\n"...)
	b = append(b, body...)
	c.buf = b
	if _, err := c.conn.Write(b); err != nil {
		return 0, err
	}
	return c.readResponse()
}

func (c *rawClient) readResponse() (int, error) {
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, err
	}
	length := -1
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if len(line) <= 2 {
			break
		}
		if name, value, ok := bytes.Cut(line, []byte(":")); ok && bytes.EqualFold(name, []byte("Content-Length")) {
			length, err = strconv.Atoi(string(bytes.TrimSpace(value)))
			if err != nil {
				return 0, err
			}
		}
	}
	if length < 0 {
		return 0, fmt.Errorf("answer without Content-Length")
	}
	_, err = c.r.Discard(length)
	return status, err
}

func (c *rawClient) close() { c.conn.Close() }
