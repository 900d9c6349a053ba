package postgres_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
)

// TestHaltRacesOutcomes cancels or fails campaigns while their claimed rows
// are being recorded as RETRY_WAIT or given back, at the same moment: the
// write either sees the campaign halted and settles the rows, or the halt
// sees them waiting and settles them. No row may be left waiting for a
// send on a campaign that will never send again.
func TestHaltRacesOutcomes(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := t.Context()
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	const rows = 20
	ms := make([]herald.Member, rows)
	for i := range ms {
		ms[i] = herald.Member{ID: fmt.Sprintf("m%02d", i), Phone: fmt.Sprintf("010%08d", i),
			Status: herald.MemberActive, UpdatedAt: at}
	}
	if _, err := s.UpsertMembers(ctx, ms); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateTemplate(ctx, herald.Template{Code: "T", SenderKey: "sk", Text: "hello",
		Status: herald.TemplateApproved, CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
	for round := range 40 {
		c := herald.Campaign{Name: "race", TemplateCode: "T", Audience: herald.Audience{All: true}, TPS: 100, CreatedAt: at}
		if err := c.Validate(at); err != nil {
			t.Fatal(err)
		}
		c, err := s.CreateCampaign(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.AcquireCampaignLease(ctx, "prep", at, time.Minute); err != nil {
			t.Fatal(err)
		}
		if _, err := s.PrepareRecipients(ctx, c.ID, "prep", at); err != nil {
			t.Fatal(err)
		}
		claimed, err := s.ClaimRecipients(ctx, herald.ClaimParams{CampaignID: c.ID, Limit: rows, Owner: "w",
			Now: at, LeaseUntil: at.Add(time.Minute)})
		if err != nil || len(claimed) != rows {
			t.Fatalf("claimed %d (%v), want %d", len(claimed), err, rows)
		}
		release := round%2 == 1
		to := herald.CampaignCancelled
		if round%4 >= 2 {
			to = herald.CampaignFailed
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		wg.Go(func() {
			<-start
			var err error
			if to == herald.CampaignFailed {
				_, err = s.HaltCampaign(ctx, c.ID, to, "breaker", at)
			} else {
				_, err = s.TransitionCampaign(ctx, c.ID, to, at)
			}
			if err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() {
			<-start
			var err error
			if release {
				claims := make([]herald.Claim, len(claimed))
				for i, r := range claimed {
					claims[i] = herald.Claim{ID: r.ID, Token: r.ClaimToken}
				}
				err = s.ReleaseRecipients(ctx, "w", claims, at)
			} else {
				ups := make([]herald.RecipientUpdate, len(claimed))
				for i, r := range claimed {
					ups[i] = herald.RecipientUpdate{ID: r.ID, Owner: "w", Token: r.ClaimToken,
						State: herald.RecipientRetryWait, ResultCode: "A020", NextAttempt: at, At: at}
				}
				err = s.RecordOutcomes(ctx, ups)
			}
			if err != nil {
				t.Error(err)
			}
		})
		close(start)
		wg.Wait()
		got, err := s.GetCampaign(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		settled := herald.RecipientCancelled
		if to == herald.CampaignFailed {
			settled = herald.RecipientFailed
		}
		if got.Counts[settled] != rows {
			t.Fatalf("round %d (%s, release %v): counts %v, want all %d %s", round, to, release, got.Counts, rows, settled)
		}
	}
}
