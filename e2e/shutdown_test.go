package e2e

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/sqlite"
)

// TestGracefulShutdown sends SIGTERM to serve mid-campaign: it must exit
// cleanly, leaving no row SENDING (in-flight sends recorded, claimed but
// unsent rows released), and a restart must finish the campaign with no
// duplicate.
func TestGracefulShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds and runs processes")
	}
	t.Parallel()
	const n = 2000
	dir := t.TempDir()
	db := filepath.Join(dir, "herald.db")
	mockAddr, serveAddr := freeAddr(t), freeAddr(t)
	start(t, mockAddr, "mock-provider", "--listen", mockAddr, "--key", apiKey, "--tps", "100000", "--log-level", "warn",
		"--reports", "off", "--latency", "20ms", "--latency-spread", "10ms")
	serve := start(t, serveAddr, "serve", "--db", "sqlite:"+db, "--listen", serveAddr, "--admin-token", adminToken,
		"--provider-url", "http://"+mockAddr, "--provider-key", apiKey, "--tps", "0", "--log-level", "warn")
	client := heraldhttp.NewClient("http://"+serveAddr, adminToken)
	camp := seed(t, client, n, 500)
	for {
		c, err := client.GetCampaign(t.Context(), camp.ID)
		if err != nil {
			t.Fatal(err)
		}
		if c.Counts[herald.RecipientAccepted] > 200 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	serve.cmd.Process.Signal(syscall.SIGTERM)
	exited := make(chan error, 1)
	go func() { exited <- serve.cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("serve exited with %v after SIGTERM:\n%s", err, tail(serve.log.String(), 2000))
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not exit within 30 s of SIGTERM")
	}
	store, err := sqlite.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	c, err := store.GetCampaign(t.Context(), camp.ID)
	store.Close()
	if err != nil {
		t.Fatal(err)
	}
	if c.Counts[herald.RecipientSending] != 0 || c.Counts[herald.RecipientPending] == 0 {
		t.Fatalf("after a graceful stop: %v, want nothing SENDING and the rest PENDING", c.Counts)
	}
	serve.restart()
	c = waitSent(t, client, camp.ID, time.Minute)
	st := readMockStats(t, mockAddr)
	if st.DuplicateRefs != 0 || c.Counts[herald.RecipientAccepted] != n || st.Accepted != n {
		t.Fatalf("after restart: %v; provider accepted %d with %d duplicates", c.Counts, st.Accepted, st.DuplicateRefs)
	}
}
