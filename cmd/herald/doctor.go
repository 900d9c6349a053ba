package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/infobank"
	"github.com/heraldhq/herald/templatesync"
)

// doctorConfig is what `herald doctor` takes: the settings serve runs with.
type doctorConfig struct {
	DB          string
	ProviderURL string
	ProviderKey string
	SenderKey   string
	Reports     string
	Secret      string
	Tokens      []string
	PublicURL   string
	Timeout     time.Duration
}

// Check results.
const (
	checkOK   = "ok"
	checkFail = "FAIL"
	checkSkip = "skip"
)

// check is one line of the doctor's table.
type check struct {
	Name   string `json:"check"`
	Result string `json:"result"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

func newDoctorCmd() *cobra.Command {
	var cfg doctorConfig
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check a configuration against the provider before a campaign",
		Long: `Check, against the provider, what serve will need: the API key is accepted
(from this machine's IP), the sender key belongs to the account, every
template an open campaign uses is approved (APR) and byte-identical to
herald's copy, the API key's report method is the one --reports says, and,
for the webhook, a signing secret or token and the public URL Infobank posts
to are set. Prints one line per check with a fix for each failure; exits 1
when any check fails.

Give it the flags (or HERALD_* variables) serve runs with. It polls once to
learn the report method: on a polling key that may hand out a batch early,
which is then handed out again (nothing is acknowledged).`,
		Example: `  herald doctor --db sqlite:herald.db --provider-url https://mars.ibapi.kr --provider-key "$BIZGO_API_KEY" \
    --sender-key "$KAKAO_SENDER_KEY" --reports webhook --report-secret "$WEBHOOK_SECRET" \
    --public-url https://herald.example.com/v1/reports`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd); err != nil {
				return err
			}
			if cfg.ProviderURL == "" || cfg.ProviderKey == "" {
				return herald.Invalid("provider-url", "--provider-url and --provider-key are required: the checks ask the provider")
			}
			checks, err := runDoctor(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			if err := output(cmd, checks, func(w io.Writer) { printChecks(w, checks) }); err != nil {
				return err
			}
			for _, c := range checks {
				if c.Result == checkFail {
					return exitError(1)
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DB, "db", "sqlite:herald.db", "database whose open campaigns' templates to check: sqlite:PATH, postgres://… or mysql://…")
	addProviderAPIFlags(f, &cfg.ProviderURL, &cfg.ProviderKey)
	f.StringVar(&cfg.SenderKey, "sender-key", "", "Kakao sender key serve sends with; empty checks each template's own")
	f.StringVar(&cfg.Reports, "reports", reportsWebhook, "the report method serve runs with: webhook or polling")
	f.StringVar(&cfg.Secret, "report-secret", "", "the webhook signing secret serve runs with (only whether it is set is checked)")
	f.StringSliceVar(&cfg.Tokens, "report-token", nil, "the webhook bearer token(s) serve runs with")
	f.StringVar(&cfg.PublicURL, "public-url", "", "the report URL registered at Infobank, e.g. https://herald.example.com/v1/reports")
	f.DurationVar(&cfg.Timeout, "provider-timeout", infobank.DefaultTimeout, "longest wait for one provider answer")
	f.Bool("json", false, "print the checks as JSON")
	describeEnv(f)
	return leaf(cmd)
}

// runDoctor runs every check; an error means a check could not run at all
// (the database cannot be opened, say).
func runDoctor(ctx context.Context, cfg doctorConfig) ([]check, error) {
	client, err := infobank.New(infobank.Config{BaseURL: cfg.ProviderURL, APIKey: cfg.ProviderKey, Timeout: cfg.Timeout, MaxConns: 2,
		APILimiter: infobank.NewAPILimiter(DefaultAPIRate)})
	if err != nil {
		return nil, err
	}
	defer client.Close()
	store, err := openStore(ctx, cfg.DB)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	d := &doctor{cfg: cfg, client: client, store: store}
	keyOK := d.checkKey(ctx)
	if !keyOK {
		return append(d.checks,
			check{Name: "sender key", Result: checkSkip, Detail: "the API key was refused"},
			check{Name: "templates", Result: checkSkip, Detail: "the API key was refused"},
			check{Name: "report method", Result: checkSkip, Detail: "the API key was refused"},
			d.checkWebhook()), nil
	}
	if err := d.checkTemplates(ctx); err != nil {
		return nil, err
	}
	d.checkReportMethod(ctx)
	d.checks = append(d.checks, d.checkWebhook())
	return d.checks, nil
}

type doctor struct {
	cfg    doctorConfig
	client *infobank.Client
	store  herald.Store
	checks []check
}

func (d *doctor) add(c check) { d.checks = append(d.checks, c) }

// checkKey asks for the reports of a msgKey that cannot exist: any answer
// but a gateway refusal shows the key (and this IP) accepted.
func (d *doctor) checkKey(ctx context.Context) bool {
	_, err := d.client.Inquire(ctx, "herald-doctor-0000000000000000000")
	var apiErr *infobank.APIError
	switch {
	case err == nil, errors.As(err, &apiErr) && apiErr.Status != 401 && apiErr.Status != 403 && apiErr.Status/100 != 5:
		d.add(check{Name: "API key", Result: checkOK, Detail: "accepted by " + d.cfg.ProviderURL})
		return true
	case errors.As(err, &apiErr):
		d.add(check{Name: "API key", Result: checkFail, Detail: err.Error(),
			Fix: "use the key from the Bizgo console (발송관리 > 연동관리) as is, without \"Bearer\", and register this machine's public IP for it"})
	default:
		d.add(check{Name: "API key", Result: checkFail, Detail: err.Error(),
			Fix: "check --provider-url (https://mars.ibapi.kr, sandbox https://sandbox-mars.ibapi.kr) and that this machine can reach it"})
	}
	return false
}

// checkTemplates lists the templates of each sender key in use (checking
// the sender key) and compares every open campaign's template with the
// provider's copy.
func (d *doctor) checkTemplates(ctx context.Context) error {
	used, err := d.usedTemplates(ctx)
	if err != nil {
		return err
	}
	keys := map[string][]herald.Template{}
	for _, t := range used {
		key := d.cfg.SenderKey
		if key == "" {
			key = t.SenderKey
		}
		keys[key] = append(keys[key], t)
	}
	if d.cfg.SenderKey != "" && len(keys) == 0 {
		keys[d.cfg.SenderKey] = nil
	}
	if len(keys) == 0 {
		d.add(check{Name: "sender key", Result: checkSkip, Detail: "no --sender-key and no open campaign", Fix: "give --sender-key to check it"})
		d.add(check{Name: "templates", Result: checkSkip, Detail: "no open campaign uses a template"})
		return nil
	}
	for _, key := range sortedKeys(keys) {
		remote, err := d.client.ListTemplates(ctx, key)
		if err != nil {
			c := check{Name: "sender key " + herald.KeyLabel(key), Result: checkFail, Detail: err.Error()}
			if infobank.ErrorCode(err) == infobank.CodeBadSenderKey {
				c.Fix = "the sender key is not a Kakao sender profile of this account: register the channel's profile with Infobank, or fix --sender-key"
			}
			d.add(c)
			continue
		}
		d.add(check{Name: "sender key " + herald.KeyLabel(key), Result: checkOK, Detail: fmt.Sprintf("%d templates at the provider", len(remote))})
		byCode := map[string]infobank.ProviderTemplate{}
		for _, r := range remote {
			byCode[r.Code] = r
		}
		for _, t := range keys[key] {
			d.add(templateCheck(t, byCode))
		}
	}
	return nil
}

func templateCheck(t herald.Template, byCode map[string]infobank.ProviderTemplate) check {
	name := "template " + t.Code
	r, ok := byCode[t.Code]
	switch {
	case !ok:
		return check{Name: name, Result: checkFail, Detail: "not at the provider for this sender key",
			Fix: "register the template in the Bizgo console and have Kakao inspect it, or fix the code"}
	case r.Inspection != infobank.InspectionApproved:
		return check{Name: name, Result: checkFail, Detail: "inspection state " + r.Inspection + ", not APR",
			Fix: "request inspection (Kakao answers within 2 business days), then run herald templates sync"}
	case r.Blocked || r.Dormant:
		return check{Name: name, Result: checkFail, Detail: "blocked or dormant at the provider",
			Fix: "release it in the Bizgo console (a template unused for a year goes dormant)"}
	}
	provider := r.Template()
	if diff := templatesync.Diff(t, provider); diff != "" {
		return check{Name: name, Result: checkFail, Detail: "differs from the approved copy:\n" + strings.TrimRight(diff, "\n"),
			Fix: "run herald templates sync --replace to take the approved copy"}
	}
	return check{Name: name, Result: checkOK, Detail: "APR, byte-identical to the approved copy"}
}

// usedTemplates are the templates of campaigns not yet finished.
func (d *doctor) usedTemplates(ctx context.Context) ([]herald.Template, error) {
	cs, err := d.store.ListCampaigns(ctx)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []herald.Template
	for _, c := range cs {
		if c.State.Terminal() || seen[c.TemplateCode] {
			continue
		}
		seen[c.TemplateCode] = true
		t, err := d.store.GetTemplate(ctx, c.TemplateCode)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// checkReportMethod polls once: a webhook key answers A801.
func (d *doctor) checkReportMethod(ctx context.Context) {
	_, err := d.client.Poll(ctx)
	method := reportsPolling
	switch {
	case infobank.ErrorCode(err) == infobank.CodeNoPolling:
		method = reportsWebhook
	case err != nil:
		d.add(check{Name: "report method", Result: checkFail, Detail: err.Error(), Fix: "retry; the polling API did not answer"})
		return
	}
	if method == d.cfg.Reports {
		d.add(check{Name: "report method", Result: checkOK, Detail: "the API key takes reports by " + method})
		return
	}
	d.add(check{Name: "report method", Result: checkFail,
		Detail: fmt.Sprintf("the API key takes reports by %s, serve runs with --reports %s", method, d.cfg.Reports),
		Fix:    fmt.Sprintf("run serve with --reports %s, or ask Infobank to set the key to %s (takes about 15 minutes)", method, strings.ToUpper(d.cfg.Reports))})
}

// checkWebhook: with the webhook, a credential and the public URL.
func (d *doctor) checkWebhook() check {
	if d.cfg.Reports != reportsWebhook {
		return check{Name: "webhook", Result: checkSkip, Detail: "reports by polling"}
	}
	var missing []string
	if d.cfg.Secret == "" && len(d.cfg.Tokens) == 0 {
		missing = append(missing, "no --report-secret or --report-token")
	}
	u, err := url.Parse(d.cfg.PublicURL)
	switch {
	case d.cfg.PublicURL == "":
		missing = append(missing, "no --public-url")
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		missing = append(missing, fmt.Sprintf("--public-url %q is not an absolute URL", d.cfg.PublicURL))
	case !slices.Contains([]string{"/v1/reports", "/reception-result"}, strings.TrimRight(u.Path, "/")):
		missing = append(missing, fmt.Sprintf("--public-url path %q is not /v1/reports or /reception-result", u.Path))
	case u.Scheme != "https":
		missing = append(missing, "--public-url is not https (Infobank posts phone numbers)")
	}
	if len(missing) > 0 {
		return check{Name: "webhook", Result: checkFail, Detail: strings.Join(missing, "; "),
			Fix: "ask Infobank for the webhook signing secret (handed over separately) and pass it as --report-secret; register https://<herald>/v1/reports as the report URL and pass it as --public-url"}
	}
	return check{Name: "webhook", Result: checkOK, Detail: "credential set; reports to " + d.cfg.PublicURL}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func printChecks(w io.Writer, checks []check) {
	row(w, "CHECK", "RESULT", "DETAIL", "FIX")
	for _, c := range checks {
		lines := strings.Split(c.Detail, "\n")
		row(w, c.Name, c.Result, lines[0], c.Fix)
		for _, l := range lines[1:] {
			row(w, "", "", l, "")
		}
	}
}
