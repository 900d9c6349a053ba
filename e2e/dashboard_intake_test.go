package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	herald "github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/ingest"
	"github.com/heraldhq/herald/sqlite"
	"github.com/heraldhq/herald/storetest"
)

// The Report intake panel shows the spool filling while the database is
// away, then draining once it is back, with the one poison report counted
// in quarantine and where to find it.
func TestDashboardIntakeInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a browser")
	}
	t.Parallel()
	ctx := browser(t, "en-US")
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "h.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	store := &storetest.Faulty{Store: db, Marked: "INTAKE-POISON"}
	store.Down.Store(true)
	spoolDir := t.TempDir()
	in, err := ingest.New(ingest.Config{SpoolDir: spoolDir, BatchSize: 1}, store, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := in.Stop(context.Background()); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	api, err := heraldhttp.NewServer(heraldhttp.ServerConfig{Store: db, AdminTokens: []string{adminToken}})
	if err != nil {
		t.Fatal(err)
	}
	api.ShowIntake(in)
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(srv.Close)

	// Reports arrive while the database is away: acknowledged from the spool.
	keys := []string{"INTAKE-1", "INTAKE-2", "INTAKE-POISON", "INTAKE-3", "INTAKE-4"}
	var wg sync.WaitGroup
	errs := make([]error, len(keys))
	for i, k := range keys {
		wg.Go(func() {
			errs[i] = in.Submit(t.Context(), herald.Report{MsgKey: k, ServiceType: "ALIMTALK", ReportType: "0", Code: "10000",
				ReportTime: time.Now().UTC(), Raw: []byte(`{}`)})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}

	step(t, ctx, "sign in", chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), adminToken), chromedp.Click(chromedp.ID("signin-submit")),
		chromedp.WaitVisible(chromedp.ID("intake")))
	until(t, ctx, "the panel shows spooling", `document.querySelector('#intake-state [data-state]').dataset.state === 'spooling'`, 15*time.Second)
	if got := eval[string](t, ctx, `document.querySelector('#intake-records').textContent`); got == "0" {
		t.Errorf("batches waiting %q while spooling", got)
	}
	if got := eval[string](t, ctx, `document.querySelector('#intake-spool').textContent`); got[:2] == "0 " {
		t.Errorf("spool %q while spooling: want its bytes", got)
	}
	until(t, ctx, "the replay failure time", `document.querySelector('#intake-failure').textContent !== 'never'`, 15*time.Second)
	until(t, ctx, "the commit error time", `document.querySelector('#intake-commit-error').textContent !== 'never'`, 15*time.Second)
	saveScreenshot(t, ctx, "dashboard-intake-spooling.png")

	// The database comes back: the spool drains, the poison report aside.
	store.Down.Store(false)
	until(t, ctx, "the panel shows direct", `document.querySelector('#intake-state [data-state]').dataset.state === 'direct'`, 30*time.Second)
	until(t, ctx, "one batch quarantined", `document.querySelector('#intake-quarantined').textContent === '1' &&
		document.querySelector('#intake-quarantined').classList.contains('error')`, 15*time.Second)
	if got := eval[string](t, ctx, `document.querySelector('#intake-quarantine').textContent`); !containsAll(got, spoolDir, "docs/INGEST.md") {
		t.Errorf("quarantine note %q: want the spool directory and the doc", got)
	}
	if got := eval[string](t, ctx, `document.querySelector('#intake-replayed').textContent`); got != fmt.Sprint(len(keys)-1) {
		t.Errorf("replayed %q, want %d", got, len(keys)-1)
	}
	saveScreenshot(t, ctx, "dashboard-intake.png")
	step(t, ctx, "switch to Korean", chromedp.Click(chromedp.ID("lang")))
	until(t, ctx, "the panel in Korean", `document.querySelector('#intake h2').textContent === '결과 수신' &&
		document.querySelector('#intake-state [data-state]').textContent === '직접 저장'`, 10*time.Second)
}
