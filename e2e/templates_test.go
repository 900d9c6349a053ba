package e2e

import (
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
)

const catalogYAML = `
- code: ORDER
  senderKey: SK
  text: "#{name}님, 주문이 접수되었습니다."
  buttons: [{type: WL, name: 주문 보기, urlMobile: "https://example.com/o"}]
- code: SHIP
  senderKey: SK
  text: "#{name}님, 상품이 발송되었습니다."
  inspectionStatus: REQ
- code: LOCAL
  senderKey: SK
  text: "#{name}님, 감사합니다."
`

// run runs the herald binary and returns its output and exit status.
func run(t *testing.T, args ...string) (string, int) {
	t.Helper()
	out, err := exec.Command(binary, args...).CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &exit):
		return string(out), exit.ExitCode()
	}
	t.Fatalf("%v: %v\n%s", args, err, out)
	return "", -1
}

// TestTemplateSync: templates come from the provider with their inspection
// state; one under inspection (REQ) cannot be sent until Kakao approves it
// (REQ → APR, shown by the next sync); a template registered by hand whose
// text differs from the approved one is refused, with the difference shown,
// until sync --replace takes the approved copy.
func TestTemplateSync(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds and runs processes")
	}
	t.Parallel()
	dir := t.TempDir()
	catalog := filepath.Join(dir, "catalog.yaml")
	if err := os.WriteFile(catalog, []byte(catalogYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	db := "sqlite:" + filepath.Join(dir, "herald.db")
	mockAddr, serveAddr := freeAddr(t), freeAddr(t)
	start(t, mockAddr, "mock-provider", "--listen", mockAddr, "--key", apiKey, "--templates", catalog, "--log-level", "warn")
	start(t, serveAddr, "serve", "--db", db, "--listen", serveAddr, "--admin-token", adminToken, "--log-level", "warn")
	client := heraldhttp.NewClient("http://"+serveAddr, adminToken)
	// A hand-kept copy with a different text than the one Kakao approved.
	if _, err := client.CreateTemplate(t.Context(), herald.Template{Code: "LOCAL", SenderKey: "SK", Status: herald.TemplateApproved,
		Text: "#{name}님 감사합니다."}); err != nil {
		t.Fatal(err)
	}
	sync := []string{"templates", "sync", "--db", db, "--provider-url", "http://" + mockAddr, "--provider-key", apiKey, "--sender-key", "SK"}

	out, code := run(t, sync...)
	t.Logf("first sync (exit %d):\n%s", code, out)
	if code != 1 || !containsAll(out, "ORDER", "added", "SHIP", "LOCAL", "differs", "- #{name}님 감사합니다.", "+ #{name}님, 감사합니다.") {
		t.Fatalf("first sync: exit %d, want 1 with LOCAL's diff", code)
	}
	campaign := func(tpl string) error {
		_, err := client.CreateCampaign(t.Context(), herald.Campaign{Name: tpl, TemplateCode: tpl, Audience: herald.Audience{All: true}, TPS: 10})
		return err
	}
	if err := campaign("ORDER"); err != nil {
		t.Fatalf("campaign on the approved ORDER: %v", err)
	}
	if err := campaign("SHIP"); !isInvalid(err, "draft") {
		t.Fatalf("campaign on SHIP under inspection = %v, want refused", err)
	}
	if err := campaign("LOCAL"); !isInvalid(err, "differs") {
		t.Fatalf("campaign on the differing LOCAL = %v, want refused", err)
	}
	tpl, err := client.GetTemplate(t.Context(), "ORDER")
	if err != nil || tpl.Text != "#{name}님, 주문이 접수되었습니다." || len(tpl.Buttons) != 1 || tpl.Buttons[0].Name != "주문 보기" || tpl.ProviderStatus != "APR" {
		t.Fatalf("ORDER as stored: %+v, %v", tpl, err)
	}

	// Kakao approves SHIP.
	approved := strings.Replace(catalogYAML, "  inspectionStatus: REQ\n", "", 1)
	req, _ := http.NewRequest(http.MethodPut, "http://"+mockAddr+"/mock/templates", strings.NewReader(approved))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("replace the catalog: %v %v", resp, err)
	}
	out, code = run(t, sync...)
	t.Logf("second sync (exit %d):\n%s", code, out)
	if code != 1 || !containsAll(out, "SHIP", "status", "REQ → APR") {
		t.Fatalf("second sync: exit %d, want SHIP REQ → APR (and LOCAL still differing)", code)
	}
	if err := campaign("SHIP"); err != nil {
		t.Fatalf("campaign on SHIP once approved: %v", err)
	}

	out, code = run(t, append(sync, "--replace")...)
	t.Logf("sync --replace (exit %d):\n%s", code, out)
	if code != 0 || !containsAll(out, "LOCAL", "replaced") {
		t.Fatalf("sync --replace: exit %d, want 0 with LOCAL replaced", code)
	}
	if err := campaign("LOCAL"); err != nil {
		t.Fatalf("campaign on LOCAL after --replace: %v", err)
	}
}

