package e2e

import (
	"context"
	"database/sql"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the driver "sqlite", to count stored reports

	herald "github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/mockprovider"
)

// TestPollingSurvivesKills runs a campaign whose reports come by polling
// (an API key set to POLLING at the provider), and SIGKILLs serve twice
// while it polls. Every recipient must end DELIVERED or FAILED from polled
// reports, every report the provider handed out and herald acknowledged
// must be in the database, nothing may be left at the provider, and the
// non-send APIs must never have been asked more than 5 times in a second.
// HERALD_E2E_POLL_RECIPIENTS scales it (bench/polling.sh runs 10,000).
func TestPollingSurvivesKills(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds and runs processes")
	}
	t.Parallel()
	n := envInt("HERALD_E2E_POLL_RECIPIENTS", 2000)
	dbPath := t.TempDir() + "/herald.db"
	mockAddr, serveAddr := freeAddr(t), freeAddr(t)
	start(t, mockAddr, "mock-provider", "--listen", mockAddr, "--key", apiKey, "--tps", "100000",
		"--reports", "polling", "--api-rate", "5", "--not-user-rate", "0.1", "--seed", "3",
		"--report-delay", "50ms", "--log-level", "warn")
	serve := start(t, serveAddr, "serve", "--db", "sqlite:"+dbPath, "--listen", serveAddr, "--admin-token", adminToken,
		"--provider-url", "http://"+mockAddr, "--provider-key", apiKey, "--tps", "1000",
		"--reports", "polling", "--lease-ttl", "3s", "--log-level", "warn")
	client := heraldhttp.NewClient("http://"+serveAddr, adminToken)
	camp := seed(t, client, n, 1000)

	// Kill serve twice while batches are being polled: once a batch was
	// acknowledged, and again after more came in; each time preferably
	// while a batch is handed out and not yet acknowledged (it must come
	// back to the next poller).
	acked := int64(0)
	for k := range 2 {
		waitMock(t, mockAddr, "polling under way", func(s mockprovider.Stats) bool {
			return s.PollAcked > acked && s.PollAcked < int64(n)
		})
		if !waitMockUpTo(t, mockAddr, 5*time.Second, func(s mockprovider.Stats) bool { return s.PollOutstanding > 0 }) {
			t.Logf("kill %d: no batch caught in flight; killing anyway", k+1)
		}
		serve.kill()
		st := readMockStats(t, mockAddr)
		acked = st.PollAcked
		t.Logf("kill %d: %d reports acknowledged, %d outstanding, %d waiting", k+1, st.PollAcked, st.PollOutstanding, st.ReportsAwaitingPoll)
		serve.restart()
	}
	c := waitReported(t, client, camp.ID, n, 5*time.Minute)
	// Reports are durable before their batch is acknowledged: the last ack
	// may follow the last recipient's report.
	waitMock(t, mockAddr, "every batch acknowledged", func(s mockprovider.Stats) bool { return s.PollAcked >= int64(n) })
	st := readMockStats(t, mockAddr)
	t.Logf("counts %v; polled batches %d (handed out again %d), reports acknowledged %d; non-send requests %d, busiest second %d, refused %d, by kind %v",
		c.Counts, st.PollBatches, st.PollRedelivered, st.PollAcked, st.APIRequests, st.APIMaxWindow, st.APIRefusedRateLimit, st.APIRequestsByKind)

	if c.Counts[herald.RecipientDelivered]+c.Counts[herald.RecipientFailed] != n {
		t.Fatalf("not every recipient settled by a report: %v", c.Counts)
	}
	if failed := c.Counts[herald.RecipientFailed]; failed < n/20 || failed > n/5 {
		t.Errorf("FAILED %d of %d, want about 10%% (the mock's not-a-user rate)", failed, n)
	}
	if st.PollAcked != int64(n) || st.ReportsAwaitingPoll != 0 || st.PollOutstanding != 0 {
		t.Fatalf("provider: %d reports acknowledged of %d, %d waiting, %d handed out and not acknowledged",
			st.PollAcked, n, st.ReportsAwaitingPoll, st.PollOutstanding)
	}
	if st.APIMaxWindow > 5 || st.APIRefusedRateLimit != 0 {
		t.Fatalf("herald asked the non-send APIs %d times in one second (limit 5); %d refused", st.APIMaxWindow, st.APIRefusedRateLimit)
	}
	if st.DuplicateRefs != 0 {
		t.Fatalf("provider delivered %d messages more than once", st.DuplicateRefs)
	}
	stored, matched := countReports(t, dbPath)
	if stored != n || matched != n {
		t.Fatalf("database holds %d reports (%d matched), the provider handed out and herald acknowledged %d", stored, matched, st.PollAcked)
	}
}

// waitMock polls the mock's stats until cond holds.
func waitMock(t *testing.T, addr, what string, cond func(mockprovider.Stats) bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if cond(readMockStats(t, addr)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %+v", what, readMockStats(t, addr))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitMockUpTo is waitMock that gives up after d; it reports whether cond held.
func waitMockUpTo(t *testing.T, addr string, d time.Duration, cond func(mockprovider.Stats) bool) bool {
	t.Helper()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if cond(readMockStats(t, addr)) {
			return true
		}
	}
	return false
}

// waitReported waits until every recipient has a final report state.
func waitReported(t *testing.T, client *heraldhttp.Client, id int64, n int, timeout time.Duration) herald.Campaign {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, err := client.GetCampaign(ctx, id)
		cancel()
		if err == nil && c.Counts[herald.RecipientDelivered]+c.Counts[herald.RecipientFailed] == n {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("reports not in after %s: %+v (err %v)", timeout, c.Counts, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// countReports counts the reports stored, and those matched to a
// recipient, straight from the SQLite file.
func countReports(t *testing.T, path string) (stored, matched int) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.QueryRow(`SELECT count(*), count(recipient_id) FROM reports`).Scan(&stored, &matched); err != nil {
		t.Fatal(err)
	}
	return stored, matched
}
