package http

import (
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"

	herald "github.com/heraldhq/herald"
)

// FuzzRecipientFilter feeds any query to the recipients filter: it never
// panics, and what it accepts is a valid filter in normal form.
func FuzzRecipientFilter(f *testing.F) {
	for _, q := range []string{"", "state=FAILED,unknown&code=63019", "channel=at&phone=010-1234-5678", "member=m1&after=5&limit=1000",
		"state=&state=SENT", "phone=%2B82%2010%201234%205678", "limit=0", "after=-1", "channel=KAKAO", "state=pending,,delivered"} {
		f.Add("7", q)
	}
	f.Fuzz(func(t *testing.T, id, query string) {
		r := httptest.NewRequest("GET", "/v1/campaigns/x/recipients", nil)
		r.URL.RawQuery = query
		r.SetPathValue("id", id)
		fl, err := recipientFilter(r)
		if err != nil {
			return
		}
		if err := fl.Validate(); err != nil {
			t.Fatalf("accepted %q as %+v, which does not validate: %v", query, fl, err)
		}
		if fl.Limit < 1 || fl.Limit > maxRecipientPage {
			t.Fatalf("accepted limit %d", fl.Limit)
		}
		if fl.Phone != "" {
			if p, err := herald.NormalizePhone(fl.Phone); err != nil || p != fl.Phone {
				t.Fatalf("accepted phone %q, not in normal form", fl.Phone)
			}
		}
		if fl.Channel != "" && !slices.Contains([]string{herald.ChannelAlimTalk, herald.ChannelSMS, herald.ChannelLMS, herald.ChannelMMS}, fl.Channel) {
			t.Fatalf("accepted channel %q", fl.Channel)
		}
		if q, _ := url.ParseQuery(query); q.Get("member") != fl.MemberID {
			t.Fatalf("member %q became %q", q.Get("member"), fl.MemberID)
		}
	})
}
