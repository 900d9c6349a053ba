package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
)

const accountReason = "provider refused the account: A401 Unauthorized"

// fakeAdmin serves GET /v1/campaigns and GET /v1/campaigns/7, the campaign
// being whatever next returns on each call.
func fakeAdmin(t *testing.T, next func() herald.Campaign) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/campaigns/7", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(next())
	})
	mux.HandleFunc("GET /v1/campaigns", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		other := herald.Campaign{ID: 6, Name: "quiet", TemplateCode: "T", State: herald.CampaignCompleted, TPS: 1}
		_ = json.NewEncoder(w).Encode(map[string]any{"campaigns": []herald.Campaign{next(), other}})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func campaign(state herald.CampaignState, reason string) herald.Campaign {
	c := herald.Campaign{ID: 7, Name: "spring", TemplateCode: "T", TPS: 10, State: state, Reason: reason,
		StartAt: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)}
	c.SetCounts(map[herald.RecipientState]int{herald.RecipientPending: 3, herald.RecipientAccepted: 2})
	return c
}

// run runs herald with args against srv and returns stdout, stderr and the error.
func run(t *testing.T, srv *httptest.Server, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRootCmd()
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(append(args, "--server", srv.URL, "--token", "test-token-0123456789"))
	err := root.ExecuteContext(t.Context())
	return out.String(), errOut.String(), err
}

func TestCampaignShowAndListReason(t *testing.T) {
	t.Parallel()
	c := campaign(herald.CampaignPaused, accountReason)
	srv := fakeAdmin(t, func() herald.Campaign { return c })
	out, _, err := run(t, srv, "campaigns", "show", "7")
	if err != nil || !strings.Contains(out, "reason") || !strings.Contains(out, accountReason) {
		t.Errorf("show: %v\n%s", err, out)
	}
	out, _, err = run(t, srv, "campaigns", "list")
	if err != nil || !strings.Contains(out, "REASON") || !strings.Contains(out, accountReason) {
		t.Errorf("list: %v\n%s", err, out)
	}
	out, _, err = run(t, srv, "campaigns", "show", "7", "--json")
	if err != nil || !strings.Contains(out, `"reason": "`+accountReason+`"`) {
		t.Errorf("show --json: %v\n%s", err, out)
	}

	c.State, c.Reason = herald.CampaignRunning, ""
	out, _, err = run(t, srv, "campaigns", "show", "7")
	if err != nil || strings.Contains(out, "reason") {
		t.Errorf("show without a reason: %v\n%s", err, out)
	}
	out, _, err = run(t, srv, "campaigns", "list")
	if err != nil || strings.Contains(out, "REASON") {
		t.Errorf("list without a reason: %v\n%s", err, out)
	}
}

// TestWatchStopsOnHalt: watch follows a campaign paused by an operator,
// and stops, with the reason and an error, once herald pauses it with one.
func TestWatchStopsOnHalt(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	states := []herald.Campaign{
		campaign(herald.CampaignRunning, ""),
		campaign(herald.CampaignPaused, ""), // an operator's pause: watch waits
		campaign(herald.CampaignRunning, ""),
		campaign(herald.CampaignPaused, accountReason),
	}
	srv := fakeAdmin(t, func() herald.Campaign {
		return states[min(int(calls.Add(1))-1, len(states)-1)]
	})
	out, _, err := run(t, srv, "campaigns", "watch", "7", "--every", "1ms")
	if err == nil || !strings.Contains(err.Error(), "resume 7") {
		t.Errorf("watch ended with %v, want an error naming the resume", err)
	}
	if calls.Load() != int64(len(states)) {
		t.Errorf("watch polled %d times, want %d", calls.Load(), len(states))
	}
	if !strings.Contains(out, "campaign 7 paused: "+accountReason) {
		t.Errorf("watch output:\n%s", out)
	}
}

func TestWatchFailedShowsReason(t *testing.T) {
	t.Parallel()
	srv := fakeAdmin(t, func() herald.Campaign { return campaign(herald.CampaignFailed, "template T is not approved") })
	out, _, err := run(t, srv, "campaigns", "watch", "7", "--every", "1ms")
	if err != nil || !strings.Contains(out, "campaign 7 failed: template T is not approved") {
		t.Errorf("watch: %v\n%s", err, out)
	}
	srv = fakeAdmin(t, func() herald.Campaign { return campaign(herald.CampaignCompleted, "") })
	out, _, err = run(t, srv, "campaigns", "watch", "7", "--every", "1ms")
	if err != nil || !strings.HasPrefix(out, "campaign 7 completed\n") {
		t.Errorf("watch: %v\n%s", err, out)
	}
}
