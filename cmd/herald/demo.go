package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	herald "github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/infobank"
	"github.com/heraldhq/herald/internal/httpserver"
	"github.com/heraldhq/herald/mockprovider"
	"github.com/heraldhq/herald/sqlite"
	"github.com/heraldhq/herald/templatesync"
)

// demoConfig is what `herald demo` takes.
type demoConfig struct {
	Members      int
	Withdraw     int
	JSON         bool
	Listen       string
	ReportSecret string
	// AdminToken lets a person sign in to the dashboard while the demo runs;
	// random (and unknown) when empty.
	AdminToken string
	Send       sendConfig
	Timeout    time.Duration
	// Latency, LatencyTail and TailRate shape the built-in mock's answers.
	Latency, LatencyTail time.Duration
	TailRate             float64
	LogLevel             string
}

func (c demoConfig) Validate() error {
	switch {
	case c.Members < 1 || c.Members > 5_000_000:
		return herald.Invalid("members", "must be between 1 and 5,000,000")
	case c.Withdraw < 0 || c.Withdraw > c.Members:
		return herald.Invalid("withdraw", "must be between 0 and --members")
	case c.Send.TPS < 1:
		return herald.Invalid("tps", "must be at least 1")
	case c.Send.ProviderURL != "" && c.ReportSecret == "":
		return herald.Invalid("report-secret", "is required with --provider-url: the provider signs its reports with it")
	case c.AdminToken != "" && len(c.AdminToken) < 16:
		return herald.Invalid("admin-token", "must be at least 16 characters")
	}
	return c.Send.Validate()
}

