package ingest_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/internal/procstat"
	"github.com/heraldhq/herald/internal/reporttest"
)

// TestOverload offers reports to a real `herald serve` well above the rate
// it can commit, open loop, for a while: it must not crash, must stay under
// 512 MB of RSS, must answer every request (200, or 429/503 with
// Retry-After), and every 200 must be durable. Not part of the normal run:
//
//	HERALD_OVERLOAD=sqlite|postgres        engine (required)
//	HERALD_OVERLOAD_RATE=60000             offered reports per second
//	HERALD_OVERLOAD_DURATION=60s           how long
//	HERALD_OVERLOAD_CONNS=4000             client connections (requests in flight)
//	HERALD_OVERLOAD_QUEUE=2000             --report-queue-size
//
// Each connection has one request in flight, so the queue can only fill
// (and herald shed) when there are more connections than queue slots.
func TestOverload(t *testing.T) {
	engine := os.Getenv("HERALD_OVERLOAD")
	if engine == "" {
		t.Skip("set HERALD_OVERLOAD=sqlite or postgres to run")
	}
	rate := envInt(t, "HERALD_OVERLOAD_RATE", 60000)
	conns := envInt(t, "HERALD_OVERLOAD_CONNS", 4000)
	queue := envInt(t, "HERALD_OVERLOAD_QUEUE", 2000)
	duration, err := time.ParseDuration(cmpOr(os.Getenv("HERALD_OVERLOAD_DURATION"), "60s"))
	if err != nil {
		t.Fatal(err)
	}
	var db, path string
	switch engine {
	case "sqlite":
		path = filepath.Join(t.TempDir(), "herald.db")
		db = "sqlite:" + path
	case "postgres":
		db = pgtest.URL(t)
	default:
		t.Fatalf("HERALD_OVERLOAD=%q: want sqlite or postgres", engine)
	}
	p := serveHerald(t, db, "--report-queue-size", strconv.Itoa(queue), "--max-connections", strconv.Itoa(conns+100))
	pid := p.cmd.Process.Pid

	// Workers each hold one keep-alive connection; the pacer hands them
	// reports at the offered rate and counts what it could not hand out.
	jobs := make(chan int, conns)
	var statuses [600]atomic.Int64
	var transport, unsent atomic.Int64
	var firstErr atomic.Value
	var mu sync.Mutex
	acked := make([]string, 0, rate*int(duration.Seconds()))
	latencies := make([][]time.Duration, conns)
	var wg sync.WaitGroup
	for w := range conns {
		wg.Go(func() {
			var c *rawClient
			for i := range jobs {
				if c == nil {
					if c, err = dialRaw(p.addr); err != nil {
						transport.Add(1)
						firstErr.CompareAndSwap(nil, err.Error())
						continue
					}
				}
				key := "OVER-" + strconv.Itoa(i)
				t0 := time.Now()
				status, err := c.post(reporttest.Bizgo(key, "", "ALIMTALK", "10000", t0))
				latencies[w] = append(latencies[w], time.Since(t0))
				if err != nil {
					transport.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					c.close()
					c = nil
					continue
				}
				statuses[status].Add(1)
				if status == 200 {
					mu.Lock()
					acked = append(acked, key)
					mu.Unlock()
				}
			}
			if c != nil {
				c.close()
			}
		})
	}
	maxRSS, stopSampling := procstat.SamplePeak(pid, "VmRSS", 100*time.Millisecond)

	start := time.Now()
	offered := 0
	for time.Since(start) < duration {
		due := int(float64(rate) * time.Since(start).Seconds())
		for ; offered < due; offered++ {
			select {
			case jobs <- offered:
			default:
				unsent.Add(1) // every connection busy: the generator's limit, not herald's
			}
		}
		time.Sleep(time.Millisecond)
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	peak := procstat.StatusKB(pid, "VmHWM")
	stopSampling()
	p.stop(t)

	stored := storedReports(t, engine, path, db)
	lost := missing(acked, stored)
	sent := int64(offered) - unsent.Load()
	other := sent - transport.Load()
	for _, code := range []int{200, 429, 503} {
		other -= statuses[code].Load()
	}
	t.Logf("engine %s, %s, queue %d: offered %d/s, sent %d (%.0f/s; %d not sent: all %d connections busy)",
		engine, elapsed.Round(time.Second), queue, rate, sent, float64(sent)/elapsed.Seconds(), unsent.Load(), conns)
	t.Logf("answers: 200 %d (%.0f/s), 429 %d, 503 %d, other %d, transport errors %d",
		statuses[200].Load(), float64(statuses[200].Load())/elapsed.Seconds(), statuses[429].Load(),
		statuses[503].Load(), other, transport.Load())
	all := slices.Concat(latencies...)
	slices.Sort(all)
	if len(all) > 0 {
		pct := func(p float64) time.Duration { return all[int(p*float64(len(all)-1))].Round(time.Millisecond) }
		t.Logf("latency: p50 %s, p99 %s, max %s", pct(.5), pct(.99), all[len(all)-1].Round(time.Millisecond))
	}
	t.Logf("herald RSS: max sampled %d MB, peak (VmHWM) %d MB; stored %d, acknowledged but missing %d",
		maxRSS.Load()/1024, peak/1024, len(stored), len(lost))
	if transport.Load() > 0 || other != 0 {
		t.Errorf("unanswered requests: %d transport errors (first: %v), %d other statuses", transport.Load(), firstErr.Load(), other)
	}
	if peak > 512*1024 || maxRSS.Load() > 512*1024 {
		t.Errorf("RSS over 512 MB")
	}
	if len(lost) > 0 {
		t.Errorf("%d acknowledged reports not stored, e.g. %v", len(lost), lost[:min(5, len(lost))])
	}
	if statuses[429].Load() == 0 {
		// Here the HTTP side saturated the CPU before the commits did:
		// the overload waited in socket buffers instead of being shed.
		t.Logf("never shed: herald committed everything it could read")
	}
}

func storedReports(t *testing.T, engine, path, url string) map[string]bool {
	if engine == "sqlite" {
		return storedKeys(t, path)
	}
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(context.Background(), `SELECT msg_key FROM reports`)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]bool, len(keys))
	for _, k := range keys {
		out[k] = true
	}
	return out
}

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

func cmpOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
