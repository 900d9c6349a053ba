package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/mockprovider"
)

// TestChaos sends one campaign from one `herald serve` (SQLite) through a
// mock provider that browns out — answers held past the client's timeout
// (accepted, in doubt), then the port shut (ECONNREFUSED), then 429 A020
// for everything — while serve is SIGKILLed and restarted at random
// moments and reports come back late. At the provider's count nobody may
// get the message twice, every recipient must end terminal and the
// campaign completed. Sizes: HERALD_CHAOS_* (see chaosSettings);
// bench/chaos.sh runs the big version.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds and runs processes")
	}
	t.Parallel()
	runChaos(t, "sqlite:"+filepath.Join(t.TempDir(), "herald.db"), 1)
}

// TestChaosTwoServesPostgres is TestChaos with two serve processes on one
// PostgreSQL schema; each kill takes one of them or both.
func TestChaosTwoServesPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds and runs processes")
	}
	t.Parallel()
	runChaos(t, pgtest.URL(t), 2)
}

// TestChaosTwoServesThroughTransactionPooler: the same through PgBouncer
// in transaction mode (.ci/run starts it): a process SIGKILLed mid-transaction
// leaves nothing behind in a session the pooler hands to another client.
func TestChaosTwoServesThroughTransactionPooler(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds and runs processes")
	}
	t.Parallel()
	pooled, _ := pgtest.PoolerURL(t)
	runChaos(t, pooled, 2)
}

// chaosConfig is one chaos run's sizes and timings.
type chaosConfig struct {
	recipients, tps, kills, batch, workers int
	scale                                  float64
	hold, refuse, tooMany, after           time.Duration // the brown-out's phases, and its start after the first send
	holdAnswer, providerTimeout            time.Duration
	reportDelay, leaseTTL, reportWindow    time.Duration
	timeout                                time.Duration // the whole wait for the campaign to settle
	breaker                                bool
}

// chaosSettings reads the knobs. HERALD_CHAOS_PHASE_SCALE=1 is the real
// thing: hold 15 s (answers held 15 s, past herald's 10 s timeout), refuse
// 10 s, 429 10 s, reports 30 s late. The CI default, 0.3, keeps the whole
// test under about 90 s.
func chaosSettings(t *testing.T) chaosConfig {
	scale := envFloat("HERALD_CHAOS_PHASE_SCALE", 0.3)
	scaled := func(d time.Duration) time.Duration {
		return time.Duration(float64(d) * scale).Round(100 * time.Millisecond)
	}
	c := chaosConfig{
		recipients: envInt("HERALD_CHAOS_RECIPIENTS", 1500),
		tps:        envInt("HERALD_CHAOS_TPS", 300),
		kills:      envInt("HERALD_CHAOS_KILLS", 2),
		batch:      envInt("HERALD_CHAOS_BATCH_SIZE", 1),
		workers:    envInt("HERALD_CHAOS_WORKERS", 32),
		scale:      scale,
		hold:       scaled(15 * time.Second), refuse: scaled(10 * time.Second), tooMany: scaled(10 * time.Second),
		after:      max(scaled(5*time.Second), time.Second),
		holdAnswer: envDuration("HERALD_CHAOS_HOLD_ANSWER", max(scaled(15*time.Second), 500*time.Millisecond)),
		leaseTTL:   envDuration("HERALD_CHAOS_LEASE_TTL", 3*time.Second),
		breaker:    os.Getenv("HERALD_CHAOS_BREAKER") != "off",
	}
	delay := 2 * time.Second
	if scale >= 1 {
		delay = scaled(30 * time.Second)
	}
	c.reportDelay = envDuration("HERALD_CHAOS_REPORT_DELAY", delay)
	c.reportWindow = envDuration("HERALD_CHAOS_REPORT_WINDOW", max(3*c.reportDelay, 30*time.Second))
	// The client must give up on a held answer: then the hold is a real
	// timeout after the write, in doubt.
	c.providerTimeout = envDuration("HERALD_CHAOS_PROVIDER_TIMEOUT", min(10*time.Second, max(c.holdAnswer*2/3, 300*time.Millisecond)))
	if !serveHasFlag("provider-timeout") {
		c.providerTimeout = 10 * time.Second // infobank.DefaultTimeout
		if c.holdAnswer <= c.providerTimeout {
			t.Logf("NOTE: serve has no --provider-timeout: herald waits 10 s, the mock holds answers %s, so hold phases are slow answers, not timeouts", c.holdAnswer)
		}
	}
	if strings.Contains(serveHelp(), "(≥ 10s)") && c.leaseTTL < 10*time.Second {
		c.leaseTTL = 10 * time.Second // this serve refuses a shorter lease
	}
	phases := c.after + c.hold + c.refuse + c.tooMany
	sending := time.Duration(float64(c.recipients) / float64(c.tps) * float64(time.Second))
	c.timeout = envDuration("HERALD_CHAOS_TIMEOUT", 2*(phases+sending)+time.Duration(c.kills)*c.leaseTTL+2*c.reportDelay+30*time.Second)
	return c
}

