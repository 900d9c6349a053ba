package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	herald "github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
)

// chromium finds the browser. Without one the test is skipped, except under
// CI=true, where it fails: .ci/run installs Chromium.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("Chromium is not installed (apt-get install chromium); .ci/run installs it")
	}
	t.Skip("Chromium is not installed (apt-get install chromium)")
	return ""
}

// browser starts headless Chromium with the flags the CI machine needs,
// asking for pages in the language lang (Accept-Language, navigator.language),
// and returns a tab. It lives until the test ends.
func browser(t *testing.T, lang string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("lang", lang), chromedp.Flag("accept-lang", lang),
		chromedp.WindowSize(1280, 1000),
		chromedp.UserDataDir(t.TempDir()),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser, outside any timeout
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// step runs browser actions with a deadline, failing the test with what.
func step(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// eval returns the value of a JavaScript expression in the page.
func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(sctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("eval %s: %v", js, err)
	}
	return v
}

// until waits for a JavaScript condition to hold in the page. It asks
// again after an error too: a navigation replaces the page under a query.
func until(t *testing.T, ctx context.Context, what, js string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ok, err := chromedp.Run(sctx, chromedp.Evaluate[bool]("Boolean("+js+")"))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %s (last error %v) waiting for %s", what, timeout, err, js)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

const (
	progressJS = `+document.querySelector('#c-bar [role=progressbar]').getAttribute('aria-valuenow')`
	stateJS    = `(document.querySelector('#c-state [data-state]') || {dataset: {}}).dataset.state`
)

// A person signs in, watches a running campaign move, pauses and resumes it
// with the buttons, changes its rate, finds one recipient by phone and signs
// out; a page of another origin cannot press the buttons.
func TestDashboardInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds and runs processes and a browser")
	}
	t.Parallel()
	ctx := browser(t, "en-US")
	mockAddr, serveAddr := freeAddr(t), freeAddr(t)
	start(t, mockAddr, "mock-provider", "--listen", mockAddr, "--key", apiKey, "--tps", "100000",
		"--not-user-rate", "0.05", "--seed", "3", "--log-level", "warn",
		"--report-url", "http://"+serveAddr+"/v1/reports", "--report-secret", secret, "--report-delay", "20ms")
	start(t, serveAddr, "serve", "--db", "sqlite:"+t.TempDir()+"/herald.db", "--listen", serveAddr,
		"--admin-token", adminToken, "--provider-url", "http://"+mockAddr, "--provider-key", apiKey,
		"--tps", "0", "--report-secret", secret, "--log-level", "warn")
	client := heraldhttp.NewClient("http://"+serveAddr, adminToken)
	// 20 a second for 1,500 recipients: over a minute of sending, far more
	// than the test needs to watch it.
	const n, tps = 1500, 20
	camp := seed(t, client, n, tps)
	base := "http://" + serveAddr

	// Signed out, the page is the sign-in form; a wrong token is refused.
	step(t, ctx, "open the dashboard", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.ID("token")))
	step(t, ctx, "sign in with a wrong token",
		chromedp.SendKeys(chromedp.ID("token"), "not-the-admin-token"), chromedp.Click(chromedp.ID("signin-submit")))
	until(t, ctx, "the wrong token is refused", `document.querySelector('#signin-error').textContent.length > 0`, 10*time.Second)
	step(t, ctx, "sign in", chromedp.Evaluate[chromedp.Void](`document.getElementById('token').value = ''`),
		chromedp.SendKeys(chromedp.ID("token"), adminToken), chromedp.Click(chromedp.ID("signin-submit")),
		chromedp.WaitVisible(chromedp.CSS("a.campaign-link")))
	if c := eval[string](t, ctx, `document.cookie`); strings.Contains(c, heraldhttp.SessionCookie) {
		t.Errorf("the page can read the session cookie (%q): it must be HttpOnly", c)
	}

	// The list page shows the report intake of this serve: webhook on, no spool.
	until(t, ctx, "the report intake panel", `(document.querySelector('#intake-state [data-state]') || {dataset: {}}).dataset.state === 'no-spool'
		&& document.querySelector('#intake-queue').textContent.endsWith('/ 10,000')`, 10*time.Second)

	refusesOtherOrigins(t, ctx, base, camp.ID, client)

	// The campaign page shows the progress advancing.
	step(t, ctx, "back to the list", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("a.campaign-link")))
	step(t, ctx, "open the campaign", chromedp.Click(chromedp.CSS("a.campaign-link")), chromedp.WaitVisible(chromedp.ID("c-done")))
	if p := eval[string](t, ctx, `location.pathname`); p != fmt.Sprintf("/campaigns/%d", camp.ID) {
		t.Fatalf("page %s", p)
	}
	until(t, ctx, "sending starts", progressJS+` > 0`, 30*time.Second)
	first := eval[int](t, ctx, progressJS)
	until(t, ctx, "the progress advances", fmt.Sprintf(`%s >= %d`, progressJS, first+10), 15*time.Second)
	if !eval[bool](t, ctx, `[...document.querySelectorAll('#counts td[data-count]')].reduce((n, td) => n + +td.textContent.replace(/\D/g, ''), 0)
		=== +document.querySelector('#counts-total').textContent.replace(/\D/g, '')`) {
		t.Error("the counts per state do not add up to the total shown")
	}
	if total := eval[string](t, ctx, `document.querySelector('#counts-total').textContent`); strings.ReplaceAll(total, ",", "") != fmt.Sprint(n) {
		t.Errorf("total shown %q, want %d", total, n)
	}
	until(t, ctx, "the chart draws sends/s", `document.querySelector('#chart-svg path[data-series=sends]') !== null`, 10*time.Second)

	// Pause and resume with the buttons.
	step(t, ctx, "pause", chromedp.Click(chromedp.ID("btn-pause")))
	until(t, ctx, "the page shows paused", stateJS+` === 'paused'`, 10*time.Second)
	wantState(t, client, camp.ID, herald.CampaignPaused)
	if !eval[bool](t, ctx, `document.querySelector('#btn-pause').disabled && !document.querySelector('#btn-resume').disabled`) {
		t.Error("paused: want pause disabled and resume enabled")
	}
	paused := eval[int](t, ctx, progressJS)
	step(t, ctx, "resume", chromedp.Click(chromedp.ID("btn-resume")))
	until(t, ctx, "the page shows running", stateJS+` === 'running'`, 10*time.Second)
	wantState(t, client, camp.ID, herald.CampaignRunning)
	until(t, ctx, "the progress advances after resume", fmt.Sprintf(`%s >= %d`, progressJS, paused+10), 20*time.Second)

	// Change the rate.
	step(t, ctx, "change TPS", chromedp.SetValue(chromedp.ID("tps-input"), "25"), chromedp.Click(chromedp.ID("btn-tps")))
	until(t, ctx, "the new rate is shown", `document.querySelector('#c-tps').textContent === '25'`, 10*time.Second)
	if c, err := client.GetCampaign(t.Context(), camp.ID); err != nil || c.TPS != 25 {
		t.Errorf("after the TPS button: %d TPS (%v), want 25", c.TPS, err)
	}

	// Korean and English.
	step(t, ctx, "switch to Korean", chromedp.Click(chromedp.ID("lang")))
	until(t, ctx, "Korean text", `document.documentElement.lang === 'ko' && document.querySelector('#btn-pause').textContent === '일시 정지'`, 10*time.Second)
	step(t, ctx, "switch back to English", chromedp.Click(chromedp.ID("lang")))
	until(t, ctx, "English text", `document.documentElement.lang === 'en' && document.querySelector('#btn-pause').textContent === 'Pause'`, 10*time.Second)

	// Find one recipient by phone, typed the way people write it.
	const member = 123
	phone := fmt.Sprintf("010%08d", 20_000_000+member)
	want := recipientByPhone(t, client, camp.ID, phone)
	typed := phone[:3] + "-" + phone[3:7] + "-" + phone[7:]
	step(t, ctx, "search by phone", chromedp.SetValue(chromedp.ID("search-q"), typed), chromedp.Click(chromedp.ID("search-submit")),
		chromedp.WaitVisible(chromedp.CSS("#recipient-rows tr.recipient")))
	rows := eval[[]struct{ ID, Phone string }](t, ctx,
		`[...document.querySelectorAll('#recipient-rows tr.recipient')].map(r => ({ID: r.dataset.id, Phone: r.querySelector('.phone').textContent}))`)
	if len(rows) != 1 || rows[0].Phone != phone || rows[0].ID != fmt.Sprint(want.ID) {
		t.Errorf("search for %s shows %+v, want recipient %d only", typed, rows, want.ID)
	}
	until(t, ctx, "the recipient's details", fmt.Sprintf(`(document.querySelector('#recipient-fields') || {textContent: ''}).textContent.includes(%q)`, want.MemberID), 10*time.Second)
	// The detail route answers (the message as sent once it was sent, and
	// the history from its creation on).
	until(t, ctx, "the recipient's history", `document.querySelectorAll('#history tr').length >= 1`, 10*time.Second)

	until(t, ctx, "some seconds of chart", `document.querySelector('#chart-svg path[data-series=sends]').getAttribute('d').split('L').length >= 12`, 20*time.Second)
	saveScreenshot(t, ctx, "dashboard.png")
	step(t, ctx, "switch to Korean", chromedp.Click(chromedp.ID("lang")))
	until(t, ctx, "Korean text", `document.documentElement.lang === 'ko'`, 10*time.Second)
	saveScreenshot(t, ctx, "dashboard-ko.png")

	// Signing out ends the session for the API too.
	step(t, ctx, "sign out", chromedp.Click(chromedp.ID("signout")), chromedp.WaitVisible(chromedp.ID("token")))
	if s := eval[int](t, ctx, `fetch('/v1/campaigns').then(r => r.status)`); s != http.StatusUnauthorized {
		t.Errorf("after sign-out GET /v1/campaigns answers %d, want 401", s)
	}
}

