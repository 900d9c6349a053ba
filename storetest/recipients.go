package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
)

func testClaimAndRecord(t *testing.T, s herald.Store) {
	c := running(t, s, 5)
	got := claim(t, s, c, "w1", 3, epoch)
	if len(got) != 3 {
		t.Fatalf("claimed %d, want 3", len(got))
	}
	ids := map[string]bool{}
	for _, r := range got {
		if r.State != herald.RecipientSending || r.LeaseOwner != "w1" || r.Attempts != 1 || r.MessageID == "" || ids[r.MessageID] ||
			r.ClaimToken < 1 || r.Resends != 0 || r.InDoubt || r.BatchKey != "" {
			t.Fatalf("claimed row %+v: want SENDING, owner w1, attempt 1, a claim token, a fresh message id, no key", r)
		}
		ids[r.MessageID] = true
	}
	now := epoch.Add(time.Second)
	err := s.RecordOutcomes(ctx(t), []herald.RecipientUpdate{
		{ID: got[0].ID, Owner: "w1", Token: got[0].ClaimToken, State: herald.RecipientAccepted, MsgKey: "K0", ResultCode: "A000", At: now},
		{ID: got[1].ID, Owner: "w1", Token: got[1].ClaimToken, State: herald.RecipientFailed, ResultCode: "A306", ResultText: "bad to", At: now},
		// A stale owner's write is ignored, and so is a write with a token
		// the row was never claimed with.
		{ID: got[2].ID, Owner: "someone-else", Token: got[2].ClaimToken, State: herald.RecipientAccepted, MsgKey: "X", At: now},
		{ID: got[2].ID, Owner: "w1", Token: got[2].ClaimToken + 1, State: herald.RecipientAccepted, MsgKey: "Y", At: now},
	})
	if err != nil {
		t.Fatal(err)
	}
	cc := must(s.GetCampaign(ctx(t), c.ID))(t)
	checkCounts(t, cc, map[herald.RecipientState]int{
		herald.RecipientAccepted: 1, herald.RecipientFailed: 1, herald.RecipientSending: 1, herald.RecipientPending: 2,
	})
	rows := must(s.ListRecipients(ctx(t), c.ID, 0, 10))(t)
	if rows[0].MsgKey != "K0" || rows[0].LeaseOwner != "" || rows[1].ResultText != "bad to" || rows[2].MsgKey != "" {
		t.Fatalf("recorded rows %+v", rows[:3])
	}
	if next := claim(t, s, c, "w2", 10, now); len(next) != 2 || next[0].MessageID == got[0].MessageID {
		t.Fatalf("second claim = %+v, want the two remaining rows", next)
	}
	// A paused campaign gives nothing to claim.
	must(s.TransitionCampaign(ctx(t), c.ID, herald.CampaignPaused, now))(t)
	if more := claim(t, s, c, "w3", 10, now); len(more) != 0 {
		t.Fatalf("claimed %d from a paused campaign", len(more))
	}
}

