package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"net"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// defaultURL is the local test server, used when HERALD_TEST_REDIS is unset.
const defaultURL = "redis://127.0.0.1:6379/0"

// testClient connects to the test server. Without one the test is skipped,
// except under CI=true, where it fails.
func testClient(t testing.TB) goredis.UniversalClient {
	t.Helper()
	u := os.Getenv("HERALD_TEST_REDIS")
	if u == "" {
		u = defaultURL
	}
	c, err := Open(context.Background(), u)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Redis unreachable under CI=true: %v", err)
		}
		t.Skipf("Redis unreachable (set CI=true to make this fail): %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// testSenderKey is a sender key (and so a key prefix) unique to the test;
// its keys are deleted when the test ends.
func testSenderKey(t testing.TB, c goredis.UniversalClient) string {
	b := make([]byte, 6)
	rand.Read(b)
	key := t.Name() + "-" + hex.EncodeToString(b)
	t.Cleanup(func() {
		l := New(c, key, 1, 0, nil)
		c.Del(context.Background(), l.keys...)
	})
	return key
}

type admission struct {
	at time.Time
	n  int
}

// TestSharedWindow has several processes (each its own client and Limiter,
// several goroutines each) hammer one sender key: no 1-second window may
// hold more than the limit, whatever the job sizes, and the steady rate
// must come close to it.
//
// How close depends on the job sizes, not only on the limiter: the
// provider's rule itself allows no more than one 200-recipient job per
// second at a limit of 300, and jobs that cannot be split leave the rest of
// a window unused unless a smaller one waits. A greedy simulation of 12
// waiters with jobs of 1..200 at 300 reaches about 91%; with jobs of 1..20
// 98%, and with herald's e2e batches of 10 the full 98.5% (1/W).
func TestSharedWindow(t *testing.T) {
	if testing.Short() {
		t.Skip("slow (5 s of sending per case); runs without -short")
	}
	t.Parallel()
	for _, tc := range []struct {
		name       string
		minN, maxN int
		minRate    float64 // share of the limit
	}{
		{"jobs 1..200", 1, 200, 0.85},
		{"jobs 1..20", 1, 20, 0.95},
		{"jobs of 10", 10, 10, 0.97},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sharedWindow(t, tc.minN, tc.maxN, tc.minRate)
		})
	}
}

