package storetest

import (
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
)

// testDraftApprove: a draft keeps its window and creator, is never due,
// and becomes scheduled only through ApproveCampaign, once.
func testDraftApprove(t *testing.T, s herald.Store) {
	seedTemplateOnce(t, s)
	c := herald.Campaign{Name: "초안", TemplateCode: "ORDER", Audience: herald.Audience{All: true}, TPS: 10, CreatedAt: epoch,
		State: herald.CampaignDraft, SendWindow: "08:00-20:50", CreatedBy: "fp-creator"}
	if err := c.Validate(epoch); err != nil {
		t.Fatal(err)
	}
	d := must(s.CreateCampaign(ctx(t), c))(t)
	if d.State != herald.CampaignDraft || d.SendWindow != "08:00-20:50" || d.CreatedBy != "fp-creator" || d.ApprovedBy != "" {
		t.Fatalf("draft = %+v", d)
	}
	_, err := s.AcquireCampaignLease(ctx(t), "a", epoch.Add(time.Hour), time.Minute)
	wantErr(t, err, herald.ErrNotFound) // a draft is never scheduled
	got := must(s.ApproveCampaign(ctx(t), d.ID, "fp-approver", epoch))(t)
	if got.State != herald.CampaignScheduled || got.ApprovedBy != "fp-approver" || got.CreatedBy != "fp-creator" {
		t.Fatalf("approved = %+v", got)
	}
	_, err = s.ApproveCampaign(ctx(t), d.ID, "fp-approver", epoch)
	wantErr(t, err, herald.ErrConflict)
	_, err = s.ApproveCampaign(ctx(t), 987654, "x", epoch)
	wantErr(t, err, herald.ErrNotFound)
	if l := must(s.AcquireCampaignLease(ctx(t), "a", epoch.Add(time.Hour), time.Minute))(t); l.ID != d.ID {
		t.Fatalf("leased %d, want the approved %d", l.ID, d.ID)
	}
	// A cancelled draft cannot be approved.
	c.CreatedBy = ""
	d2 := must(s.CreateCampaign(ctx(t), c))(t)
	must(s.TransitionCampaign(ctx(t), d2.ID, herald.CampaignCancelled, epoch))(t)
	_, err = s.ApproveCampaign(ctx(t), d2.ID, "x", epoch)
	wantErr(t, err, herald.ErrConflict)
}

// testAudienceMembers: every selector, withdrawn members included, paged by id.
func testAudienceMembers(t *testing.T, s herald.Store) {
	seedMembers(t, s, 7, func(i int) map[string]string {
		if i%2 == 0 {
			return map[string]string{"grade": "gold"}
		}
		return map[string]string{"grade": "silver"}
	})
	must(s.WithdrawMember(ctx(t), member(2, nil).ID, epoch))(t)
	page := func(a herald.Audience, limit int) []string {
		var ids []string
		after := ""
		for {
			ms := must(s.AudienceMembers(ctx(t), 0, a, after, limit))(t)
			for _, m := range ms {
				ids = append(ids, m.ID)
			}
			if len(ms) < limit {
				return ids
			}
			after = ms[len(ms)-1].ID
		}
	}
	if got := page(herald.Audience{All: true}, 3); len(got) != 7 || got[0] != "m00000" || got[6] != "m00006" {
		t.Fatalf("all = %v", got)
	}
	gold := page(herald.Audience{Attributes: map[string]string{"grade": "gold"}}, 2)
	if len(gold) != 4 || gold[1] != "m00002" { // m00002 withdrew: still listed
		t.Fatalf("gold = %v", gold)
	}
	ids := page(herald.Audience{MemberIDs: []string{"m00005", "m00001", "m00005", "nobody"}}, 10)
	if len(ids) != 2 || ids[0] != "m00001" || ids[1] != "m00005" {
		t.Fatalf("ids = %v", ids)
	}
	ms := must(s.AudienceMembers(ctx(t), 0, herald.Audience{MemberIDs: []string{"m00002"}}, "", 10))(t)
	if len(ms) != 1 || ms[0].Status != herald.MemberWithdrawn || ms[0].Attributes["grade"] != "gold" {
		t.Fatalf("withdrawn member = %+v", ms)
	}
}

// testFallbackHistory: final results of the sender key's campaigns count;
// 63019, 63020 and SMS/LMS deliveries are the ones Kakao did not reach.
func testFallbackHistory(t *testing.T, s herald.Store) {
	_, rows := accepted(t, s, 6)
	apply(t, s, epoch,
		report("K0", rows[0].MessageID, "ALIMTALK", herald.ReportDelivered, epoch),
		report("K1", rows[1].MessageID, "ALIMTALK", herald.ReportDelivered, epoch),
		report("K2", rows[2].MessageID, "ALIMTALK", codeNotKakaoUser, epoch),
		report("K3", rows[3].MessageID, "ALIMTALK", codeBlocked, epoch),
		report("K4", rows[4].MessageID, "ALIMTALK", codeNotKakaoUser, epoch),
		report("K4", rows[4].MessageID, "SMS", herald.ReportDelivered, epoch),
	) // rows[5] stays ACCEPTED: no result yet
	// A row that failed before the provider saw it is no evidence.
	second := another(t, s)
	r := claim(t, s, second, "w", 1, epoch)[0]
	u := outcome(r, herald.RecipientFailed, epoch)
	u.ResultCode = codeNotKakaoUser // even with a code that looks like one
	record(t, s, u)
	h := must(s.FallbackHistory(ctx(t), "sk-1"))(t)
	if h != (herald.FallbackHistory{Reported: 5, NotKakao: 3}) {
		t.Fatalf("history = %+v, want 5 reported, 3 not on KakaoTalk", h)
	}
	if h := must(s.FallbackHistory(ctx(t), "other"))(t); h != (herald.FallbackHistory{}) {
		t.Fatalf("another key's history = %+v", h)
	}
}
