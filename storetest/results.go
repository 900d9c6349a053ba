package storetest

import (
	"slices"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
)

// ids lists the ids of rows, in order.
func ids(rs []herald.Recipient) []int64 {
	out := make([]int64, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

// find runs FindRecipients.
func find(t *testing.T, s herald.Store, f herald.RecipientFilter) []herald.Recipient {
	t.Helper()
	if f.Limit == 0 {
		f.Limit = 100
	}
	return must(s.FindRecipients(ctx(t), f))(t)
}

// testFindRecipients checks every filter of FindRecipients, alone and
// together, and keyset paging through a filtered campaign.
func testFindRecipients(t *testing.T, s herald.Store) {
	c, rs := accepted(t, s, 6) // K0…K5, all ACCEPTED with code A000
	other := another(t, s)     // the same members in a second campaign
	at := epoch.Add(time.Minute)
	apply(t, s, at,
		report(rs[0].MsgKey, rs[0].MessageID, "ALIMTALK", herald.ReportDelivered, at),
		report(rs[1].MsgKey, rs[1].MessageID, "ALIMTALK", codeNotKakaoUser, at),
		report(rs[2].MsgKey, rs[2].MessageID, "ALIMTALK", codeNotKakaoUser, at),
		report(rs[2].MsgKey, rs[2].MessageID, "SMS", herald.ReportDelivered, at.Add(time.Second)),
		report(rs[3].MsgKey, rs[3].MessageID, "ALIMTALK", codeBlocked, at))
	id := func(i ...int) []int64 {
		out := []int64{}
		for _, n := range i {
			out = append(out, rs[n].ID)
		}
		return out
	}
	for name, tc := range map[string]struct {
		f    herald.RecipientFilter
		want []int64
	}{
		"all":             {herald.RecipientFilter{}, id(0, 1, 2, 3, 4, 5)},
		"state":           {herald.RecipientFilter{States: []herald.RecipientState{herald.RecipientDelivered}}, id(0, 2)},
		"states":          {herald.RecipientFilter{States: []herald.RecipientState{herald.RecipientFailed, herald.RecipientAccepted}}, id(1, 3, 4, 5)},
		"code":            {herald.RecipientFilter{Code: codeNotKakaoUser}, id(1)},
		"code A000":       {herald.RecipientFilter{Code: "A000"}, id(4, 5)},
		"channel AT":      {herald.RecipientFilter{Channel: herald.ChannelAlimTalk}, id(0, 1, 3)},
		"channel SMS":     {herald.RecipientFilter{Channel: herald.ChannelSMS}, id(2)},
		"phone":           {herald.RecipientFilter{Phone: rs[3].Phone}, id(3)},
		"member":          {herald.RecipientFilter{MemberID: rs[4].MemberID}, id(4)},
		"state and code":  {herald.RecipientFilter{States: []herald.RecipientState{herald.RecipientFailed}, Code: codeBlocked}, id(3)},
		"nothing matches": {herald.RecipientFilter{Phone: "01099999999"}, id()},
		"after":           {herald.RecipientFilter{AfterID: rs[3].ID}, id(4, 5)},
	} {
		tc.f.CampaignID = c.ID
		if got := ids(find(t, s, tc.f)); !slices.Equal(got, tc.want) {
			t.Errorf("%s: got ids %v, want %v", name, got, tc.want)
		}
	}
	// The other campaign's rows never show, though their members and
	// phones are the same.
	if got := find(t, s, herald.RecipientFilter{CampaignID: other.ID, Phone: rs[3].Phone}); len(got) != 1 ||
		got[0].CampaignID != other.ID || got[0].State != herald.RecipientPending {
		t.Fatalf("phone in the other campaign = %+v, want its one PENDING row", got)
	}
	if got := find(t, s, herald.RecipientFilter{CampaignID: other.ID, Limit: 4}); len(got) != 4 || got[0].CampaignID != other.ID ||
		got[0].MemberID != rs[0].MemberID || got[0].ID <= rs[5].ID {
		t.Fatalf("first page of the other campaign = %+v, want its first 4 rows", got)
	}
	// Keyset paging through a filter visits every match once, in order.
	var seen []int64
	f := herald.RecipientFilter{CampaignID: c.ID, States: []herald.RecipientState{herald.RecipientFailed, herald.RecipientAccepted}, Limit: 3}
	for {
		page := find(t, s, f)
		seen = append(seen, ids(page)...)
		if len(page) < f.Limit {
			break
		}
		f.AfterID = page[len(page)-1].ID
	}
	if want := id(1, 3, 4, 5); !slices.Equal(seen, want) {
		t.Fatalf("paged ids %v, want %v", seen, want)
	}
	// A filter that does not validate is ErrInvalid, before any query.
	for _, bad := range []herald.RecipientFilter{
		{CampaignID: c.ID, Limit: 0},
		{CampaignID: c.ID, Limit: herald.MaxRecipientFilterLimit + 1},
		{CampaignID: 0, Limit: 1},
		{CampaignID: c.ID, Limit: 1, States: []herald.RecipientState{"SENT"}},
	} {
		_, err := s.FindRecipients(ctx(t), bad)
		wantInvalid(t, err)
	}
}

// testGetRecipient reads one row, only within its campaign.
func testGetRecipient(t *testing.T, s herald.Store) {
	c, rs := accepted(t, s, 3)
	other := another(t, s)
	got := must(s.GetRecipient(ctx(t), c.ID, rs[1].ID))(t)
	if got.ID != rs[1].ID || got.MsgKey != rs[1].MsgKey || got.State != herald.RecipientAccepted || got.Phone != rs[1].Phone {
		t.Fatalf("got %+v, want %+v", got, rs[1])
	}
	_, err := s.GetRecipient(ctx(t), other.ID, rs[1].ID)
	wantErr(t, err, herald.ErrNotFound)
	_, err = s.GetRecipient(ctx(t), c.ID, rs[2].ID+1000)
	wantErr(t, err, herald.ErrNotFound)
}

// testRecipientReports checks that a recipient's matched reports come back
// in arrival order, and nobody else's.
func testRecipientReports(t *testing.T, s herald.Store) {
	_, rs := accepted(t, s, 2)
	at := epoch.Add(time.Minute)
	apply(t, s, at, report(rs[0].MsgKey, rs[0].MessageID, "ALIMTALK", codeNotKakaoUser, at))
	apply(t, s, at, report(rs[0].MsgKey, rs[0].MessageID, "SMS", herald.ReportDelivered, at.Add(2*time.Second)),
		report(rs[1].MsgKey, rs[1].MessageID, "ALIMTALK", herald.ReportDelivered, at))
	apply(t, s, at, report("NOBODY", "", "ALIMTALK", herald.ReportDelivered, at)) // unmatched
	got := must(s.RecipientReports(ctx(t), rs[0].ID))(t)
	if len(got) != 2 || got[0].ServiceType != "ALIMTALK" || got[0].Code != codeNotKakaoUser ||
		got[1].ServiceType != "SMS" || got[1].Code != herald.ReportDelivered || !got[1].ReportTime.Equal(at.Add(2*time.Second)) ||
		got[0].MsgKey != rs[0].MsgKey || got[0].Text != "text of "+codeNotKakaoUser {
		t.Fatalf("reports of recipient %d = %+v, want its Kakao failure then its SMS delivery", rs[0].ID, got)
	}
	if got := must(s.RecipientReports(ctx(t), rs[1].ID))(t); len(got) != 1 || got[0].Code != herald.ReportDelivered {
		t.Fatalf("reports of recipient %d = %+v, want one delivery", rs[1].ID, got)
	}
	if got := must(s.RecipientReports(ctx(t), rs[1].ID+1000))(t); got == nil || len(got) != 0 {
		t.Fatalf("reports of an unknown recipient = %#v, want an empty list", got)
	}
}