func (c chaosConfig) schedule() string {
	return fmt.Sprintf("hold=%s,refuse=%s,429=%s", c.hold, c.refuse, c.tooMany)
}

func envFloat(name string, def float64) float64 {
	if v, err := strconv.ParseFloat(os.Getenv(name), 64); err == nil && v > 0 {
		return v
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// serveHelp is `herald serve --help`, to use flags only where they exist
// (the dispatcher and its flags are changing).
var serveHelp = sync.OnceValue(func() string {
	out, _ := exec.Command(binary, "serve", "--help").CombinedOutput()
	return string(out)
})

func serveHasFlag(name string) bool { return strings.Contains(serveHelp(), "--"+name+" ") }

// chaosStats is the mock's GET /mock/stats.
type chaosStats = mockprovider.Stats

// getChaosStats reads the mock's count once (it fails while the port is shut).
func getChaosStats(addr string) (chaosStats, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + addr + "/mock/stats")
	if err != nil {
		return chaosStats{}, err
	}
	defer resp.Body.Close()
	var s chaosStats
	return s, json.NewDecoder(resp.Body).Decode(&s)
}

// phaseOf names the mock's brown-out phase now, for the log.
func phaseOf(addr string) string {
	st, err := getChaosStats(addr)
	switch {
	case err != nil:
		return "unreachable (refuse)"
	case st.BrownoutPhase != "":
		return st.BrownoutPhase
	case st.Brownout != nil:
		return st.Brownout.State
	}
	return "none"
}

// sentCount is how many recipients the dispatcher is done with.
func sentCount(c herald.Campaign) int {
	n := 0
	for s, k := range c.Counts {
		if s.Sent() {
			n += k
		}
	}
	return n
}

func terminalCount(c herald.Campaign) int {
	n := 0
	for s, k := range c.Counts {
		if s.Terminal() {
			n += k
		}
	}
	return n
}

// chaosRun is one run's processes and what it measured.
type chaosRun struct {
	t        *testing.T
	cfg      chaosConfig
	mockAddr string
	serves   []*proc
	clients  []*heraldhttp.Client
	campID   int64
	kills    []string // one line per kill, with its recovery
	resumes  int
	began    time.Time
}

func runChaos(t *testing.T, db string, nServes int) {
	cfg := chaosSettings(t)
	dir := t.TempDir()
	tpl := filepath.Join(dir, "templates.json")
	if err := os.WriteFile(tpl, []byte(`[{"code":"E2E","text":"#{name}님, 주문 #{order}번이 발송되었습니다."}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &chaosRun{t: t, cfg: cfg, mockAddr: freeAddr(t)}
	addrs := make([]string, nServes)
	for i := range addrs {
		addrs[i] = freeAddr(t)
	}
	t.Logf("chaos: %d recipients at %d TPS, %d serve(s), %d kills, batch %d, brown-out %s after %s (answers held %s, provider timeout %s), reports %s late, lease %s",
		cfg.recipients, cfg.tps, nServes, cfg.kills, cfg.batch, cfg.schedule(), cfg.after, cfg.holdAnswer, cfg.providerTimeout, cfg.reportDelay, cfg.leaseTTL)
	start(t, r.mockAddr, "mock-provider", "--listen", r.mockAddr, "--key", apiKey, "--tps", strconv.Itoa(cfg.tps),
		"--templates", tpl, "--seed", "7", "--log-level", "info",
		"--report-url", "http://"+addrs[0]+"/v1/reports", "--report-secret", secret, "--report-delay", cfg.reportDelay.String(),
		"--report-retries", "8", "--report-backoff", "250ms", // reports outlive a killed serve
		"--brownout", cfg.schedule(), "--brownout-after", cfg.after.String(), "--hold-answer", cfg.holdAnswer.String())
	for _, addr := range addrs {
		args := []string{"serve", "--db", db, "--listen", addr, "--admin-token", adminToken,
			"--provider-url", "http://" + r.mockAddr, "--provider-key", apiKey, "--report-secret", secret,
			"--tps", strconv.Itoa(cfg.tps), "--batch-size", strconv.Itoa(cfg.batch), "--workers", strconv.Itoa(cfg.workers),
			"--lease-ttl", cfg.leaseTTL.String(), "--log-level", "warn"}
		if serveHasFlag("provider-timeout") {
			args = append(args, "--provider-timeout", cfg.providerTimeout.String())
		}
		if serveHasFlag("report-window") {
			args = append(args, "--report-window", cfg.reportWindow.String())
		}
		if !cfg.breaker && serveHasFlag("breaker-window") {
			args = append(args, "--breaker-window", "-1")
		}
		r.serves = append(r.serves, start(t, addr, args...))
		r.clients = append(r.clients, heraldhttp.NewClient("http://"+addr, adminToken))
	}
	r.began = time.Now()
	camp := seed(t, r.clients[0], cfg.recipients, cfg.tps)
	r.campID = camp.ID

	r.killLoop()
	c, settled := r.waitSettled()
	r.report(c, settled)
}

// campaign reads the campaign from the first serve that answers.
func (r *chaosRun) campaign() (herald.Campaign, error) {
	var err error
	for _, cl := range r.clients {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		var c herald.Campaign
		c, err = cl.GetCampaign(ctx, r.campID)
		cancel()
		if err == nil {
			return c, nil
		}
	}
	return herald.Campaign{}, err
}

// resumeIfHalted resumes the campaign when the dispatcher paused it (the
// error breaker during a 429 phase): what an operator would do. Nobody
// else pauses it in this test.
func (r *chaosRun) resumeIfHalted(c herald.Campaign) {
	if c.State != herald.CampaignPaused {
		return
	}
	r.resumes++
	r.t.Logf("campaign paused by the dispatcher at %s (mock phase %s): %+v; resuming", r.elapsed(), phaseOf(r.mockAddr), c)
	for _, cl := range r.clients {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := cl.ResumeCampaign(ctx, r.campID)
		cancel()
		if err == nil {
			return
		}
	}
}

func (r *chaosRun) elapsed() string {
	return time.Since(r.began).Round(100 * time.Millisecond).String()
}

// killLoop SIGKILLs serve (one process, or with two a random one or both)
// at random moments spread over the expected length of the campaign, and
// measures each recovery.
func (r *chaosRun) killLoop() {
	cfg := r.cfg
	expected := cfg.after + cfg.hold + cfg.refuse + cfg.tooMany + time.Duration(float64(cfg.recipients)/float64(cfg.tps)*float64(time.Second))
	slot := max(expected/time.Duration(cfg.kills), time.Second)
	for k := range cfg.kills {
		// One kill at a random moment of each slot (at once when the
		// previous recovery ran into this slot).
		at := r.began.Add(time.Duration(k)*slot + 300*time.Millisecond + rand.N(slot-300*time.Millisecond))
		time.Sleep(time.Until(at))
		before, err := r.campaign()
		if err == nil && sentCount(before) == before.Total && before.Total > 0 {
			r.kills = append(r.kills, fmt.Sprintf("kill %d/%d skipped: everything sent by %s", k+1, cfg.kills, r.elapsed()))
			continue
		}
		r.resumeIfHalted(before)
		victims := []int{0}
		if len(r.serves) > 1 {
			victims = [][]int{{0}, {1}, {0, 1}}[rand.IntN(3)]
		}
		phase := phaseOf(r.mockAddr)
		killed := time.Now()
		for _, v := range victims {
			r.serves[v].kill()
		}
		for _, v := range victims {
			r.serves[v].restart()
		}
		restarted := time.Since(killed)
		line := fmt.Sprintf("kill %d/%d at %s of serve %v (mock phase %s, %d sent)", k+1, cfg.kills, r.elapsed(), victims, phase, sentCount(before))
		rec, ok := r.recovery(killed, cfg.hold+cfg.refuse+cfg.tooMany+cfg.leaseTTL+30*time.Second)
		if ok {
			line += fmt.Sprintf(": recovery after SIGKILL: %.1f s (restart %.1f s)", rec.Seconds(), restarted.Seconds())
		} else {
			line += fmt.Sprintf(": recovery after SIGKILL: none within %s, or nothing left to send", rec.Round(time.Second))
		}
		r.t.Log(line)
		r.kills = append(r.kills, line)
	}
}

// recovery polls every 200 ms until the campaign's sent count moves past
// its value just after the restart; it returns the time since the kill.
func (r *chaosRun) recovery(killed time.Time, limit time.Duration) (time.Duration, bool) {
	base := -1
	for time.Since(killed) < limit {
		c, err := r.campaign()
		if err == nil {
			n := sentCount(c)
			switch {
			case base < 0:
				base = n
			case n > base:
				return time.Since(killed), true
			}
			if n == c.Total {
				return time.Since(killed), false
			}
			r.resumeIfHalted(c)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return time.Since(killed), false
}

// waitSettled waits for the campaign to complete with every recipient
// terminal, resuming it if the dispatcher halts it.
func (r *chaosRun) waitSettled() (herald.Campaign, bool) {
	deadline := time.Now().Add(r.cfg.timeout)
	var last herald.Campaign
	for time.Now().Before(deadline) {
		c, err := r.campaign()
		if err == nil {
			last = c
			if c.State == herald.CampaignCompleted && c.Total > 0 && terminalCount(c) == c.Total {
				return c, true
			}
			r.resumeIfHalted(c)
		}
		time.Sleep(250 * time.Millisecond)
	}
	return last, false
}

// finalStats reads the mock's count once its brown-out is over (the port
// may be shut when this is called).
func (r *chaosRun) finalStats() chaosStats {
	deadline := time.Now().Add(r.cfg.refuse + 30*time.Second)
	for {
		st, err := getChaosStats(r.mockAddr)
		if err == nil && st.ReportsQueued == 0 && (st.Brownout == nil || st.Brownout.State != "running") {
			return st
		}
		if time.Now().After(deadline) {
			if err != nil {
				r.t.Fatalf("mock stats: %v", err)
			}
			return st
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// census is one walk over the campaign's recipients: why each is where
// it is, grouped by state and result code, and how many herald holds as
// taken by the provider (a msgKey).
type census struct {
	groups map[herald.RecipientState]map[string]*reasonGroup
	taken  int
	err    error
}

type reasonGroup struct {
	n       int
	example string
}

func (r *chaosRun) census() census {
	c := census{groups: map[herald.RecipientState]map[string]*reasonGroup{}}
	var after int64
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		page, next, err := r.clients[0].ListRecipients(ctx, r.campID, after, 1000)
		cancel()
		if err != nil {
			c.err = err
			return c
		}
		for _, rc := range page {
			if rc.MsgKey != "" {
				c.taken++
			}
			if c.groups[rc.State] == nil {
				c.groups[rc.State] = map[string]*reasonGroup{}
			}
			k := orNone(rc.ResultCode)
			g := c.groups[rc.State][k]
			if g == nil {
				g = &reasonGroup{example: fmt.Sprintf("%s: %q (attempts %d, msgKey %q)", rc.MessageID, rc.ResultText, rc.Attempts, rc.MsgKey)}
				c.groups[rc.State][k] = g
			}
			g.n++
		}
		if next == 0 || len(page) == 0 {
			return c
		}
		after = next
	}
}

// reasons lists the groups of state, most common first.
func (c census) reasons(state herald.RecipientState) []string {
	codes := slices.Collect(maps.Keys(c.groups[state]))
	slices.SortFunc(codes, func(a, b string) int { return c.groups[state][b].n - c.groups[state][a].n })
	out := make([]string, len(codes))
	for i, code := range codes {
		g := c.groups[state][code]
		out[i] = fmt.Sprintf("%s × %d, e.g. %s", code, g.n, g.example)
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "(no code)"
	}
	return s
}

// report logs the figures, then asserts the end state at the provider's side.
func (r *chaosRun) report(c herald.Campaign, settled bool) {
	t, n := r.t, r.cfg.recipients
	wall := time.Since(r.began)
	st := r.finalStats()
	t.Logf("chaos result after %s: campaign %s, %d recipients (total %d)", wall.Round(100*time.Millisecond), c.State, n, c.Total)
	for _, s := range herald.RecipientStates {
		if c.Counts[s] > 0 {
			t.Logf("  %-10s %d", s, c.Counts[s])
		}
	}
	cen := r.census()
	if cen.err != nil {
		t.Errorf("list recipients: %v", cen.err)
	}
	for _, s := range []herald.RecipientState{herald.RecipientUnknown, herald.RecipientFailed, herald.RecipientSkipped,
		herald.RecipientPending, herald.RecipientSending, herald.RecipientRetryWait, herald.RecipientAccepted, herald.RecipientCancelled} {
		for _, line := range cen.reasons(s) {
			t.Logf("  %s reason: %s", s, line)
		}
	}
	t.Logf("  herald holds %d recipients as taken by the provider (a msgKey)", cen.taken)
	r.checkCounters()
	t.Logf("  duplicates at the mock: %d recipients %v, %d refs %v", st.DuplicateRecipients, st.DuplicateRecipientExamples, st.DuplicateRefs, st.DuplicateRefExamples)
	t.Logf("  mock: %d requests, accepted %d (unique refs %d), replayed (A301) %d, refused: rate limit %d in %d requests, other %d, bad requests %d; highest 1-s window %d of %d",
		st.Requests, st.Accepted, st.UniqueRefs, st.Replayed, st.RefusedRateLimit, st.RateLimitedRequests, st.RefusedOther, st.BadRequests, st.MaxWindow, r.cfg.tps)
	var phase429, dropped int64
	if st.Brownout != nil {
		for _, p := range st.Brownout.Phases {
			phase429 += p.RateLimited
			dropped += p.Dropped
		}
	}
	t.Logf("  mock refused in all: %d recipients (limiter 429 %d, brown-out 429 %d, other %d), %d requests dropped; connections refused while the port was shut are not counted (the kernel refuses them)",
		st.RefusedRateLimit+phase429+st.RefusedOther, st.RefusedRateLimit, phase429, st.RefusedOther, dropped)
	t.Logf("  mock reports: sent %d, acked %d, retried %d, given up %d, dropped %d", st.ReportsSent, st.ReportsAcked, st.ReportsRetried, st.ReportsGivenUp, st.ReportsDropped)
	if st.Brownout != nil {
		for _, p := range st.Brownout.Phases {
			t.Logf("  phase %-6s %-6s requests %d, accepted %d, held %d (client gave up on %d), 429 A020 %d, connections closed %d, dropped %d",
				p.Kind, p.Duration, p.Requests, p.Accepted, p.Held, p.HeldAbandoned, p.RateLimited, p.ConnsClosed, p.Dropped)
		}
		if st.Brownout.State != "done" {
			t.Errorf("the brown-out did not play to the end: %s", st.Brownout.State)
		}
	}
	for _, line := range r.kills {
		t.Logf("  %s", line)
	}
	t.Logf("  dispatcher halts resumed: %d; wall time %s", r.resumes, wall.Round(100*time.Millisecond))

	if st.DuplicateRecipients != 0 || st.DuplicateRefs != 0 {
		t.Errorf("the provider delivered %d numbers and %d messages more than once: %v %v",
			st.DuplicateRecipients, st.DuplicateRefs, st.DuplicateRecipientExamples, st.DuplicateRefExamples)
	}
	if c.Total != n {
		t.Errorf("campaign total %d, want %d", c.Total, n)
	}
	if !settled {
		t.Errorf("campaign not settled within %s: %s, %d of %d terminal: %v", r.cfg.timeout, c.State, terminalCount(c), c.Total, c.Counts)
	}
	if c.Counts[herald.RecipientCancelled] != 0 {
		t.Errorf("%d recipients CANCELLED: nobody cancelled", c.Counts[herald.RecipientCancelled])
	}
	// Every recipient herald holds as taken (a msgKey: ACCEPTED, DELIVERED,
	// a FAILED or UNKNOWN after acceptance) must have been taken; and a
	// delivery can only follow an acceptance.
	if int64(cen.taken) > st.Accepted || int64(c.Counts[herald.RecipientDelivered]) > st.Accepted {
		t.Errorf("herald counts %d recipients taken by the provider (%d DELIVERED), more than the provider took (%d)",
			cen.taken, c.Counts[herald.RecipientDelivered], st.Accepted)
	}
	if st.WindowsOverLimit != 0 {
		t.Errorf("mock self-check: %d windows over its limit", st.WindowsOverLimit)
	}
}
