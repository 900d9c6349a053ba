package e2e

import (
	"math/rand/v2"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
)

// TestCrashLoop kills `herald serve` with SIGKILL at random moments of a
// campaign while the provider fails 5% of requests after accepting them
// (in doubt) and refuses 5% before. After restarts, the provider must have
// delivered nobody twice and every recipient must be settled.
// HERALD_E2E_RECIPIENTS and HERALD_E2E_KILLS scale it (the full
// run: 20000 and 10).
func TestCrashLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds and runs processes")
	}
	t.Parallel()
	crashLoop(t, "sqlite:"+t.TempDir()+"/herald.db", envInt("HERALD_E2E_RECIPIENTS", 3000), envInt("HERALD_E2E_KILLS", 3))
}

// crashLoop runs the crash loop on the database db.
func crashLoop(t *testing.T, db string, n, kills int) {
	mockAddr, serveAddr := freeAddr(t), freeAddr(t)
	start(t, mockAddr, "mock-provider", "--listen", mockAddr, "--key", apiKey, "--tps", "100000",
		"--fail-after-accept-rate", "0.05", "--refuse-rate", "0.05", "--seed", "7", "--log-level", "warn",
		"--report-url", "http://"+serveAddr+"/v1/reports", "--report-secret", secret, "--report-delay", "20ms")
	serve := start(t, serveAddr, "serve", "--db", db, "--listen", serveAddr, "--admin-token", adminToken,
		"--provider-url", "http://"+mockAddr, "--provider-key", apiKey, "--tps", "0", "--report-secret", secret,
		"--lease-ttl", "10s", "--log-level", "warn")
	client := heraldhttp.NewClient("http://"+serveAddr, adminToken)
	camp := seed(t, client, n, 1000)

	for k := range kills {
		time.Sleep(time.Duration(200+rand.IntN(1200)) * time.Millisecond)
		serve.kill()
		t.Logf("kill %d/%d", k+1, kills)
		serve.restart()
	}
	c := waitSent(t, client, camp.ID, 5*time.Minute)
	st := readMockStats(t, mockAddr)
	t.Logf("counts %v; provider accepted %d, replayed (A301) %d, failed after accept %d, refused %d",
		c.Counts, st.Accepted, st.Replayed, st.FailedAfterAccept, st.RefusedOther)
	if st.DuplicateRefs != 0 || st.DuplicateRecipients != 0 {
		t.Fatalf("provider delivered %d messages and %d numbers more than once: %v", st.DuplicateRefs, st.DuplicateRecipients, st.DuplicateRefExamples)
	}
	if c.Total != n {
		t.Fatalf("total %d, want %d", c.Total, n)
	}
	settled := c.Counts[herald.RecipientAccepted] + c.Counts[herald.RecipientDelivered] + c.Counts[herald.RecipientFailed] + c.Counts[herald.RecipientUnknown]
	if settled != n {
		t.Fatalf("settled %d of %d: %v", settled, n, c.Counts)
	}
	if unknown := c.Counts[herald.RecipientUnknown]; unknown > n/100 {
		t.Fatalf("%d UNKNOWN of %d: more than 1%%", unknown, n)
	}
	if int64(c.Counts[herald.RecipientAccepted]+c.Counts[herald.RecipientDelivered]+c.Counts[herald.RecipientFailed]) > st.Accepted {
		t.Fatalf("herald counts more accepted (%v) than the provider took (%d)", c.Counts, st.Accepted)
	}
}
