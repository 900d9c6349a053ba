package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/internal/procstat"
	"github.com/heraldhq/herald/mockprovider"
)

const reportToken = "e2e-report-token-0123456789"

// TestCampaignRSS sends one campaign as fast as herald can to a mock
// provider that posts each report on a TCP connection of its own, many at
// once, and posts a refused report (429/503) again, after its
// Retry-After, until it lands. serve's peak RSS must stay within the
// limit (256 MB) and every report must land: every recipient DELIVERED.
// Sizes: HERALD_CAMPAIGN_RSS_* (see campaignRSSSettings);
// bench/webhook-campaign-rss.sh runs the big version.
func TestCampaignRSS(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds and runs processes")
	}
	t.Parallel()
	cfg := campaignRSSSettings()
	db := "sqlite:" + filepath.Join(t.TempDir(), "herald.db")
	if cfg.engine == "postgres" {
		db = pgtest.URL(t)
	}
	runCampaignRSS(t, cfg, db)
}

// campaignRSSConfig is one run's sizes.
type campaignRSSConfig struct {
	engine               string // sqlite or postgres
	recipients, posters  int    // posters: reports posted at once by the mock
	batch                int    // destinations per send request
	limitMB              int64
	reportDelay, timeout time.Duration
	debugListen          string // serve's --debug-listen (pprof), empty: off
	mockTPS, campaignTPS int
}

func campaignRSSSettings() campaignRSSConfig {
	n := envInt("HERALD_CAMPAIGN_RSS_RECIPIENTS", 2000)
	return campaignRSSConfig{
		engine:      strings.ToLower(os.Getenv("HERALD_CAMPAIGN_RSS_ENGINE")),
		recipients:  n,
		posters:     envInt("HERALD_CAMPAIGN_RSS_CONCURRENCY", 300),
		batch:       envInt("HERALD_CAMPAIGN_RSS_BATCH_SIZE", 100),
		limitMB:     int64(envInt("HERALD_CAMPAIGN_RSS_LIMIT_MB", 256)),
		reportDelay: envDuration("HERALD_CAMPAIGN_RSS_REPORT_DELAY", 50*time.Millisecond),
		timeout:     envDuration("HERALD_CAMPAIGN_RSS_TIMEOUT", 2*time.Minute+time.Duration(n)*5*time.Millisecond),
		debugListen: os.Getenv("HERALD_CAMPAIGN_RSS_DEBUG_LISTEN"),
		mockTPS:     mockprovider.MaxTPS,
		campaignTPS: herald.MaxTPS, // serve runs with --tps 0: no cap but the campaign's
	}
}