func sharedWindow(t *testing.T, minN, maxN int, minRate float64) {
	const (
		limit     = 300
		processes = 4
		workers   = 3 // goroutines per process
		run       = 5 * time.Second
	)
	key := testSenderKey(t, testClient(t))
	var (
		mu   sync.Mutex
		adms []admission
		wg   sync.WaitGroup
		win  time.Duration
	)
	ctx, cancel := context.WithTimeout(context.Background(), run)
	defer cancel()
	for p := range processes {
		l := New(testClient(t), key, limit, 0.015, nil)
		win = l.window
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rnd := mrand.New(mrand.NewPCG(uint64(p), uint64(w)))
				for {
					n := minN + rnd.IntN(maxN-minN+1)
					at, err := l.wait(ctx, n)
					if err != nil {
						if ctx.Err() == nil {
							t.Errorf("wait: %v", err)
						}
						return
					}
					mu.Lock()
					adms = append(adms, admission{at, n})
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	sort.Slice(adms, func(i, j int) bool { return adms[i].at.Before(adms[j].at) })

	maxIn := func(w time.Duration) int {
		best, sum, j := 0, 0, 0
		for i := range adms { // closed window [adms[j].at, adms[i].at] no longer than w
			sum += adms[i].n
			for adms[i].at.Sub(adms[j].at) > w {
				sum -= adms[j].n
				j++
			}
			best = max(best, sum)
		}
		return best
	}
	busiest := maxIn(time.Second)
	if busiest > limit {
		t.Errorf("a closed 1-s window holds %d recipients, limit %d", busiest, limit)
	}
	// Steady rate: whole windows W from the first expiry on, past the
	// first window's burst.
	first, last := adms[0].at, adms[len(adms)-1].at
	from := first.Add(win)
	k := last.Sub(from) / win
	to := from.Add(k * win)
	sum := 0
	for _, a := range adms {
		if !a.at.Before(from) && a.at.Before(to) {
			sum += a.n
		}
	}
	rate := float64(sum) / (time.Duration(k) * win).Seconds()
	t.Logf("%d jobs of %d..%d; busiest closed 1-s window %d/%d; steady rate over %d windows %.1f/s = %.1f%% of the limit",
		len(adms), minN, maxN, busiest, limit, k, rate, 100*rate/limit)
	if k < 2 || sum == 0 {
		t.Errorf("only %d windows with %d recipients measured", k, sum)
	}
	// A rate is a benchmark figure: on a loaded machine it says little about
	// the limiter, so it is asserted only when asked for.
	if os.Getenv("HERALD_REDIS_ASSERT_RATE") != "" && rate < minRate*limit {
		t.Errorf("steady rate %.1f/s over %d windows, want ≥ %.0f%% of %d", rate, k, 100*minRate, limit)
	}
}

func TestAdmission(t *testing.T) {
	t.Parallel()
	c := testClient(t)
	ctx := context.Background()
	l := New(c, testSenderKey(t, c), 100, 0.015, nil)

	if err := l.Wait(ctx, 60); err != nil {
		t.Fatal(err)
	}
	res, err := l.run(ctx, admitScript, 100, 50)
	if err != nil {
		t.Fatal(err)
	}
	if res[0] != 0 {
		t.Fatalf("60+50 of 100 admitted: %v", res)
	}
	if w := time.Duration(res[1]) * time.Microsecond; w < 900*time.Millisecond || w > l.window {
		t.Errorf("refused with a wait of %v, want about %v", w, l.window)
	}
	if err := l.Wait(ctx, 101); !errors.Is(err, ErrTooLarge) {
		t.Errorf("101 of 100: %v, want ErrTooLarge", err)
	}
	start := time.Now()
	if err := l.Wait(ctx, 40); err != nil { // fits: 60+40
		t.Fatal(err)
	}
	if err := l.Wait(ctx, 50); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 900*time.Millisecond || d > l.window+300*time.Millisecond {
		t.Errorf("50 more took %v, want about one window (%v)", d, l.window)
	}
}

// TestLargerThanCut: a job larger than the cut limit goes alone into an
// empty window.
func TestLargerThanCut(t *testing.T) {
	t.Parallel()
	c := testClient(t)
	ctx := context.Background()
	l := New(c, testSenderKey(t, c), 100, 0.015, nil)
	l.Throttle("test") // current limit 70
	if got, want := l.Rate(), 70*(1-0.015); math.Abs(got-want) > 1e-9 {
		t.Fatalf("Rate after a cut %v, want %v", got, want)
	}
	t0, err := l.wait(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	t1, err := l.wait(ctx, 90)
	if err != nil {
		t.Fatal(err)
	}
	if d := t1.Sub(t0); d < l.window {
		t.Errorf("90 (cut limit 70) admitted %v after 10, want ≥ one window %v", d, l.window)
	}
	res, err := l.run(ctx, admitScript, 100, 1)
	if err != nil {
		t.Fatal(err)
	}
	if res[0] != 0 {
		t.Errorf("1 admitted over 90 of a cut limit of 70: %v", res)
	}
}

func TestSharedAIMD(t *testing.T) {
	t.Parallel()
	key := testSenderKey(t, testClient(t))
	a := New(testClient(t), key, 300, 0.015, nil)
	b := New(testClient(t), key, 300, 0.015, nil)
	type change struct {
		old, new float64
		reason   string
	}
	var mu sync.Mutex
	var seen []change
	b.OnChange = func(old, new float64, reason string) {
		mu.Lock()
		seen = append(seen, change{old, new, reason})
		mu.Unlock()
	}
	ctx := context.Background()
	if err := b.Wait(ctx, 1); err != nil {
		t.Fatal(err)
	}
	full := 300 * (1 - 0.015)
	a.Throttle("429")
	cut := 210 * (1 - 0.015)
	if got := a.Rate(); math.Abs(got-cut) > 1e-6 {
		t.Fatalf("a.Rate after its cut %v, want %v", got, cut)
	}
	if err := b.Wait(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if got := b.Rate(); math.Abs(got-cut) > 1e-6 {
		t.Fatalf("b.Rate after a's cut %v, want %v", got, cut)
	}
	b.Throttle("echo") // within a second of a's cut: ignored
	if got := b.Rate(); math.Abs(got-cut) > 1e-6 {
		t.Fatalf("b.Rate after a second cut within 1 s %v, want %v", got, cut)
	}
	time.Sleep(1100 * time.Millisecond)
	regained := 225 * (1 - 0.015)
	if got := a.Rate(); math.Abs(got-regained) > 1e-6 {
		t.Errorf("a.Rate a second after the cut %v, want %v", got, regained)
	}
	b.Throttle("again") // a second later: cuts 225 → 157.5
	if err := a.Wait(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if got, want := a.Rate(), 157.5*(1-0.015); math.Abs(got-want) > 1e-6 {
		t.Errorf("a.Rate after b's cut %v, want %v", got, want)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []change{{full, cut, "throttled by another process"}, {regained, 157.5 * (1 - 0.015), "again"}}
	if len(seen) != len(want) {
		t.Fatalf("b.OnChange calls %v, want %v", seen, want)
	}
	for i := range want {
		if math.Abs(seen[i].old-want[i].old) > 1e-6 || math.Abs(seen[i].new-want[i].new) > 1e-6 || seen[i].reason != want[i].reason {
			t.Errorf("b.OnChange call %d: %v, want %v", i, seen[i], want[i])
		}
	}
}

func TestRecovery(t *testing.T) {
	t.Parallel()
	c := testClient(t)
	l := New(c, testSenderKey(t, c), 100, 0, nil)
	var got []string
	l.OnChange = func(old, new float64, reason string) { got = append(got, reason) }
	l.Throttle("429") // 70, regains 5 a second: full after 6 s
	l.mu.Lock()
	l.cutAt -= 6e6 // pretend the cut was 6 s ago
	l.mu.Unlock()
	if r := l.Rate(); r != 100 {
		t.Errorf("Rate 6 s after a cut to 70: %v, want 100", r)
	}
	// The script agrees with the local estimate: move the cut back in Redis.
	c.HSet(context.Background(), l.keys[1], "cut_at", l.cutAt)
	if err := l.Wait(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1] != "recovered" {
		t.Errorf("OnChange reasons %v, want [429 recovered]", got)
	}
	if r := l.Rate(); r != 100 {
		t.Errorf("Rate after recovery %v, want 100", r)
	}
}

func TestKeysExpire(t *testing.T) {
	if testing.Short() {
		t.Skip("slow (waits for keys to expire, ~3 s); runs without -short")
	}
	t.Parallel()
	c := testClient(t)
	ctx := context.Background()
	l := New(c, testSenderKey(t, c), 100, 0.015, nil)
	if err := l.Wait(ctx, 5); err != nil {
		t.Fatal(err)
	}
	for _, k := range l.keys {
		if ttl := c.PTTL(ctx, k).Val(); ttl <= 0 || ttl > ttlWins*l.window {
			t.Errorf("%s: PTTL %v, want (0, %v]", k, ttl, ttlWins*l.window)
		}
	}
	deadline := time.Now().Add(ttlWins*l.window + 2*time.Second)
	for c.Exists(ctx, l.keys...).Val() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("keys %v still there after an idle %v", l.keys, ttlWins*l.window)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// A cut outlives the log until the limit has recovered: 70 → 100 at 5 a
	// second is 6 s (+1 s).
	l.Throttle("429")
	if ttl := c.PTTL(ctx, l.keys[1]).Val(); ttl < 6*time.Second || ttl > 7*time.Second {
		t.Errorf("state PTTL after a cut %v, want about 7 s", ttl)
	}
}

// logCounter counts log records by level.
type logCounter struct {
	mu     sync.Mutex
	counts map[slog.Level]int
}

func (h *logCounter) Enabled(context.Context, slog.Level) bool { return true }
func (h *logCounter) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.counts == nil {
		h.counts = map[slog.Level]int{}
	}
	h.counts[r.Level]++
	return nil
}
func (h *logCounter) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logCounter) WithGroup(string) slog.Handler      { return h }
func (h *logCounter) count(l slog.Level) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.counts[l]
}

func unusedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestUnavailable(t *testing.T) {
	t.Parallel()
	// A server that accepts and never answers: the call timeout must hold.
	hung, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hung.Close()
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := hung.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	for name, addr := range map[string]string{"refused": unusedAddr(t), "hung": hung.Addr().String()} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := &logCounter{}
			c := newClient(&goredis.Options{Addr: addr, DialTimeout: time.Second,
				ReadTimeout: DefaultTimeout, WriteTimeout: DefaultTimeout})
			defer c.Close()
			l := New(c, "k", 100, 0.015, slog.New(h))
			for range 3 {
				start := time.Now()
				err := l.Wait(context.Background(), 1)
				if !errors.Is(err, ErrUnavailable) {
					t.Fatalf("Wait: %v, want ErrUnavailable", err)
				}
				if d := time.Since(start); d > time.Second {
					t.Errorf("Wait took %v to fail", d)
				}
			}
			l.Throttle("429") // fails too, quietly
			if err := l.Healthy(); !errors.Is(err, ErrUnavailable) {
				t.Errorf("Healthy: %v, want ErrUnavailable", err)
			}
			if n := h.count(slog.LevelError); n != 1 {
				t.Errorf("%d error lines for one outage, want 1", n)
			}
		})
	}
	t.Run("open", func(t *testing.T) {
		t.Parallel()
		start := time.Now()
		if _, err := Open(context.Background(), "redis://"+unusedAddr(t)); !errors.Is(err, ErrUnavailable) {
			t.Errorf("Open of a closed port: %v, want ErrUnavailable", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("Open took %v to fail", d)
		}
	})
}

// TestOutages: one error line when an outage starts, one info line when it
// ends, for every outage; a Limiters factory logs once for all its keys.
func TestOutages(t *testing.T) {
	t.Parallel()
	real := testClient(t) // skips without Redis
	opts := *real.(*goredis.Client).Options()
	var (
		down  atomic.Bool
		mu    sync.Mutex
		conns []net.Conn
	)
	var d net.Dialer
	opts.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if down.Load() {
			return nil, errors.New("test: redis is down")
		}
		c, err := d.DialContext(ctx, network, addr)
		if err == nil {
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
		return c, err
	}
	setDown := func() {
		down.Store(true)
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		conns = nil
		mu.Unlock()
	}
	c := newClient(&opts)
	defer c.Close()
	h := &logCounter{}
	ls := NewLimiters(c, 100, 0.015, slog.New(h))
	keyA, keyB := testSenderKey(t, real), testSenderKey(t, real)
	ctx := context.Background()
	wait := func(key string, wantOK bool) {
		t.Helper()
		err := ls.Get(key).Wait(ctx, 1)
		if wantOK && err != nil || !wantOK && !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Wait (redis up: %v): %v", wantOK, err)
		}
	}
	setDown()
	wait(keyA, false)
	wait(keyB, false)
	wait(keyA, false)
	if ls.Healthy() == nil || ls.Get(keyB).Healthy() == nil {
		t.Error("Healthy nil during an outage")
	}
	down.Store(false)
	wait(keyA, true)
	wait(keyB, true)
	if err := ls.Healthy(); err != nil {
		t.Errorf("Healthy after the outage: %v", err)
	}
	setDown()
	wait(keyB, false)
	wait(keyA, false)
	down.Store(false)
	wait(keyA, true)
	if e, i := h.count(slog.LevelError), h.count(slog.LevelInfo); e != 2 || i != 2 {
		t.Errorf("two outages logged %d error and %d info lines, want 2 and 2", e, i)
	}
	if first, second := ls.Get(keyA), ls.Get(keyA); first != second {
		t.Error("Limiters.Get made two limiters for one key")
	}
}