// refusesOtherOrigins opens a page of another origin (same site: another
// port of 127.0.0.1, so the SameSite=Strict cookie does go along) that tries
// to cancel and pause the campaign; the origin check refuses both.
func refusesOtherOrigins(t *testing.T, ctx context.Context, base string, id int64, client *heraldhttp.Client) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	page := fmt.Sprintf(`<!doctype html><title>evil</title>
<form id="f" method="post" action="%[1]s/v1/campaigns/%[2]d/pause"></form>
<script>
fetch("%[1]s/v1/campaigns/%[2]d/cancel", {method: "POST", credentials: "include", mode: "no-cors"})
  .finally(() => { document.title = "sent"; });
</script>`, base, id)
	evil := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, page)
	}), ReadHeaderTimeout: 5 * time.Second}
	go evil.Serve(ln)
	t.Cleanup(func() { evil.Close() })
	step(t, ctx, "open the other origin's page", chromedp.Navigate("http://"+ln.Addr().String()+"/"))
	until(t, ctx, "its fetch is done", `document.title === 'sent'`, 10*time.Second)
	step(t, ctx, "submit its form", chromedp.Evaluate[chromedp.Void](`document.getElementById('f').submit()`))
	until(t, ctx, "the form post is answered", `location.pathname.endsWith('/pause') && document.body && document.body.innerText.includes('"forbidden"')`, 10*time.Second)
	wantState(t, client, id, herald.CampaignRunning)
}