// TestDoctor runs herald doctor against a correctly set up mock (every
// check passes) and against one whose account is not set up: the sender
// key is not the account's (A502), and the report method differs.
func TestDoctor(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds and runs processes")
	}
	t.Parallel()
	dir := t.TempDir()
	catalog := filepath.Join(dir, "catalog.yaml")
	if err := os.WriteFile(catalog, []byte(catalogYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	db := "sqlite:" + filepath.Join(dir, "herald.db")
	good, gated := freeAddr(t), freeAddr(t)
	start(t, good, "mock-provider", "--listen", good, "--key", apiKey, "--templates", catalog, "--sender-keys", "SK",
		"--reports", "polling", "--log-level", "warn")
	start(t, gated, "mock-provider", "--listen", gated, "--key", apiKey, "--templates", catalog, "--sender-keys", "OTHER",
		"--report-url", "http://127.0.0.1:1/v1/reports", "--log-level", "warn")
	if out, code := run(t, "templates", "sync", "--db", db, "--provider-url", "http://"+good, "--provider-key", apiKey, "--sender-key", "SK"); code != 0 {
		t.Fatalf("sync: exit %d\n%s", code, out)
	}
	doctor := func(addr string) (string, int) {
		return run(t, "doctor", "--db", db, "--provider-url", "http://"+addr, "--provider-key", apiKey, "--sender-key", "SK",
			"--reports", "polling")
	}
	out, code := doctor(good)
	t.Logf("doctor, good setup (exit %d):\n%s", code, out)
	if code != 0 || strings.Contains(out, "FAIL") {
		t.Fatalf("doctor on a good setup: exit %d", code)
	}
	out, code = doctor(gated)
	t.Logf("doctor, gated account (exit %d):\n%s", code, out)
	if code != 1 || !containsAll(out, "sender key SK", "A502", "not a Kakao sender profile", "report method", "takes reports by webhook", "--reports webhook") {
		t.Fatalf("doctor on a gated account: exit %d, want the sender key and report method to fail with fixes", code)
	}
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

func isInvalid(err error, word string) bool {
	return err != nil && strings.Contains(err.Error(), word)
}

// TestAccountGatingPauses: a provider that refuses the account's setup —
// a sender key not the account's (A502), an unregistered fallback number
// (A327), a template not approved (A505) — pauses the campaign with the
// reason; no recipient is failed for it.
func TestAccountGatingPauses(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds and runs processes")
	}
	t.Parallel()
	cases := []struct {
		name     string
		mockArgs []string
		serve    []string
		code     string
	}{
		{"sender key not owned", []string{"--sender-keys", "OTHER"}, nil, "A502"},
		{"unregistered sender number", []string{"--registered-from", "0212345678"}, []string{"--fallback-from", "0299999999"}, "A327"},
		{"template not approved", []string{"--templates", "INSPECTING"}, nil, "A505"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mockArgs := tc.mockArgs
			if mockArgs[0] == "--templates" {
				catalog := filepath.Join(t.TempDir(), "catalog.yaml")
				os.WriteFile(catalog, []byte("- code: E2E\n  text: \"#{name}님, 주문 #{order}번이 발송되었습니다.\"\n  inspectionStatus: REQ\n"), 0o644)
				mockArgs = []string{"--templates", catalog}
			}
			mockAddr, serveAddr := freeAddr(t), freeAddr(t)
			start(t, mockAddr, append([]string{"mock-provider", "--listen", mockAddr, "--key", apiKey, "--log-level", "warn",
				"--report-url", "http://" + serveAddr + "/v1/reports", "--report-secret", secret}, mockArgs...)...)
			start(t, serveAddr, append([]string{"serve", "--db", "sqlite:" + t.TempDir() + "/herald.db", "--listen", serveAddr,
				"--admin-token", adminToken, "--provider-url", "http://" + mockAddr, "--provider-key", apiKey,
				"--report-secret", secret, "--log-level", "warn"}, tc.serve...)...)
			client := heraldhttp.NewClient("http://"+serveAddr, adminToken)
			camp := seed(t, client, 50, 100)
			deadline := time.Now().Add(time.Minute)
			for {
				c, err := client.GetCampaign(t.Context(), camp.ID)
				if err == nil && c.State == herald.CampaignPaused {
					if !strings.Contains(c.Reason, tc.code) {
						t.Fatalf("paused with reason %q, want %s named", c.Reason, tc.code)
					}
					if c.Counts[herald.RecipientFailed] != 0 || c.Counts[herald.RecipientAccepted] != 0 {
						t.Fatalf("recipients touched by an account refusal: %v", c.Counts)
					}
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("campaign not paused: %+v %v", c, err)
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}
