package dispatch_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/dispatch"
	"github.com/heraldhq/herald/internal/review"
)

// kakaoProvider reports, at inquiry, that every fifth member (by phone) is
// not a KakaoTalk user and got the SMS fallback instead.
type kakaoProvider struct {
	*fakeProvider
	mu    sync.Mutex
	phone map[string]string // message id → phone
}

func (p *kakaoProvider) Send(ctx context.Context, b herald.SendBatch) []herald.Outcome {
	p.mu.Lock()
	for _, d := range b.Destinations {
		p.phone[d.MessageID] = d.To
	}
	p.mu.Unlock()
	return p.fakeProvider.Send(ctx, b)
}

func (p *kakaoProvider) Inquire(_ context.Context, msgKey string) ([]herald.Report, error) {
	id := msgKey[len("K-"):]
	p.mu.Lock()
	phone := p.phone[id]
	p.mu.Unlock()
	var i int
	fmt.Sscanf(phone, "010%08d", &i)
	at := time.Now()
	if i%5 == 0 {
		return []herald.Report{
			{MsgKey: msgKey, Ref: id, ServiceType: "ALIMTALK", Code: "63019", ReportType: "0", ReportTime: at},
			{MsgKey: msgKey, Ref: id, ServiceType: "SMS", Code: herald.ReportDelivered, ReportType: "0", ReportTime: at},
		}, nil
	}
	return []herald.Report{{MsgKey: msgKey, Ref: id, ServiceType: "ALIMTALK", Code: herald.ReportDelivered, ReportType: "0", ReportTime: at}}, nil
}

// TestReviewMatchesTally: a campaign reviewed, approved and sent ends as
// its review said: recipients, skips and render failures exactly, and the
// fallback used within the forecast band (from the sender key's history,
// made by an earlier campaign of the same audience).
func TestReviewMatchesTally(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, open func(*testing.T) herald.Store) {
		s := open(t)
		const n = 200
		f := setup(t, s, n, 100000, func(i int, m *herald.Member) {
			switch i {
			case 7:
				m.Status = herald.MemberWithdrawn
			case 8, 9:
				delete(m.Attributes, "order") // cannot render
			}
		})
		p := &kakaoProvider{fakeProvider: f.fake, phone: map[string]string{}}
		cfg := dispatch.Config{Workers: 8, FallbackFrom: "0212345678", InquireAfter: time.Millisecond, InquiryInterval: 20 * time.Millisecond, InquiryRate: 10000}
		f.startWith(t, cfg, s, p)
		reported := func(c herald.Campaign) bool {
			return c.State == herald.CampaignCompleted && c.Counts[herald.RecipientAccepted] == 0
		}
		f.waitFor(t, "completed with every report", reported)

		// The second campaign: a draft, reviewed, then approved.
		d := herald.Campaign{Name: "again", TemplateCode: "SHIP", Audience: herald.Audience{All: true}, TPS: 100000,
			State: herald.CampaignDraft, CreatedAt: time.Now()}
		if err := d.Validate(time.Now()); err != nil {
			t.Fatal(err)
		}
		d, err := s.CreateCampaign(t.Context(), d)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond) // a few scheduler passes: a draft is never picked up
		if got, _ := s.GetCampaign(t.Context(), d.ID); got.State != herald.CampaignDraft || got.Total != 0 {
			t.Fatalf("draft moved on its own: %+v", got)
		}
		rev, err := review.Campaign(t.Context(), s, d, review.Settings{BatchSize: 1, FallbackFrom: cfg.FallbackFrom}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.ApproveCampaign(t.Context(), d.ID, "approver", time.Now()); err != nil {
			t.Fatal(err)
		}
		f.camp = d
		c := f.waitFor(t, "completed with every report", reported)

		if rev.Audience.Recipients != c.Total || rev.Audience.Withdrawn != 1 || c.Total != n-1 {
			t.Errorf("review audience %+v, campaign total %d", rev.Audience, c.Total)
		}
		rows := f.rows(t)
		codes := map[string]int{}
		fallbacks := 0
		for _, r := range rows {
			if r.State == herald.RecipientFailed || r.State == herald.RecipientSkipped {
				codes[r.ResultCode]++
			}
			if r.Channel == "SMS" || r.Channel == "LMS" {
				fallbacks++
			}
		}
		if rev.Failures.Count != 2 || codes["RENDER"] != rev.Failures.ByCode["RENDER"] || c.Counts[herald.RecipientSkipped] != 0 {
			t.Errorf("review failures %+v, final codes %v, skipped %d", rev.Failures, codes, c.Counts[herald.RecipientSkipped])
		}
		if c.Counts[herald.RecipientDelivered] != rev.Messages {
			t.Errorf("delivered %d, review said %d messages", c.Counts[herald.RecipientDelivered], rev.Messages)
		}
		fb := rev.Fallback
		if fb.Expected == nil || fb.History.Reported != n-3 || fb.Legs != rev.Messages {
			t.Fatalf("fallback forecast %+v", fb)
		}
		if fallbacks < *fb.Low || fallbacks > *fb.High || fallbacks == 0 {
			t.Errorf("fallback used %d, forecast %d in [%d, %d]", fallbacks, *fb.Expected, *fb.Low, *fb.High)
		}
		t.Logf("review: %d recipients, %d failures, fallback %d expected in [%d, %d]; final: %d fallbacks",
			rev.Audience.Recipients, rev.Failures.Count, *fb.Expected, *fb.Low, *fb.High, fallbacks)
		// Two campaigns reach the same phones: check messages, not phones.
		f.fake.mu.Lock()
		defer f.fake.mu.Unlock()
		for id, k := range f.fake.delivered {
			if k > 1 {
				t.Errorf("message %s delivered %d times", id, k)
			}
		}
		if len(f.fake.changed) > 0 {
			t.Errorf("keys resent with another body: %v", f.fake.changed)
		}
	})
}
