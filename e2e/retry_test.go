package e2e

import (
	"context"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
)

// TestRetryTheFailed sends a campaign through the mock with 5% of the
// numbers reported failed (3% 63019 not a KakaoTalk user, 2% 63020
// blocked), retries it with the defaults, and checks at the provider that
// the follow-up went to exactly the failed numbers, once each.
func TestRetryTheFailed(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds and runs processes")
	}
	t.Parallel()
	const n = 1000
	mockAddr, serveAddr := freeAddr(t), freeAddr(t)
	start(t, mockAddr, "mock-provider", "--listen", mockAddr, "--key", apiKey, "--tps", "100000",
		"--not-user-rate", "0.03", "--blocked-rate", "0.02", "--seed", "14", "--log-level", "warn",
		"--report-url", "http://"+serveAddr+"/v1/reports", "--report-secret", secret, "--report-delay", "20ms")
	start(t, serveAddr, "serve", "--db", "sqlite:"+t.TempDir()+"/herald.db", "--listen", serveAddr, "--admin-token", adminToken,
		"--provider-url", "http://"+mockAddr, "--provider-key", apiKey, "--tps", "0", "--report-secret", secret, "--log-level", "warn")
	client := heraldhttp.NewClient("http://"+serveAddr, adminToken)
	src := seed(t, client, n, 1000)
	done := waitCompletedReported(t, client, src.ID)
	failed := done.Counts[herald.RecipientFailed]
	if failed < n/50 || failed > n/10 || done.Counts[herald.RecipientDelivered] != n-failed {
		t.Fatalf("source ended %v: want about 5%% FAILED, the rest DELIVERED", done.Counts)
	}
	before := readMockStats(t, mockAddr)
	if before.DuplicateRecipients != 0 || before.Accepted != n {
		t.Fatalf("the source itself: accepted %d, %d numbers twice", before.Accepted, before.DuplicateRecipients)
	}
	fs, err := client.CampaignFailures(t.Context(), src.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if (f.Code != "63019" && f.Code != "63020") || !f.Retryable || f.State != herald.RecipientFailed {
			t.Fatalf("failures %+v: want only retryable 63019 and 63020", fs)
		}
	}

	follow, err := client.RetryCampaign(t.Context(), src.ID, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if follow.RetryOf != src.ID || follow.Audience.Retry.Members != failed {
		t.Fatalf("follow-up %+v: want %d members, retry of %d", follow, failed, src.ID)
	}
	end := waitCompletedReported(t, client, follow.ID)
	after := readMockStats(t, mockAddr)
	t.Logf("source %v; failures %+v; follow-up %d of %d members: %v; mock accepted %d then %d, numbers twice %d",
		done.Counts, fs, follow.ID, follow.Audience.Retry.Members, end.Counts, before.Accepted, after.Accepted, after.DuplicateRecipients)
	// The mock fails the same numbers again (its mix is by number), so
	// every one of them was accepted exactly twice: once per campaign.
	if got := after.Accepted - before.Accepted; got != int64(failed) {
		t.Errorf("the follow-up sent %d recipients, want the %d failed", got, failed)
	}
	if after.DuplicateRecipients != failed || after.UniqueRecipients != before.UniqueRecipients || after.DuplicateRefs != 0 {
		t.Errorf("at the mock: %d numbers twice (want the %d failed), %d numbers (want %d), %d refs twice",
			after.DuplicateRecipients, failed, after.UniqueRecipients, before.UniqueRecipients, after.DuplicateRefs)
	}
	if end.Total != failed {
		t.Errorf("follow-up total %d, want %d", end.Total, failed)
	}
	// Retried once: a second retry of the source finds nobody.
	if _, err := client.RetryCampaign(t.Context(), src.ID, nil, nil); err == nil {
		t.Errorf("a second retry of the source made a campaign")
	}
}

// waitCompletedReported waits until campaign id is completed and every report is in
// (no row ACCEPTED).
func waitCompletedReported(t *testing.T, client *heraldhttp.Client, id int64) herald.Campaign {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, err := client.GetCampaign(ctx, id)
		cancel()
		if err == nil && c.State == herald.CampaignCompleted && c.Counts[herald.RecipientAccepted] == 0 {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("campaign %d not completed and reported: %+v (err %v)", id, c, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