func runCampaignRSS(t *testing.T, cfg campaignRSSConfig, db string) {
	mockAddr, serveAddr := freeAddr(t), freeAddr(t)
	tpl := filepath.Join(t.TempDir(), "templates.json")
	if err := os.WriteFile(tpl, []byte(`[{"code":"E2E","text":"#{name}님, 주문 #{order}번이 발송되었습니다."}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("campaign RSS: %d recipients (%s), batches of %d, reports %s late, each on its own connection, %d at once, posted again until accepted",
		cfg.recipients, orSQLite(cfg.engine), cfg.batch, cfg.reportDelay, cfg.posters)
	start(t, mockAddr, "mock-provider", "--listen", mockAddr, "--key", apiKey, "--tps", strconv.Itoa(cfg.mockTPS),
		"--templates", tpl, "--api-rate", "0", "--log-level", "warn",
		"--report-url", "http://"+serveAddr+"/v1/reports", "--report-token", reportToken,
		"--report-delay", cfg.reportDelay.String(), "--report-concurrency", strconv.Itoa(cfg.posters),
		"--report-new-connection", "--report-retries", "-1", "--report-backoff", "100ms", "--report-timeout", "30s",
		"--report-queue", strconv.Itoa(cfg.recipients+1000))
	args := []string{"serve", "--db", db, "--listen", serveAddr, "--admin-token", adminToken,
		"--provider-url", "http://" + mockAddr, "--provider-key", apiKey, "--report-token", reportToken,
		"--tps", "0", "--batch-size", strconv.Itoa(cfg.batch), "--log-level", "warn"}
	if cfg.debugListen != "" {
		args = append(args, "--debug-listen", cfg.debugListen)
	}
	serve := start(t, serveAddr, args...)
	client := heraldhttp.NewClient("http://"+serveAddr, adminToken)

	peak, stopSampling := procstat.SamplePeak(serve.cmd.Process.Pid, "VmRSS", 100*time.Millisecond)
	began := time.Now()
	camp := seed(t, client, cfg.recipients, cfg.campaignTPS)
	sentIn, done := waitDelivered(t, client, camp.ID, cfg.timeout)
	hwm := procstat.StatusKB(serve.cmd.Process.Pid, "VmHWM")
	stopSampling()
	// herald commits a report before it answers, and the mock counts the
	// answer only once it has read it: give the last answers time to arrive.
	waitMockUpTo(t, mockAddr, 10*time.Second, func(s mockprovider.Stats) bool {
		return s.ReportsAcked+s.ReportsGivenUp+s.ReportsDropped >= int64(cfg.recipients)
	})
	st := readMockStats(t, mockAddr)
	committed := metricValue(t, serveAddr, "herald_reports_committed_total")
	wall := time.Since(began)

	peakMB, hwmMB := peak.Load()/1024, hwm/1024
	t.Logf("  %d recipients sent in %s from the campaign's creation (%.0f/s); every report in after %s (members' import included)",
		cfg.recipients, sentIn.Round(100*time.Millisecond), float64(cfg.recipients)/sentIn.Seconds(), wall.Round(100*time.Millisecond))
	t.Logf("  campaign %s: %v", done.State, done.Counts)
	t.Logf("  mock: accepted %d; reports posted %d, acknowledged %d, refused (429/503) %d, posted again %d, given up %d, dropped %d",
		st.Accepted, st.ReportsSent, st.ReportsAcked, st.ReportsRefused, st.ReportsRetried, st.ReportsGivenUp, st.ReportsDropped)
	t.Logf("  serve: reports committed %.0f (herald_reports_committed_total); peak RSS sampled every 100 ms %d MB, VmHWM %d MB (limit %d MB)",
		committed, peakMB, hwmMB, cfg.limitMB)

	if done.Counts[herald.RecipientDelivered] != cfg.recipients {
		t.Errorf("%d of %d recipients DELIVERED: reports missing (%v)", done.Counts[herald.RecipientDelivered], cfg.recipients, done.Counts)
	}
	if st.Accepted != int64(cfg.recipients) || st.ReportsAcked != int64(cfg.recipients) || st.ReportsGivenUp != 0 || st.ReportsDropped != 0 {
		t.Errorf("mock: accepted %d, reports acknowledged %d, given up %d, dropped %d; want %d, %d, 0, 0",
			st.Accepted, st.ReportsAcked, st.ReportsGivenUp, st.ReportsDropped, cfg.recipients, cfg.recipients)
	}
	if committed < float64(cfg.recipients) {
		t.Errorf("serve committed %.0f reports, want at least %d", committed, cfg.recipients)
	}
	if max(peakMB, hwmMB) > cfg.limitMB {
		t.Errorf("serve's peak RSS %d MB (VmHWM %d MB) is over %d MB", peakMB, hwmMB, cfg.limitMB)
	}
}

func orSQLite(engine string) string {
	if engine == "" {
		return "sqlite"
	}
	return engine
}

// waitDelivered waits until campaign id is completed and its reports are
// in (nobody ACCEPTED); it returns how long until every recipient was
// sent, counted from now.
func waitDelivered(t *testing.T, client *heraldhttp.Client, id int64, timeout time.Duration) (time.Duration, herald.Campaign) {
	t.Helper()
	began := time.Now()
	var sentIn time.Duration
	var c herald.Campaign
	for time.Since(began) < timeout {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		got, err := client.GetCampaign(ctx, id)
		cancel()
		if err == nil {
			c = got
			if sentIn == 0 && c.Total > 0 && sentCount(c) == c.Total {
				sentIn = time.Since(began)
			}
			if c.State == herald.CampaignCompleted && c.Counts[herald.RecipientAccepted] == 0 {
				return sentIn, c
			}
			if c.State == herald.CampaignPaused {
				t.Fatalf("campaign %d paused by the dispatcher: %v", id, c.Counts)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("campaign %d not completed and reported within %s: %s %v", id, timeout, c.State, c.Counts)
	return 0, c
}
