package storetest

import (
	"reflect"
	"slices"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
)

// retryFixture is a completed campaign of 8 whose rows ended:
// 0 DELIVERED, 1 FAILED 63019, 2 FAILED 63020, 3 FAILED A306 (refused),
// 4 UNKNOWN IN_DOUBT, 5 FAILED 63019 with an SMS fallback not yet
// reported, 6 FAILED 63019 with an SMS fallback reported failed,
// 7 FAILED 63019 then DELIVERED by its fallback.
func retryFixture(t *testing.T, s herald.Store) (herald.Campaign, []herald.Recipient) {
	t.Helper()
	c := running(t, s, 8)
	rows := claim(t, s, c, "w", 8, epoch)
	plain := sentRequest("K-plain", epoch, rows[0], rows[1], rows[2], rows[3], rows[4])
	fb := sentRequest("K-fallback", epoch, rows[5], rows[6], rows[7])
	for i := range fb.Batch.Destinations {
		fb.Batch.Destinations[i].FallbackKind, fb.Batch.Destinations[i].FallbackText, fb.Batch.Destinations[i].FallbackFrom = "SMS", "문자", "0212345678"
	}
	mark(t, s, "w", plain, fb)
	ups := make([]herald.RecipientUpdate, 8)
	for i, r := range rows {
		ups[i] = outcome(r, herald.RecipientAccepted, epoch)
		ups[i].MsgKey = "MK" + r.MessageID
	}
	ups[3].State, ups[3].ResultCode, ups[3].MsgKey = herald.RecipientFailed, "A306", ""
	ups[4] = retry(rows[4], true, epoch, epoch)
	record(t, s, ups...)
	at := epoch.Add(time.Second)
	rep := func(i int, service, code string) herald.Report {
		return report("MK"+rows[i].MessageID, rows[i].MessageID, service, code, at)
	}
	apply(t, s, at, rep(0, "AT", herald.ReportDelivered), rep(1, "AT", "63019"), rep(2, "AT", "63020"),
		rep(5, "AT", "63019"), rep(6, "AT", "63019"), rep(6, "SMS", "3015"), rep(7, "AT", "63019"), rep(7, "SMS", herald.ReportDelivered))
	must(s.TransitionCampaign(ctx(t), c.ID, herald.CampaignCancelled, at))(t) // row 4 in doubt → UNKNOWN
	return c, rows
}

func retryOf(c herald.Campaign, states []herald.RecipientState, codes []string) herald.Campaign {
	f := herald.Campaign{Name: c.Name + " (retry)", TemplateCode: c.TemplateCode, Variables: c.Variables, TPS: c.TPS,
		StartAt: epoch, State: herald.CampaignScheduled, CreatedAt: epoch,
		Audience: herald.Audience{Retry: &herald.RetryAudience{Campaign: c.ID, States: states, Codes: codes}}}
	return f
}

// membersOf prepares campaign c and returns its recipients' member ids.
func membersOf(t *testing.T, s herald.Store, c herald.Campaign) []string {
	t.Helper()
	must(s.AcquireCampaignLease(ctx(t), "prep", epoch.Add(time.Hour), time.Minute))(t)
	must(s.PrepareRecipients(ctx(t), c.ID, "prep", epoch.Add(time.Hour)))(t)
	var ids []string
	for _, r := range must(s.ListRecipients(ctx(t), c.ID, 0, 1000))(t) {
		ids = append(ids, r.MemberID)
	}
	slices.Sort(ids)
	return ids
}

func testRetryCampaign(t *testing.T, s herald.Store) {
	c, rows := retryFixture(t, s)
	failed := []herald.RecipientState{herald.RecipientFailed}
	got := must(s.RetryCampaign(ctx(t), retryOf(c, failed, []string{"63019", "63020"})))(t)
	if got.RetryOf != c.ID || got.Audience.Retry == nil || got.Audience.Retry.Members != 3 || got.State != herald.CampaignScheduled {
		t.Fatalf("follow-up = %+v, want retryOf %d with 3 members", got, c.ID)
	}
	// 1 and 2 failed on Kakao without a fallback, 6 on both legs; 5 may
	// still get its SMS, 7 got it, 0 was delivered, 3's code and 4's state
	// were not asked for.
	want := []string{rows[1].MemberID, rows[2].MemberID, rows[6].MemberID}
	if ids := membersOf(t, s, got); !reflect.DeepEqual(ids, want) {
		t.Fatalf("follow-up recipients %v, want %v", ids, want)
	}
	if again := must(s.GetCampaign(ctx(t), got.ID))(t); again.RetryOf != c.ID || again.Total != 3 {
		t.Fatalf("follow-up read back as %+v", again)
	}
	// The same selection again: everyone is the first follow-up's.
	_, err := s.RetryCampaign(ctx(t), retryOf(c, failed, []string{"63019", "63020"}))
	wantErr(t, err, herald.ErrConflict)
	// UNKNOWN only when asked for, and any code when none is named.
	unknown := must(s.RetryCampaign(ctx(t), retryOf(c, []herald.RecipientState{herald.RecipientUnknown}, nil)))(t)
	if ids := membersOf(t, s, unknown); !reflect.DeepEqual(ids, []string{rows[4].MemberID}) {
		t.Fatalf("UNKNOWN follow-up recipients %v, want %s", ids, rows[4].MemberID)
	}
	// A retry of a follow-up is its own chain.
	_, err = s.RetryCampaign(ctx(t), retryOf(got, failed, nil))
	wantErr(t, err, herald.ErrConflict) // running: not over yet
	_, err = s.RetryCampaign(ctx(t), retryOf(herald.Campaign{ID: 987654, TemplateCode: c.TemplateCode, TPS: 1}, failed, nil))
	wantErr(t, err, herald.ErrNotFound)
	_, err = s.RetryCampaign(ctx(t), retryOf(c, []herald.RecipientState{herald.RecipientDelivered}, nil))
	wantInvalid(t, err)
}

func testRetryRefusedWhileRunning(t *testing.T, s herald.Store) {
	c := running(t, s, 2)
	rows := claim(t, s, c, "w", 2, epoch)
	u := outcome(rows[0], herald.RecipientFailed, epoch)
	u.ResultCode = "A306"
	record(t, s, u)
	_, err := s.RetryCampaign(ctx(t), retryOf(c, []herald.RecipientState{herald.RecipientFailed}, nil))
	wantErr(t, err, herald.ErrConflict)
	if list := must(s.ListCampaigns(ctx(t)))(t); len(list) != 1 {
		t.Fatalf("a refused retry left a campaign behind: %+v", list)
	}
}

func testCampaignFailures(t *testing.T, s herald.Store) {
	c, _ := retryFixture(t, s)
	got := must(s.CampaignFailures(ctx(t), c.ID))(t)
	want := []herald.FailureCount{
		{State: herald.RecipientFailed, Code: "63019", Count: 3},
		{State: herald.RecipientFailed, Code: "63020", Count: 1},
		{State: herald.RecipientFailed, Code: "A306", Count: 1},
		{State: herald.RecipientUnknown, Code: codeInDoubt, Count: 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("failures = %+v, want %+v", got, want)
	}
	if none := must(s.CampaignFailures(ctx(t), 987654))(t); len(none) != 0 {
		t.Fatalf("failures of no campaign = %+v", none)
	}
}