// BenchmarkWait measures a Wait admitted at once (one EVALSHA round trip).
func BenchmarkWait(b *testing.B) {
	c := testClient(b)
	l := New(c, testSenderKey(b, c), 1<<30, 0.015, nil)
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			if err := l.Wait(ctx, 1); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := l.Wait(ctx, 1); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

// TestLatenessAcrossProcesses: a process whose timer runs late counts over a
// window longer by pace.Lateness's extra, and another process's
// admissions, counted over the usual window, no longer trim from the shared
// log what that longer window still needs. The second process is refused
// where, counting only what the first left, it would have gone over the
// limit at the provider. Timing-bound: a try whose check lands outside the
// gap between the two windows (a stalled machine) is run again.
func TestLatenessAcrossProcesses(t *testing.T) {
	t.Parallel()
	c := testClient(t)
	ctx := context.Background()
	late := func(l *Limiter) {
		l.mu.Lock()
		l.lag.Note(time.Now(), 49*time.Millisecond) // extra 98 ms
		l.mu.Unlock()
	}
	for try := 1; ; try++ {
		key := testSenderKey(t, c)
		a, b := New(c, key, 10, 0.015, nil), New(c, key, 10, 0.015, nil)
		late(b)
		if err := b.Wait(ctx, 1); err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		if err := a.Wait(ctx, 9); err != nil {
			t.Fatal(err)
		}
		time.Sleep(a.window + 20*time.Millisecond) // past a's window, inside b's
		late(b)
		resA, err := a.run(ctx, admitScript, 10, 1)
		if err != nil {
			t.Fatal(err)
		}
		resB, err := b.run(ctx, admitScript, 10, 1)
		if err != nil {
			t.Fatal(err)
		}
		if el := time.Since(t0); el >= a.window+90*time.Millisecond {
			if try == 5 {
				t.Fatalf("5 tries, each checked %v after the first admissions: past the longer window", el)
			}
			continue
		}
		if resA[0] != 1 {
			t.Errorf("a, past its own window: %v, want admitted (a counts its own window only)", resA)
		}
		if resB[0] != 0 {
			t.Errorf("b: %v, want refused: 1 + 9 + 1 already in its window of %v, limit 10", resB, b.window+98*time.Millisecond)
		}
		return
	}
}
