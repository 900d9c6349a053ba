package e2e

import (
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	herald "github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/sqlite"
)

// The panels that read the failures, recipient-detail and retry routes
// show what those routes answer: failure meanings in both languages, the
// message as sent and its history, the retry button; and a campaign the
// dispatcher paused shows why.
func TestDashboardPanelsInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a browser")
	}
	t.Parallel()
	ctx := browser(t, "ko-KR")
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "h.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	camp := failedOne(t, store)
	api, err := heraldhttp.NewServer(heraldhttp.ServerConfig{Store: store, AdminTokens: []string{adminToken}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(srv.Close)

	step(t, ctx, "sign in", chromedp.Navigate(fmt.Sprintf("%s/campaigns/%d", srv.URL, camp.ID)),
		chromedp.WaitVisible(chromedp.ID("token")), chromedp.SendKeys(chromedp.ID("token"), adminToken),
		chromedp.Click(chromedp.ID("signin-submit")), chromedp.WaitVisible(chromedp.ID("c-done")))
	// A browser asking for Korean gets Korean first.
	until(t, ctx, "the failure reasons in Korean", `document.documentElement.lang === 'ko' &&
		(document.querySelector('#failure-rows tr[data-code="63019"]') || {textContent: ''}).textContent.includes('카카오톡 사용자가 아님')`, 15*time.Second)
	step(t, ctx, "switch to English", chromedp.Click(chromedp.ID("lang")))
	until(t, ctx, "the failure reasons in English", `(document.querySelector('#failure-rows tr[data-code="63019"]') || {textContent: ''}).textContent.includes('not a KakaoTalk user')`, 15*time.Second)

	step(t, ctx, "search by member id", chromedp.SetValue(chromedp.ID("search-by"), "member"),
		chromedp.SetValue(chromedp.ID("search-q"), "member-0"), chromedp.Click(chromedp.ID("search-submit")))
	until(t, ctx, "the message as sent", `(document.querySelector('#message-text') || {textContent: ''}).textContent === '김민준님, 주문하신 상품이 발송되었습니다.'`, 10*time.Second)
	if n := eval[int](t, ctx, `document.querySelectorAll('#history tr').length`); n < 2 {
		t.Errorf("history shows %d events, want at least created and sent", n)
	}

	if _, err := store.HaltCampaign(t.Context(), camp.ID, herald.CampaignPaused, "the provider refused the account (3016)", time.Now().UTC()); err != nil {
		t.Fatal(err)
	}
	step(t, ctx, "open the paused campaign", chromedp.Navigate(fmt.Sprintf("%s/campaigns/%d", srv.URL, camp.ID)), chromedp.WaitVisible(chromedp.ID("c-done")))
	until(t, ctx, "the pause reason", `!document.querySelector('#c-reason').hidden && document.querySelector('#c-reason').textContent.includes('refused the account (3016)')`, 10*time.Second)
	// Its recipients are prepared, so the start time can no longer move: the
	// button is there for a paused campaign, and the refusal is shown.
	until(t, ctx, "reschedule enabled when paused", `!document.querySelector('#btn-reschedule').disabled`, 10*time.Second)
	step(t, ctx, "reschedule", chromedp.Click(chromedp.ID("btn-reschedule")))
	until(t, ctx, "the refusal is shown", `document.querySelector('#action-msg').className === 'error' &&
		document.querySelector('#action-msg').textContent.includes('startAt can no longer change')`, 10*time.Second)

	// A retry needs a source that is over: cancel it (the FAILED row stays).
	if _, err := store.TransitionCampaign(t.Context(), camp.ID, herald.CampaignCancelled, time.Now().UTC()); err != nil {
		t.Fatal(err)
	}
	step(t, ctx, "open the cancelled campaign", chromedp.Navigate(fmt.Sprintf("%s/campaigns/%d", srv.URL, camp.ID)), chromedp.WaitVisible(chromedp.ID("c-done")))
	until(t, ctx, "the retry button", `!document.querySelector('#btn-retry').hidden`, 10*time.Second)
	step(t, ctx, "retry the failed", chromedp.Click(chromedp.ID("btn-retry")))
	until(t, ctx, "the new campaign's page", fmt.Sprintf(`location.pathname === '/campaigns/%d' && document.querySelector('#c-name').textContent.endsWith('(retry of %d)')`, camp.ID+1, camp.ID), 10*time.Second)
	follow, err := store.GetCampaign(t.Context(), camp.ID+1)
	if err != nil || follow.RetryOf != camp.ID {
		t.Errorf("follow-up %+v (err %v), want retryOf %d", follow, err, camp.ID)
	}
}

// failedOne makes a running campaign of three recipients, one of them FAILED
// with 63019, through the store's own claim and record.
func failedOne(t *testing.T, store *sqlite.Store) herald.Campaign {
	t.Helper()
	ctx, now := t.Context(), time.Now().UTC()
	var ms []herald.Member
	for i := range 3 {
		ms = append(ms, herald.Member{ID: fmt.Sprintf("member-%d", i), Phone: fmt.Sprintf("0101234567%d", i), Name: "김민준", Status: herald.MemberActive, UpdatedAt: now})
	}
	if _, err := store.UpsertMembers(ctx, ms); err != nil {
		t.Fatal(err)
	}
	if _, err := store.CreateTemplate(ctx, herald.Template{Code: "T", SenderKey: "sk", Status: herald.TemplateApproved, Text: "#{name}님", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	c, err := store.CreateCampaign(ctx, herald.Campaign{Name: "panels", TemplateCode: "T", Audience: herald.Audience{All: true}, TPS: 10,
		StartAt: now, State: herald.CampaignScheduled, CreatedAt: now, UpdatedAt: now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.AcquireCampaignLease(ctx, "test", now, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := store.PrepareRecipients(ctx, c.ID, "test", now); err != nil {
		t.Fatal(err)
	}
	if err := store.Heartbeat(ctx, "test", now); err != nil {
		t.Fatal(err)
	}
	rs, err := store.ClaimRecipients(ctx, herald.ClaimParams{CampaignID: c.ID, Limit: 1, Owner: "test", Now: now, LeaseUntil: now.Add(time.Minute)})
	if err != nil || len(rs) != 1 {
		t.Fatalf("claim: %v %v", rs, err)
	}
	// Frozen as it leaves, like the dispatcher does: the message as sent.
	batch := herald.SendBatch{SenderKey: "sk", TemplateCode: "T", Title: "배송 시작", IdempotencyKey: "k-1", IdempotencyTTL: 24 * time.Hour,
		Buttons:      []herald.Button{{Type: "WL", Name: "배송 조회", URLMobile: "https://example.com/t"}},
		Destinations: []herald.Destination{{To: rs[0].Phone, MessageID: rs[0].MessageID, Text: "김민준님, 주문하신 상품이 발송되었습니다."}}}
	if err := store.MarkBatches(ctx, "test", []herald.SentRequest{{Batch: batch, Claims: []herald.Claim{{ID: rs[0].ID, Token: rs[0].ClaimToken}}, At: now}}); err != nil {
		t.Fatal(err)
	}
	// Accepted, then Kakao's report: not a KakaoTalk user.
	err = store.RecordOutcomes(ctx, []herald.RecipientUpdate{{ID: rs[0].ID, Owner: "test", Token: rs[0].ClaimToken,
		State: herald.RecipientAccepted, MsgKey: "mk-1", At: now}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.ApplyReports(ctx, []herald.Report{{MsgKey: "mk-1", Ref: rs[0].MessageID, ServiceType: herald.ChannelAlimTalk,
		ReportTime: now, Code: "63019", Text: "NotKakaoUser", Raw: []byte("{}")}}, now); err != nil {
		t.Fatal(err)
	}
	return c
}