func testClaimConcurrent(t *testing.T, s herald.Store) {
	const n, workers = 400, 8
	c := running(t, s, n)
	var mu sync.Mutex
	seen := map[int64]string{}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			owner := fmt.Sprintf("w%d", w)
			for {
				got, err := s.ClaimRecipients(ctx(t), herald.ClaimParams{
					CampaignID: c.ID, Limit: 7, Owner: owner, Now: epoch, LeaseUntil: epoch.Add(time.Minute),
				})
				if err != nil {
					errs <- err
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, r := range got {
					if prev, dup := seen[r.ID]; dup {
						errs <- fmt.Errorf("recipient %d claimed by %s and %s", r.ID, prev, owner)
					}
					seen[r.ID] = owner
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(seen) != n {
		t.Fatalf("claimed %d distinct recipients, want %d", len(seen), n)
	}
}

func testClaimRetryWait(t *testing.T, s herald.Store) {
	c := running(t, s, 1)
	r := claim(t, s, c, "w", 1, epoch)[0]
	retryAt := epoch.Add(10 * time.Second)
	err := s.RecordOutcomes(ctx(t), []herald.RecipientUpdate{
		{ID: r.ID, Owner: "w", Token: r.ClaimToken, State: herald.RecipientRetryWait, ResultCode: "A020", NextAttempt: retryAt, At: epoch},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := claim(t, s, c, "w", 1, retryAt.Add(-time.Millisecond)); len(got) != 0 {
		t.Fatalf("claimed a retry before it was due: %+v", got)
	}
	got := claim(t, s, c, "w", 1, retryAt)
	if len(got) != 1 || got[0].Attempts != 2 || got[0].MessageID != r.MessageID || got[0].ClaimToken <= r.ClaimToken {
		t.Fatalf("retry claim = %+v, want attempt 2 with the same message id %s and a newer token than %d", got, r.MessageID, r.ClaimToken)
	}
}

func testCancelKeepsInFlight(t *testing.T, s herald.Store) {
	c := running(t, s, 4)
	inFlight := claim(t, s, c, "w", 1, epoch)
	must(s.TransitionCampaign(ctx(t), c.ID, herald.CampaignCancelled, epoch))(t)
	cc := must(s.GetCampaign(ctx(t), c.ID))(t)
	checkCounts(t, cc, map[herald.RecipientState]int{herald.RecipientCancelled: 3, herald.RecipientSending: 1})
	// The send that was already out is still recorded.
	err := s.RecordOutcomes(ctx(t), []herald.RecipientUpdate{
		{ID: inFlight[0].ID, Owner: "w", Token: inFlight[0].ClaimToken, State: herald.RecipientAccepted, MsgKey: "K", At: epoch},
	})
	if err != nil {
		t.Fatal(err)
	}
	checkCounts(t, must(s.GetCampaign(ctx(t), c.ID))(t), map[herald.RecipientState]int{herald.RecipientAccepted: 1})
}

func testRelease(t *testing.T, s herald.Store) {
	c := running(t, s, 3)
	got := claim(t, s, c, "w", 3, epoch)
	must(0, s.MarkBatches(ctx(t), "w", []herald.SentRequest{sentRequest("K", epoch, got[0])}))(t)
	must(0, s.ReleaseRecipients(ctx(t), "w", claimsOf(got[1], got[2]), epoch))(t)
	must(0, s.ReleaseRecipients(ctx(t), "other", claimsOf(got[0]), epoch))(t) // not its lease: no effect
	checkCounts(t, must(s.GetCampaign(ctx(t), c.ID))(t), map[herald.RecipientState]int{
		herald.RecipientSending: 1, herald.RecipientPending: 2,
	})
	again := claim(t, s, c, "w2", 3, epoch)
	if len(again) != 2 || again[0].Attempts != 1 || again[0].BatchKey != "" {
		t.Fatalf("after release claimed %+v, want two rows at attempt 1 without a batch key", again)
	}
}

func testCompleteCampaign(t *testing.T, s herald.Store) {
	c := running(t, s, 2)
	if list := must(s.RunningCampaigns(ctx(t)))(t); len(list) != 1 || list[0].ID != c.ID {
		t.Fatalf("running = %+v", list)
	}
	got := claim(t, s, c, "w", 2, epoch)
	if done := must(s.CompleteCampaign(ctx(t), c.ID, epoch))(t); done {
		t.Fatal("completed a campaign with recipients in flight")
	}
	ups := []herald.RecipientUpdate{
		{ID: got[0].ID, Owner: "w", Token: got[0].ClaimToken, State: herald.RecipientAccepted, MsgKey: "K", At: epoch},
		{ID: got[1].ID, Owner: "w", Token: got[1].ClaimToken, State: herald.RecipientFailed, ResultCode: "A306", At: epoch},
	}
	must(0, s.RecordOutcomes(ctx(t), ups))(t)
	if done := must(s.CompleteCampaign(ctx(t), c.ID, epoch))(t); !done {
		t.Fatal("campaign with nothing left to send did not complete")
	}
	if cc := must(s.GetCampaign(ctx(t), c.ID))(t); cc.State != herald.CampaignCompleted {
		t.Fatalf("state = %s", cc.State)
	}
	if list := must(s.RunningCampaigns(ctx(t)))(t); len(list) != 0 {
		t.Fatalf("running after completion = %+v", list)
	}
}

// testCountsAddUp reads counts while claims and records run, and checks that
// every snapshot adds up to the same total.
func testCountsAddUp(t *testing.T, s herald.Store) {
	const n = 300
	c := running(t, s, n)
	done := make(chan error, 1)
	go func() {
		for {
			got, err := s.ClaimRecipients(ctx(t), herald.ClaimParams{CampaignID: c.ID, Limit: 20, Owner: "w", Now: epoch, LeaseUntil: epoch.Add(time.Minute)})
			if err != nil || len(got) == 0 {
				done <- err
				return
			}
			ups := make([]herald.RecipientUpdate, len(got))
			for i, r := range got {
				ups[i] = herald.RecipientUpdate{ID: r.ID, Owner: "w", Token: r.ClaimToken, State: herald.RecipientAccepted, MsgKey: r.MessageID, At: epoch}
			}
			if err := s.RecordOutcomes(ctx(t), ups); err != nil {
				done <- err
				return
			}
		}
	}()
	for {
		cc := must(s.GetCampaign(ctx(t), c.ID))(t)
		checkCounts(t, cc, nil)
		if cc.Total != n {
			t.Fatalf("total %d, want %d", cc.Total, n)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			checkCounts(t, must(s.GetCampaign(ctx(t), c.ID))(t), map[herald.RecipientState]int{herald.RecipientAccepted: n})
			return
		default:
		}
	}
}

func testAcceptedWithoutReport(t *testing.T, s herald.Store) {
	c := running(t, s, 5)
	got := claim(t, s, c, "w", 5, epoch)
	ups := make([]herald.RecipientUpdate, len(got))
	for i, r := range got {
		ups[i] = herald.RecipientUpdate{ID: r.ID, Owner: "w", Token: r.ClaimToken, State: herald.RecipientAccepted, MsgKey: fmt.Sprint("K", i), At: epoch.Add(time.Duration(i) * time.Minute)}
	}
	ups[3].State = herald.RecipientFailed
	// Accepted without a msgKey: no inquiry can settle it, so it is not listed.
	ups[4].MsgKey, ups[4].At = "", epoch
	must(0, s.RecordOutcomes(ctx(t), ups))(t)
	overdue := must(s.AcceptedWithoutReport(ctx(t), epoch.Add(90*time.Second), 0, 10))(t)
	if len(overdue) != 2 || overdue[0].MsgKey != "K0" || overdue[1].MsgKey != "K1" {
		t.Fatalf("overdue = %+v, want K0 and K1", overdue)
	}
	next := must(s.AcceptedWithoutReport(ctx(t), epoch.Add(time.Hour), overdue[0].ID, 1))(t)
	if len(next) != 1 || next[0].MsgKey != "K1" {
		t.Fatalf("page after the first = %+v", next)
	}
}
