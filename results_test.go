package herald_test

import (
	"strings"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
)

func TestRecipientHistoryInDoubt(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	r := herald.Recipient{ID: 5, CampaignID: 2, MemberID: "m5", Phone: "01012345678", MessageID: "hx-2-5",
		State: herald.RecipientUnknown, Attempts: 2, Resends: 3, InDoubt: true, BatchKey: "hx-2-5.a2",
		SentAt: t0.Add(time.Minute), ResultCode: "IN_DOUBT", ResultText: "still in doubt after 10 resends",
		CreatedAt: t0, UpdatedAt: t0.Add(time.Hour)}
	var got []string
	for _, ev := range herald.RecipientHistory(r, nil) {
		got = append(got, ev.Event)
		if ev.At.IsZero() {
			t.Errorf("event %s has no time", ev.Event)
		}
	}
	if want := "created retried sent resent in_doubt unknown"; strings.Join(got, " ") != want {
		t.Fatalf("events %q, want %q", got, want)
	}
	h := herald.RecipientHistory(r, nil)
	if !strings.Contains(h[3].Detail, "3 times") || !strings.Contains(h[1].Detail, "attempt 2") || h[5].Detail != "IN_DOUBT still in doubt after 10 resends" {
		t.Fatalf("details %+v", h)
	}
	// A pending row: created and its state, both in time order.
	p := herald.Recipient{State: herald.RecipientPending, CreatedAt: t0, UpdatedAt: t0}
	if h := herald.RecipientHistory(p, nil); len(h) != 2 || h[0].Event != "created" || h[1].Event != "pending" {
		t.Fatalf("pending history %+v", h)
	}
}

func TestMessageFor(t *testing.T) {
	t.Parallel()
	b := herald.SendBatch{SenderKey: "0123456789abcdef", TemplateCode: "T", IdempotencyKey: "k", ProviderRenders: true,
		Destinations: []herald.Destination{{MessageID: "a", Text: "A"}, {MessageID: "b", Text: "B", ReplaceWords: map[string]string{"name": "비"},
			FallbackKind: "LMS", FallbackText: "B!"}}}
	m, ok := herald.MessageFor(b, "b")
	if !ok || m.Text != "B" || m.SendType != "template" || m.ReplaceWords["name"] != "비" || m.Fallback == nil || m.Fallback.Text != "B!" ||
		m.Destinations != 2 || m.SenderKey != herald.KeyLabel(b.SenderKey) || m.Key != "k" {
		t.Fatalf("message %+v", m)
	}
	if _, ok := herald.MessageFor(b, "c"); ok {
		t.Fatal("found a destination the request does not carry")
	}
	if m, _ := herald.MessageFor(b, "a"); m.Fallback != nil {
		t.Fatal("a fallback for a destination without one")
	}
}

func TestParseChannel(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"AT": "ALIMTALK", "at": "ALIMTALK", "alimtalk": "ALIMTALK", " sms ": "SMS", "LMS": "LMS", "mms": "MMS"} {
		if got, err := herald.ParseChannel(in); err != nil || got != want {
			t.Errorf("ParseChannel(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := herald.ParseChannel("FT"); err == nil {
		t.Error("ParseChannel(FT) accepted")
	}
	if herald.ChannelName("ALIMTALK") != "AT" || herald.ChannelName("SMS") != "SMS" || herald.ChannelName("") != "" {
		t.Error("ChannelName")
	}
}
