package storetest

import (
	"sync"
	"testing"

	herald "github.com/heraldhq/herald"
)

func newMessage(t *testing.T, key, phone, member string, vars map[string]string) herald.Message {
	t.Helper()
	m := herald.Message{IdempotencyKey: key, TemplateCode: "ORDER", Phone: phone, MemberID: member, Variables: vars, CreatedBy: "fp"}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	return m
}

// testMessagesIdempotent: one outbox row per idempotency key, whatever
// comes again; the same key with another request is refused.
func testMessagesIdempotent(t *testing.T, s herald.Store) {
	seedMembers(t, s, 2, nil)
	seedTemplateOnce(t, s)
	first, created, err := s.CreateMessage(ctx(t), newMessage(t, "order-1", "010-1234-5678", "", map[string]string{"name": "가"}), epoch)
	if err != nil || !created {
		t.Fatalf("create: %v, created %v", err, created)
	}
	if first.ID == 0 || first.Phone != "01012345678" || first.Result.State != herald.RecipientPending || first.Result.Phone != "01012345678" ||
		first.Result.MemberID != herald.MessageMemberID(first.ID) || first.Variables["name"] != "가" || first.CreatedBy != "fp" {
		t.Fatalf("message = %+v", first)
	}
	camp := must(s.GetCampaign(ctx(t), first.CampaignID))(t)
	if camp.Kind != herald.KindMessages || camp.State != herald.CampaignRunning || camp.TPS != herald.MaxTPS {
		t.Fatalf("messages campaign = %+v", camp)
	}
	again, created, err := s.CreateMessage(ctx(t), newMessage(t, "order-1", "01012345678", "", map[string]string{"name": "가"}), epoch)
	if err != nil || created || again.ID != first.ID {
		t.Fatalf("repeat: %v, created %v, id %d want %d", err, created, again.ID, first.ID)
	}
	_, _, err = s.CreateMessage(ctx(t), newMessage(t, "order-1", "01012345678", "", map[string]string{"name": "나"}), epoch)
	wantErr(t, err, herald.ErrConflict)
	byMember, created, err := s.CreateMessage(ctx(t), newMessage(t, "order-2", "", member(1, nil).ID, nil), epoch)
	if err != nil || !created || byMember.CampaignID != first.CampaignID || byMember.Result.Phone != member(1, nil).Phone {
		t.Fatalf("member message: %v %+v", err, byMember)
	}
	_, _, err = s.CreateMessage(ctx(t), newMessage(t, "order-3", "", "nobody", nil), epoch)
	wantInvalid(t, err)
	checkCounts(t, must(s.GetCampaign(ctx(t), first.CampaignID))(t), map[herald.RecipientState]int{herald.RecipientPending: 2})

	// Racing first uses of one key make one row.
	var wg sync.WaitGroup
	ids := make([]int64, 8)
	errs := make([]error, 8)
	var createdN int
	var mu sync.Mutex
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, c, err := s.CreateMessage(ctx(t), newMessage(t, "race", "01000000009", "", nil), epoch)
			ids[i], errs[i] = m.ID, err
			if c {
				mu.Lock()
				createdN++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for i := range ids {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Fatalf("racer %d: id %d (first %d), %v", i, ids[i], ids[0], errs[i])
		}
	}
	if createdN != 1 {
		t.Fatalf("%d racers created the message, want 1", createdN)
	}

	got := must(s.MessagesOf(ctx(t), []int64{first.Result.ID, byMember.Result.ID, 999999}))(t)
	if len(got) != 2 || got[first.Result.ID].ID != first.ID || got[byMember.Result.ID].MemberID != member(1, nil).ID {
		t.Fatalf("messages of = %+v", got)
	}
	if m := must(s.GetMessage(ctx(t), byMember.ID))(t); m.IdempotencyKey != "order-2" || m.Result.ID != byMember.Result.ID {
		t.Fatalf("get = %+v", m)
	}
	_, err = s.GetMessage(ctx(t), 424242)
	wantErr(t, err, herald.ErrNotFound)
}

// testMessagesCampaign: the messages campaign is never completed, even
// with every row sent; a cancelled one is replaced by a new one.
func testMessagesCampaign(t *testing.T, s herald.Store) {
	seedTemplateOnce(t, s)
	m, _, err := s.CreateMessage(ctx(t), newMessage(t, "k1", "01012345678", "", map[string]string{"name": "가"}), epoch)
	if err != nil {
		t.Fatal(err)
	}
	c := must(s.GetCampaign(ctx(t), m.CampaignID))(t)
	rows := claim(t, s, c, "w", 10, epoch)
	if len(rows) != 1 || rows[0].ID != m.Result.ID {
		t.Fatalf("claimed %+v", rows)
	}
	record(t, s, outcome(rows[0], herald.RecipientAccepted, epoch))
	if done := must(s.CompleteCampaign(ctx(t), c.ID, epoch))(t); done {
		t.Fatal("a messages campaign completed")
	}
	if _, err := s.AcquireCampaignLease(ctx(t), "p", epoch.AddDate(1, 0, 0), 0); err == nil {
		t.Fatal("a messages campaign was leased for preparation")
	}
	must(s.TransitionCampaign(ctx(t), c.ID, herald.CampaignCancelled, epoch))(t)
	m2, _, err := s.CreateMessage(ctx(t), newMessage(t, "k2", "01012345678", "", map[string]string{"name": "가"}), epoch)
	if err != nil || m2.CampaignID == c.ID {
		t.Fatalf("after cancel: %v, campaign %d (cancelled %d)", err, m2.CampaignID, c.ID)
	}
}