func wantState(t *testing.T, client *heraldhttp.Client, id int64, want herald.CampaignState) {
	t.Helper()
	c, err := client.GetCampaign(t.Context(), id)
	if err != nil || c.State != want {
		t.Fatalf("campaign is %s (%v), want %s", c.State, err, want)
	}
}

// recipientByPhone pages through the campaign for the one recipient with phone.
func recipientByPhone(t *testing.T, client *heraldhttp.Client, id int64, phone string) herald.Recipient {
	t.Helper()
	var found []herald.Recipient
	for after := int64(0); ; {
		rs, next, err := client.ListRecipients(t.Context(), id, after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if r.Phone == phone {
				found = append(found, r)
			}
		}
		if next == 0 {
			break
		}
		after = next
	}
	if len(found) != 1 {
		t.Fatalf("%d recipients with phone %s, want 1", len(found), phone)
	}
	return found[0]
}

// saveScreenshot keeps a picture of the page in the test's temp dir, and in
// $HERALD_DASHBOARD_SCREENSHOTS too when set (to look at after the test).
func saveScreenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if len(png) < 10_000 {
		t.Errorf("screenshot of %d bytes: the page looks empty", len(png))
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", path, len(png))
	if dir := os.Getenv("HERALD_DASHBOARD_SCREENSHOTS"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
			t.Error(err)
		}
	}
}
