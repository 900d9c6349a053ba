package e2e

import (
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/internal/pgtest"
)

// TestTwoServesOnePostgres runs two serve processes on one database and one
// campaign: SKIP LOCKED claims must split the work with no duplicate and
// nothing lost.
func TestTwoServesOnePostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds and runs processes")
	}
	t.Parallel()
	twoServes(t, pgtest.URL(t))
}

// TestTwoServesThroughTransactionPooler: the same through PgBouncer in
// transaction mode (.ci/run starts it), where a session holds nothing:
// leadership, claims and leases must live in rows, the migration lock in a
// transaction.
func TestTwoServesThroughTransactionPooler(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds and runs processes")
	}
	t.Parallel()
	pooled, _ := pgtest.PoolerURL(t)
	twoServes(t, pooled)
}

// twoServes sends one campaign with two serve processes on the database db.
func twoServes(t *testing.T, db string) {
	n := envInt("HERALD_E2E_RECIPIENTS", 3000)
	mockAddr, a, b := freeAddr(t), freeAddr(t), freeAddr(t)
	start(t, mockAddr, "mock-provider", "--listen", mockAddr, "--key", apiKey, "--tps", "100000", "--log-level", "warn",
		"--reports", "off")
	for _, addr := range []string{a, b} {
		start(t, addr, "serve", "--db", db, "--listen", addr, "--admin-token", adminToken,
			"--provider-url", "http://"+mockAddr, "--provider-key", apiKey, "--tps", "0", "--log-level", "warn")
	}
	client := heraldhttp.NewClient("http://"+a, adminToken)
	camp := seed(t, client, n, 2000)
	c := waitSent(t, heraldhttp.NewClient("http://"+b, adminToken), camp.ID, 2*time.Minute)
	st := readMockStats(t, mockAddr)
	if st.DuplicateRefs != 0 || st.DuplicateRecipients != 0 {
		t.Fatalf("duplicates: %d refs, %d numbers: %v", st.DuplicateRefs, st.DuplicateRecipients, st.DuplicateRefExamples)
	}
	if c.Counts[herald.RecipientAccepted] != n || st.Accepted != int64(n) {
		t.Fatalf("accepted %v, provider took %d, want %d", c.Counts, st.Accepted, n)
	}
}
