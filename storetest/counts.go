package storetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
)

// countsAndRetryTests are the conformance tests of the counters and of
// retries (migration 5), run by Run.
var countsAndRetryTests = map[string]func(*testing.T, herald.Store){
	"CountsAfterChaos":         testCountsAfterChaos,
	"RetryCampaign":            testRetryCampaign,
	"RetryRefusedWhileRunning": testRetryRefusedWhileRunning,
	"CampaignFailures":         testCampaignFailures,
}

// tally counts a campaign's rows per state the slow way: every row read.
func tally(t *testing.T, s herald.Store, c herald.Campaign) map[herald.RecipientState]int {
	t.Helper()
	out := map[herald.RecipientState]int{}
	for _, r := range rowsOf(t, s, c) {
		out[r.State]++
	}
	return out
}

// wantCountsMatch checks that the counters the store keeps equal a count
// of every row, through GetCampaign and ListCampaigns.
func wantCountsMatch(t *testing.T, s herald.Store, cs ...herald.Campaign) {
	t.Helper()
	list := map[int64]herald.Campaign{}
	for _, c := range must(s.ListCampaigns(ctx(t)))(t) {
		list[c.ID] = c
	}
	for _, c := range cs {
		want := tally(t, s, c)
		for what, got := range map[string]herald.Campaign{"get": must(s.GetCampaign(ctx(t), c.ID))(t), "list": list[c.ID]} {
			checkCounts(t, got, nil)
			for _, st := range herald.RecipientStates {
				if got.Counts[st] != want[st] {
					t.Fatalf("campaign %d (%s): counters %v, rows %v", c.ID, what, got.Counts, want)
				}
			}
		}
	}
}

// testCountsAfterChaos runs claims, outcomes, releases, requeues, reports
// and reads (which compact the counters) from several goroutines on two
// campaigns, then halts and cancels them, and checks the counters against
// a count of every row at the end. Any error, a deadlock the store could
// not retry included, fails the test.
func testCountsAfterChaos(t *testing.T, s herald.Store) {
	const n = 240
	a := running(t, s, n)
	b := seedCampaign(t, s, herald.Audience{All: true})
	must(s.AcquireCampaignLease(ctx(t), "prep", epoch, time.Minute))(t)
	must(s.PrepareRecipients(ctx(t), b.ID, "prep", epoch))(t)
	cs := []herald.Campaign{a, b}

	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 14))
			owner := fmt.Sprint("w", w)
			for i := range 60 {
				if err := chaosStep(t, s, rng, owner, cs[rng.IntN(2)], epoch.Add(time.Duration(i)*time.Second)); err != nil {
					errs <- fmt.Errorf("%s step %d: %w", owner, i, err)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() { // a reader, whose reads fold the counters meanwhile
		defer wg.Done()
		for range 100 {
			for _, c := range cs {
				got, err := s.GetCampaign(ctx(t), c.ID)
				if err != nil {
					errs <- err
					return
				}
				if sum := sumCounts(got); sum != got.Total || got.Total != n {
					errs <- fmt.Errorf("campaign %d: counts %v add up to %d, total %d, want %d", c.ID, got.Counts, sum, got.Total, n)
					return
				}
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	wantCountsMatch(t, s, cs...)

	later := epoch.Add(time.Hour)
	must(s.HaltCampaign(ctx(t), a.ID, herald.CampaignPaused, "chaos", later))(t)
	must(s.HaltCampaign(ctx(t), a.ID, herald.CampaignFailed, "chaos", later))(t)
	must(s.TransitionCampaign(ctx(t), b.ID, herald.CampaignCancelled, later))(t)
	wantCountsMatch(t, s, cs...)
	// The in-flight rows come back after the halt and settle.
	must(s.RequeueAbandoned(ctx(t), later, later, 10*n))(t)
	wantCountsMatch(t, s, cs...)
}

func sumCounts(c herald.Campaign) int {
	sum := 0
	for _, n := range c.Counts {
		sum += n
	}
	return sum
}

// chaosStep claims a few rows of c and does one random thing with them,
// or requeues abandoned rows, or applies reports to accepted rows.
func chaosStep(t *testing.T, s herald.Store, rng *rand.Rand, owner string, c herald.Campaign, now time.Time) error {
	switch rng.IntN(8) {
	case 0:
		_, err := s.RequeueAbandoned(ctx(t), now, now, 1+rng.IntN(20))
		return err
	case 1:
		return chaosReports(t, s, rng, c, now)
	}
	rows, err := s.ClaimRecipients(ctx(t), herald.ClaimParams{CampaignID: c.ID, Limit: 1 + rng.IntN(15), Owner: owner, Now: now, LeaseUntil: now.Add(time.Minute)})
	if err != nil || len(rows) == 0 {
		return err
	}
	if rng.IntN(3) == 0 {
		return s.ReleaseRecipients(ctx(t), owner, claimsOf(rows...), now)
	}
	err = s.MarkBatches(ctx(t), owner, []herald.SentRequest{sentRequest(fmt.Sprint("K", rows[0].ID, ".", rows[0].ClaimToken), now, rows...)})
	if errors.Is(err, herald.ErrConflict) {
		return nil // another worker requeued some of them meanwhile: chaos
	}
	if err != nil {
		return err
	}
	ups := make([]herald.RecipientUpdate, len(rows))
	for i, r := range rows {
		switch rng.IntN(4) {
		case 0:
			ups[i] = retry(r, rng.IntN(2) == 0, now, now)
		case 1:
			ups[i] = outcome(r, herald.RecipientFailed, now)
			ups[i].ResultCode = "A306"
		default:
			ups[i] = outcome(r, herald.RecipientAccepted, now)
			ups[i].MsgKey = "MK" + r.MessageID
		}
	}
	return s.RecordOutcomes(ctx(t), ups)
}

// chaosReports delivers or fails up to ten accepted rows of c by report.
func chaosReports(t *testing.T, s herald.Store, rng *rand.Rand, c herald.Campaign, now time.Time) error {
	rows, err := s.ListRecipients(ctx(t), c.ID, 0, 1000)
	if err != nil {
		return err
	}
	var reps []herald.Report
	for _, r := range rows {
		if r.State != herald.RecipientAccepted || len(reps) == 10 {
			continue
		}
		code := herald.ReportDelivered
		if rng.IntN(4) == 0 {
			code = "63019"
		}
		reps = append(reps, report(r.MsgKey, r.MessageID, "AT", code, now))
	}
	_, err = s.ApplyReports(ctx(t), reps, now)
	return err
}