func newDemoCmd() *cobra.Command {
	var cfg demoConfig
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Send one campaign end to end on a temporary SQLite database and the built-in mock provider, then print a verdict",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd); err != nil {
				return err
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			v, err := runDemo(cmd.Context(), cfg, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			printVerdict(cmd.OutOrStdout(), v, cfg.JSON)
			if !v.OK {
				return exitError(2)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&cfg.Members, "members", 10_000, "members to generate and send to")
	f.IntVar(&cfg.Withdraw, "withdraw", -1, "members withdrawn mid-run, to show the re-check (default: 0.5% of --members)")
	f.BoolVar(&cfg.JSON, "json", false, "print the verdict as one JSON object")
	f.StringVar(&cfg.Listen, "listen", "127.0.0.1:0", "HOST:PORT of herald's HTTP server (the provider posts reports to /v1/reports there)")
	f.StringVar(&cfg.ReportSecret, "report-secret", "", "secret the external provider signs reports with (with --provider-url)")
	f.StringVar(&cfg.AdminToken, "admin-token", "", "admin token to sign in to the dashboard at http://<listen>/ while the demo runs (default: random, no sign-in)")
	f.DurationVar(&cfg.Latency, "latency", 0, "built-in mock: median answer time (uniform ± half of it)")
	f.DurationVar(&cfg.LatencyTail, "latency-tail", time.Second, "built-in mock: answer time of the long tail")
	f.Float64Var(&cfg.TailRate, "latency-tail-rate", 0, "built-in mock: share of answers in the long tail (0.01 gives a p99 near --latency-tail)")
	f.DurationVar(&cfg.Timeout, "timeout", 0, "give up after this long (default: twice the expected time plus a minute)")
	f.StringVar(&cfg.LogLevel, "log-level", "warn", "debug, info, warn or error")
	cfg.Send.addFlags(f)
	f.Lookup("workers").DefValue = "64"
	describeEnv(f)
	cmd.PreRun = func(*cobra.Command, []string) {
		if cfg.Withdraw < 0 {
			cfg.Withdraw = cfg.Members / 200
		}
	}
	return cmd
}

// demo is the running demo: one store, one API server, maybe a mock.
type demo struct {
	cfg    demoConfig
	log    *slog.Logger
	store  *sqlite.Store
	mock   *mockprovider.Server
	apiURL string
	// reg receives every metric (a new registry when nil), so that a test
	// can read /metrics after the run.
	reg *prometheus.Registry
}

func runDemo(ctx context.Context, cfg demoConfig, progress io.Writer) (verdict, error) {
	logger, err := newLogger(cfg.LogLevel)
	if err != nil {
		return verdict{}, err
	}
	dir, err := os.MkdirTemp("", "herald-demo-")
	if err != nil {
		return verdict{}, err
	}
	defer os.RemoveAll(dir)
	store, err := sqlite.Open(ctx, filepath.Join(dir, "herald.db"))
	if err != nil {
		return verdict{}, err
	}
	defer store.Close()
	d := &demo{cfg: cfg, log: logger, store: store}
	return d.run(ctx, progress)
}

func (d *demo) run(ctx context.Context, progress io.Writer) (verdict, error) {
	ln, err := net.Listen("tcp", d.cfg.Listen)
	if err != nil {
		return verdict{}, fmt.Errorf("listen: %w", err)
	}
	d.apiURL = "http://" + ln.Addr().String()
	if d.cfg.Send.ProviderURL == "" {
		stopMock, err := d.startMock(ctx)
		if err != nil {
			return verdict{}, err
		}
		defer stopMock()
	}
	reg := d.reg
	if reg == nil {
		reg = heraldhttp.NewRegistry()
	}
	stopAPI, backlog, err := d.startAPI(ctx, ln, reg)
	if err != nil {
		return verdict{}, err
	}
	defer stopAPI()
	if d.cfg.AdminToken != "" {
		fmt.Fprintf(progress, "dashboard: %s/ (sign in with your --admin-token)\n", d.apiURL)
	}
	camp, err := d.seed(ctx)
	if err != nil {
		return verdict{}, err
	}
	dispatcher, closeRedis, err := newDispatcher(ctx, d.cfg.Send, d.store, d.log, reg, backlog, nil)
	if err != nil {
		return verdict{}, err
	}
	defer closeRedis()
	start := time.Now()
	dispatcher.Start(ctx)
	final, err := d.watch(ctx, camp, progress)
	stopErr := dispatcher.Stop(context.Background())
	if err != nil {
		return verdict{}, err
	}
	if stopErr != nil {
		return verdict{}, stopErr
	}
	return d.verdict(ctx, final, time.Since(start))
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// startMock runs the built-in provider on a free loopback port, posting
// signed reports back to herald.
func (d *demo) startMock(ctx context.Context) (func(), error) {
	d.cfg.ReportSecret = randomHex(16)
	mc := mockprovider.DefaultConfig()
	mc.APIKey, mc.TPS, mc.Templates = randomHex(16), d.cfg.Send.TPS, []herald.Template{demoTemplate()}
	mc.Reports, mc.ReportURL, mc.ReportSecret = mockprovider.ReportsWebhook, d.apiURL+"/v1/reports", d.cfg.ReportSecret
	mc.LogEvery = time.Hour // the progress bar says it
	mc.Latency, mc.LatencySpread = d.cfg.Latency, d.cfg.Latency/2
	mc.TailRate, mc.TailLatency = d.cfg.TailRate, d.cfg.LatencyTail
	m, err := mockprovider.New(mc, d.log)
	if err != nil {
		return nil, err
	}
	srv, err := httpserver.Start("127.0.0.1:0", m)
	if err != nil {
		return nil, err
	}
	m.Start(ctx)
	d.mock = m
	d.cfg.Send.ProviderURL, d.cfg.Send.ProviderKey = srv.URL(), mc.APIKey
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		m.Stop(sctx)
	}, nil
}

// demoTemplate is the approved template the demo sends: the built-in
// mock's catalog, which herald then syncs from the mock.
func demoTemplate() herald.Template {
	return herald.Template{
		Code: "DEMO_SHIPPED", SenderKey: "demo-sender-key", Status: herald.TemplateApproved, CreatedAt: time.Now().UTC(),
		Title: "배송 시작",
		Text:  "#{name}님, 주문하신 상품이 발송되었습니다.\n주문번호: #{order}\n도착 예정일: #{eta}\n\n배송 조회는 아래 버튼을 눌러 주세요.",
		// A button without variables: recipients whose title and buttons
		// render the same can share one request (--batch-size above 1).
		Buttons: []herald.Button{{Type: "WL", Name: "배송 조회", URLMobile: "https://example.com/track"}},
	}
}

// seed generates members, the template and the campaign.
func (d *demo) seed(ctx context.Context) (herald.Campaign, error) {
	now := time.Now().UTC()
	batch := make([]herald.Member, 0, 5000)
	for i := range d.cfg.Members {
		batch = append(batch, herald.Member{
			ID: fmt.Sprintf("member-%07d", i), Phone: fmt.Sprintf("010%08d", 10_000_000+i), Name: demoName(i),
			Status: herald.MemberActive, Attributes: map[string]string{"order": fmt.Sprintf("2026-%07d", i)}, UpdatedAt: now,
		})
		if len(batch) == cap(batch) || i == d.cfg.Members-1 {
			if _, err := d.store.UpsertMembers(ctx, batch); err != nil {
				return herald.Campaign{}, err
			}
			batch = batch[:0]
		}
	}
	tpl, err := d.template(ctx)
	if err != nil {
		return herald.Campaign{}, err
	}
	c := herald.Campaign{Name: "demo", TemplateCode: tpl.Code, Audience: herald.Audience{All: true}, TPS: d.cfg.Send.TPS,
		Variables: map[string]string{"eta": now.Add(48 * time.Hour).Format("1월 2일")}, CreatedAt: now}
	if err := c.Validate(now); err != nil {
		return herald.Campaign{}, err
	}
	return d.store.CreateCampaign(ctx, c)
}

// template takes the demo's template from the provider, as production
// does (herald templates sync): the built-in mock serves demoTemplate from
// its catalog, so the approved text is written down once. An external
// provider that has no such template (a mock without a catalog accepts any
// code) gets the local copy instead.
func (d *demo) template(ctx context.Context) (herald.Template, error) {
	client, err := infobank.New(infobank.Config{BaseURL: d.cfg.Send.ProviderURL, APIKey: d.cfg.Send.ProviderKey, MaxConns: 2})
	if err != nil {
		return herald.Template{}, err
	}
	defer client.Close()
	senderKey := d.cfg.Send.SenderKey
	if senderKey == "" {
		senderKey = demoTemplate().SenderKey
	}
	res, err := templatesync.Sync(ctx, client, d.store, templatesync.Options{SenderKey: senderKey})
	if err != nil {
		return herald.Template{}, fmt.Errorf("template sync: %w", err)
	}
	d.log.Info("templates synced from the provider", "templates", len(res.Changes))
	tpl, err := d.store.GetTemplate(ctx, demoTemplate().Code)
	if errors.Is(err, herald.ErrNotFound) {
		return d.store.CreateTemplate(ctx, demoTemplate())
	}
	return tpl, err
}

func demoName(i int) string {
	family := []string{"김", "이", "박", "최", "정", "강", "조", "윤", "장", "임"}
	given := []string{"민준", "서연", "도윤", "하은", "시우", "지우", "예준", "서윤", "하준", "지민"}
	return family[i%len(family)] + given[(i/len(family))%len(given)]
}

// withdrawSome withdraws members from the end of the list, which are still
// waiting to be sent: the dispatcher must skip them.
func (d *demo) withdrawSome(ctx context.Context) error {
	for i := range d.cfg.Withdraw {
		id := fmt.Sprintf("member-%07d", d.cfg.Members-1-i)
		if _, err := d.store.WithdrawMember(ctx, id, time.Now().UTC()); err != nil && !errors.Is(err, herald.ErrNotFound) {
			return err
		}
	}
	return nil
}

// printJSON writes v as one JSON line.
func printJSON(w io.Writer, v any) {
	json.NewEncoder(w).Encode(v)
}

// startAPI serves herald's HTTP API (admin, report webhook, metrics) on ln
// and returns how to stop it and how full the report queue is.
func (d *demo) startAPI(ctx context.Context, ln net.Listener, reg *prometheus.Registry) (func(), func() float64, error) {
	api, err := heraldhttp.NewServer(heraldhttp.ServerConfig{
		Store: d.store, AdminTokens: []string{cmp.Or(d.cfg.AdminToken, randomHex(16))}, Logger: d.log, Registry: reg,
	})
	if err != nil {
		return nil, nil, err
	}
	// Zero group-commit settings take the ingest package's defaults.
	stopReports, backlog, _, err := startReports(ctx, reportConfig{Secret: d.cfg.ReportSecret}, false, d.store, d.log, reg, api)
	if err != nil {
		return nil, nil, err
	}
	srv := httpserver.Serve(ln, api.Handler())
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		stopReports(sctx)
	}, backlog, nil
}
