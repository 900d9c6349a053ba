package storetest

import (
	"reflect"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
)

func testCampaignCreateGet(t *testing.T, s herald.Store) {
	c := seedCampaign(t, s, herald.Audience{Attributes: map[string]string{"grade": "gold"}})
	if c.ID == 0 || c.State != herald.CampaignScheduled || !c.StartAt.Equal(epoch) {
		t.Fatalf("created %+v", c)
	}
	if !reflect.DeepEqual(c.Audience.Attributes, map[string]string{"grade": "gold"}) {
		t.Fatalf("audience = %+v", c.Audience)
	}
	checkCounts(t, c, map[herald.RecipientState]int{herald.RecipientPending: 0})
	second := seedCampaign(t, s, herald.Audience{MemberIDs: []string{"a", "b"}})
	list := must(s.ListCampaigns(ctx(t)))(t)
	if len(list) != 2 || list[0].ID != second.ID || len(list[0].Audience.MemberIDs) != 2 {
		t.Fatalf("list = %+v, want newest first", list)
	}
	_, err := s.GetCampaign(ctx(t), 999999)
	wantErr(t, err, herald.ErrNotFound)
	bad := herald.Campaign{Name: "x", TemplateCode: "MISSING", Audience: herald.Audience{All: true}, TPS: 1, CreatedAt: epoch, StartAt: epoch, State: herald.CampaignScheduled}
	_, err = s.CreateCampaign(ctx(t), bad)
	wantErr(t, err, herald.ErrConflict)
}

func testCampaignTransitions(t *testing.T, s herald.Store) {
	c := seedCampaign(t, s, herald.Audience{All: true})
	step := func(to, want herald.CampaignState) {
		t.Helper()
		got := must(s.TransitionCampaign(ctx(t), c.ID, to, epoch))(t)
		if got.State != want {
			t.Fatalf("transition to %s: state %s, want %s", to, got.State, want)
		}
	}
	step(herald.CampaignPaused, herald.CampaignPaused)
	step(herald.CampaignRunning, herald.CampaignScheduled) // not prepared yet
	step(herald.CampaignCancelled, herald.CampaignCancelled)
	_, err := s.TransitionCampaign(ctx(t), c.ID, herald.CampaignRunning, epoch)
	wantErr(t, err, herald.ErrConflict)
	_, err = s.TransitionCampaign(ctx(t), 424242, herald.CampaignPaused, epoch)
	wantErr(t, err, herald.ErrNotFound)
}

func testCampaignPatch(t *testing.T, s herald.Store) {
	c := seedCampaign(t, s, herald.Audience{All: true})
	later, tps := epoch.Add(time.Hour), 50
	got := must(s.UpdateCampaign(ctx(t), c.ID, herald.CampaignPatch{StartAt: &later, TPS: &tps}))(t)
	if !got.StartAt.Equal(later) || got.TPS != 50 {
		t.Fatalf("patched = %+v", got)
	}
	// Not due yet: the lease finds nothing.
	_, err := s.AcquireCampaignLease(ctx(t), "a", epoch, time.Minute)
	wantErr(t, err, herald.ErrNotFound)
	must(s.TransitionCampaign(ctx(t), c.ID, herald.CampaignCancelled, epoch))(t)
	_, err = s.UpdateCampaign(ctx(t), c.ID, herald.CampaignPatch{TPS: &tps})
	wantErr(t, err, herald.ErrConflict)
}

func testCampaignLease(t *testing.T, s herald.Store) {
	c := seedCampaign(t, s, herald.Audience{All: true})
	got := must(s.AcquireCampaignLease(ctx(t), "a", epoch, time.Minute))(t)
	if got.ID != c.ID || got.State != herald.CampaignPreparing {
		t.Fatalf("lease = %+v", got)
	}
	_, err := s.AcquireCampaignLease(ctx(t), "b", epoch.Add(30*time.Second), time.Minute)
	wantErr(t, err, herald.ErrNotFound)
	_, err = s.PrepareRecipients(ctx(t), c.ID, "b", epoch)
	wantErr(t, err, herald.ErrConflict)
	// a dies; after the lease ends b takes over and prepares.
	must(s.AcquireCampaignLease(ctx(t), "b", epoch.Add(2*time.Minute), time.Minute))(t)
	must(s.PrepareRecipients(ctx(t), c.ID, "b", epoch))(t)
	if got := must(s.GetCampaign(ctx(t), c.ID))(t); got.State != herald.CampaignRunning {
		t.Fatalf("after prepare state = %s", got.State)
	}
	_, err = s.PrepareRecipients(ctx(t), c.ID, "a", epoch)
	wantErr(t, err, herald.ErrConflict)
}

func testPrepareAudience(t *testing.T, s herald.Store) {
	seedMembers(t, s, 10, func(i int) map[string]string {
		if i%2 == 0 {
			return map[string]string{"grade": "gold", "city": "서울"}
		}
		return map[string]string{"grade": "silver"}
	})
	must(s.WithdrawMember(ctx(t), "m00002", epoch))(t)
	cases := []struct {
		audience herald.Audience
		want     int
	}{
		{herald.Audience{All: true}, 9},
		{herald.Audience{Attributes: map[string]string{"grade": "gold"}}, 4},
		{herald.Audience{Attributes: map[string]string{"grade": "gold", "city": "서울"}}, 4},
		{herald.Audience{Attributes: map[string]string{"grade": "gold", "city": "부산"}}, 0},
		{herald.Audience{MemberIDs: []string{"m00001", "m00002", "m00003", "unknown", "m00001"}}, 2},
	}
	for _, tc := range cases {
		c := seedCampaign(t, s, tc.audience)
		must(s.AcquireCampaignLease(ctx(t), "p", epoch, time.Minute))(t)
		if got := must(s.PrepareRecipients(ctx(t), c.ID, "p", epoch))(t); got != tc.want {
			t.Fatalf("audience %+v prepared %d, want %d", tc.audience, got, tc.want)
		}
		checkCounts(t, must(s.GetCampaign(ctx(t), c.ID))(t), map[herald.RecipientState]int{herald.RecipientPending: tc.want})
	}
}
