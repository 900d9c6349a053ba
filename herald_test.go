package herald_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
)

func TestNormalizePhone(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"01012345678":      "01012345678",
		"010-1234-5678":    "01012345678",
		" 010 1234 5678 ":  "01012345678",
		"+82 10-1234-5678": "01012345678",
		"+821012345678":    "01012345678",
		"011-123-4567":     "0111234567",
		"(016) 1234-5678":  "01612345678",
		"02-123-4567":      "", // Seoul landline
		"010-123-4567":     "", // 010 numbers have 8 digits after the prefix
		"0101234567890":    "",
		"821012345678":     "", // without + it is not a country code
		"010-1234-567a":    "",
		"":                 "",
		"010１２３４５６７８":      "", // full-width digits are not accepted silently
	} {
		got, err := herald.NormalizePhone(in)
		if want == "" {
			var inv *herald.InvalidError
			if !errors.As(err, &inv) || inv.Field != "phone" {
				t.Errorf("NormalizePhone(%q) = %q, %v; want an invalid phone error", in, got, err)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("NormalizePhone(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func FuzzNormalizePhone(f *testing.F) {
	for _, s := range []string{"010-1234-5678", "+82 10 1234 5678", "02-123-4567", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := herald.NormalizePhone(s)
		if err != nil {
			return
		}
		again, err := herald.NormalizePhone(got)
		if err != nil || again != got {
			t.Fatalf("normal form %q of %q does not normalise to itself: %q, %v", got, s, again, err)
		}
		if len(got) < 10 || len(got) > 11 || got[:2] != "01" {
			t.Fatalf("%q normalised to %q, not a mobile number", s, got)
		}
	})
}

func TestMemberValidate(t *testing.T) {
	t.Parallel()
	m := herald.Member{ID: " m1 ", Phone: "010-1234-5678"}
	if err := m.Validate(); err != nil || m.ID != "m1" || m.Status != herald.MemberActive || m.Phone != "01012345678" {
		t.Fatalf("valid member: %+v, %v", m, err)
	}
	for field, bad := range map[string]herald.Member{
		"id":     {Phone: "01012345678"},
		"phone":  {ID: "x", Phone: "1234"},
		"status": {ID: "x", Phone: "01012345678", Status: "gone"},
	} {
		var inv *herald.InvalidError
		if err := bad.Validate(); !errors.As(err, &inv) || inv.Field != field {
			t.Errorf("%+v: error %v, want one naming %s", bad, err, field)
		}
	}
}

func TestLastByID(t *testing.T) {
	t.Parallel()
	in := []herald.Member{{ID: "a", Name: "1"}, {ID: "b"}, {ID: "a", Name: "2"}, {ID: "c"}}
	got := herald.LastByID(in)
	if len(got) != 3 || got[0].ID != "b" || got[1].ID != "a" || got[1].Name != "2" || got[2].ID != "c" {
		t.Fatalf("LastByID = %+v", got)
	}
}

func TestCampaignTransitions(t *testing.T) {
	t.Parallel()
	cases := []struct {
		from, to herald.CampaignState
		prepared bool
		want     herald.CampaignState // "" = conflict
	}{
		{herald.CampaignScheduled, herald.CampaignPaused, false, herald.CampaignPaused},
		{herald.CampaignPaused, herald.CampaignRunning, false, herald.CampaignScheduled},
		{herald.CampaignPaused, herald.CampaignRunning, true, herald.CampaignRunning},
		{herald.CampaignRunning, herald.CampaignCancelled, true, herald.CampaignCancelled},
		{herald.CampaignCompleted, herald.CampaignRunning, true, ""},
		{herald.CampaignCancelled, herald.CampaignCancelled, true, ""},
		{herald.CampaignRunning, herald.CampaignScheduled, true, ""},
	}
	for _, tc := range cases {
		got, err := herald.NextState(tc.from, tc.to, tc.prepared)
		if tc.want == "" {
			if !errors.Is(err, herald.ErrConflict) {
				t.Errorf("%s → %s: %v, %v; want a conflict", tc.from, tc.to, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s → %s: %v, %v; want %s", tc.from, tc.to, got, err, tc.want)
		}
	}
}

func TestCampaignValidate(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	c := herald.Campaign{Name: "n", TemplateCode: "T", Audience: herald.Audience{All: true}, TPS: 10}
	if err := c.Validate(now); err != nil || !c.StartAt.Equal(now) || c.State != herald.CampaignScheduled {
		t.Fatalf("defaults: %+v, %v", c, err)
	}
	for field, bad := range map[string]herald.Campaign{
		"name":     {TemplateCode: "T", Audience: herald.Audience{All: true}, TPS: 1},
		"audience": {Name: "n", TemplateCode: "T", Audience: herald.Audience{All: true, MemberIDs: []string{"a"}}, TPS: 1},
		"tps":      {Name: "n", TemplateCode: "T", Audience: herald.Audience{All: true}},
	} {
		var inv *herald.InvalidError
		if err := bad.Validate(now); !errors.As(err, &inv) || inv.Field != field {
			t.Errorf("%s: error %v", field, err)
		}
	}
}

func TestReportRankIsMonotonic(t *testing.T) {
	t.Parallel()
	delivered := herald.Report{Code: herald.ReportDelivered}
	failed := herald.Report{Code: "63019"}
	if herald.ReportRank(delivered.ReportState()) <= herald.ReportRank(failed.ReportState()) {
		t.Fatal("a delivered report must outrank a failed one")
	}
	for _, s := range []herald.RecipientState{herald.RecipientAccepted, herald.RecipientSending, herald.RecipientUnknown, herald.RecipientCancelled} {
		if herald.ReportRank(s) >= herald.ReportRank(herald.RecipientFailed) {
			t.Errorf("a report must be able to settle %s", s)
		}
	}
}

func TestNewInstanceID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id := herald.NewInstanceID()
		if len(id) != 6 || strings.Trim(id, "0123456789abcdefghijklmnopqrstuvwxyz") != "" {
			t.Fatalf("NewInstanceID() = %q, want 6 lowercase base36 characters", id)
		}
		seen[id] = true
	}
	if len(seen) < 99 { // 100 draws from 2.2 billion: a repeat is a broken source
		t.Fatalf("100 instance ids held only %d distinct ones", len(seen))
	}
}
