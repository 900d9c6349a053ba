package ingest_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/pgtest"
)

// TestOutageSpoolSIGKILL runs `herald serve` on PostgreSQL through a TCP
// proxy that the test cuts, to stand for a database outage without
// stopping the shared server. During the outage reports are acknowledged
// from the spool; serve is SIGKILLed during the outage, restarted once
// the database is back and SIGKILLed again while it replays, then started
// a third time. Every report answered 200 must be in the database exactly
// once. HERALD_OUTAGE_DURATION and HERALD_OUTAGE_WORKERS scale it up
// (bench/webhook-outage.sh); CI runs it small.
func TestOutageSpoolSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the herald binary")
	}
	t.Parallel()
	outage, err := time.ParseDuration(cmpOr(os.Getenv("HERALD_OUTAGE_DURATION"), "2s"))
	if err != nil {
		t.Fatal(err)
	}
	workers := envInt(t, "HERALD_OUTAGE_WORKERS", 16)
	direct := pgtest.URL(t)
	proxy := newCutProxy(t, "127.0.0.1:5432")
	u, _ := url.Parse(direct)
	u.Host = proxy.addr()
	viaProxy := u.String()
	spool := t.TempDir()
	flags := []string{"--report-spool-dir", spool, "--report-spool-after", "250ms", "--report-committers", "2"}

	p := serveHerald(t, viaProxy, flags...)
	var acked []string
	var mu sync.Mutex
	stream := func(p *process, tag string, d time.Duration) (int, int) {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		c := client(workers)
		var ok, other atomic.Int64
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := 0; ctx.Err() == nil; i++ {
					key := fmt.Sprintf("OUT-%s-%02d-%07d", tag, w, i)
					status, err := postReport(ctx, c, "http://"+p.addr, bizgo(key, "", "ALIMTALK", "10000", time.Now()), bearer(tokenA)...)
					switch {
					case err != nil && ctx.Err() == nil:
						return // the process is gone
					case status == 200:
						ok.Add(1)
						mu.Lock()
						acked = append(acked, key)
						mu.Unlock()
					case err == nil:
						other.Add(1)
					}
				}
			})
		}
		wg.Wait()
		return int(ok.Load()), int(other.Load())
	}
	ok, other := stream(p, "up", time.Second)
	t.Logf("database up: %d acknowledged, %d refused", ok, other)
	proxy.cut()
	ok, other = stream(p, "down", outage)
	t.Logf("database cut for %s: %d acknowledged (spooled), %d refused", outage, ok, other)
	if ok == 0 {
		t.Fatalf("nothing acknowledged during the outage\n%s", p.output())
	}
	segs, _ := filepath.Glob(filepath.Join(spool, "spool-*.wal"))
	if len(segs) == 0 {
		t.Fatal("no spool segment during the outage")
	}
	kill(t, p) // during the outage

	proxy.restore()
	p = serveHerald(t, viaProxy, flags...)
	kill(t, p) // while it replays, most likely
	segs, _ = filepath.Glob(filepath.Join(spool, "spool-*.wal"))
	t.Logf("killed at start: %d spool segments left", len(segs))

	p = serveHerald(t, viaProxy, flags...)
	ok, other = stream(p, "after", time.Second)
	t.Logf("after the restarts: %d acknowledged, %d refused", ok, other)
	// The replay takes as long as it takes the database to write what the
	// outage spooled: the wait grows with the outage.
	deadline := time.Now().Add(maxWait + 20*outage)
	for {
		segs, _ := filepath.Glob(filepath.Join(spool, "spool-*.wal"))
		if len(segs) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d spool segments still not replayed\n%s", len(segs), p.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.stop(t)

	counts := pgReportCounts(t, direct)
	lost, twice := 0, 0
	for _, k := range acked {
		switch counts[k] {
		case 0:
			lost++
		case 1:
		default:
			twice++
		}
	}
	if lost > 0 || twice > 0 {
		t.Fatalf("of %d acknowledged reports, %d are not in the database and %d are there more than once", len(acked), lost, twice)
	}
	t.Logf("%d acknowledged, all stored once", len(acked))
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
