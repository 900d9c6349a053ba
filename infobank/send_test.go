package infobank

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
)

// TestSendWireShape checks the requests the client writes: the raw key,
// one request per distinct text and fallback, keys suffixed per group.
func TestSendWireShape(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var reqs []SendRequest
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "raw-key" || r.URL.Path != PathSend {
			t.Errorf("auth %q, path %q", r.Header.Get("Authorization"), r.URL.Path)
		}
		body, _ := io.ReadAll(r.Body)
		var req SendRequest
		if err := json.Unmarshal(body, &req); err != nil {
			t.Error(err)
		}
		mu.Lock()
		reqs = append(reqs, req)
		mu.Unlock()
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer ts.Close()
	c, err := New(Config{BaseURL: ts.URL, APIKey: "raw-key"})
	if err != nil {
		t.Fatal(err)
	}
	b := herald.SendBatch{
		SenderKey: "SK", TemplateCode: "T", Title: "Title", Ref: "camp", IdempotencyKey: "K",
		Buttons: []herald.Button{{Type: "WL", Name: "Go", URLMobile: "https://x", URLPC: "https://y"}},
		Destinations: []herald.Destination{
			{To: "01000000001", MessageID: "m1", Text: "a", FallbackKind: "SMS", FallbackFrom: "02", FallbackText: "fa"},
			{To: "01000000002", MessageID: "m2", Text: "b", FallbackKind: "LMS", FallbackFrom: "02", FallbackText: "fb"},
			{To: "01000000003", MessageID: "m3", Text: "a", FallbackKind: "SMS", FallbackFrom: "02", FallbackText: "fa"},
		},
	}
	out := c.Send(t.Context(), b)
	if len(out) != 3 || out[2].Kind != herald.InDoubt {
		t.Fatalf("outcomes = %+v", out)
	}
	sort.Slice(reqs, func(i, j int) bool { return len(reqs[i].Destinations) > len(reqs[j].Destinations) })
	if len(reqs) != 2 || !strings.HasPrefix(reqs[0].IdempotencyKey, "K:") || reqs[0].IdempotencyKey == reqs[1].IdempotencyKey {
		t.Fatalf("requests = %+v", reqs)
	}
	a, lms := reqs[0], reqs[1]
	// A resend of only m3 (say it was in doubt) must reuse m3's key.
	reqs = nil
	c.Send(t.Context(), herald.SendBatch{SenderKey: "SK", TemplateCode: "T", IdempotencyKey: "K", Destinations: b.Destinations[2:]})
	if len(reqs) != 1 || reqs[0].IdempotencyKey != a.IdempotencyKey {
		t.Fatalf("resend of a subset used key %q, want %q", reqs[0].IdempotencyKey, a.IdempotencyKey)
	}
	alim := a.MessageFlow[0].Alimtalk
	if len(a.Destinations) != 2 || a.Destinations[1].Ref != "m3" || a.Ref != "camp" || *a.IdempotencyTTL != MaxIdempotencyTTL ||
		alim.MsgType != "AT" || alim.Text != "a" || alim.Title != "Title" || alim.Attachment.Button[0].URLPC != "https://y" ||
		a.MessageFlow[1].SMS.Text != "fa" || lms.MessageFlow[1].MMS.From != "02" {
		t.Errorf("request = %+v", a)
	}
}

func TestTTLSeconds(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]int{0: 86400, time.Hour: 3600, 48 * time.Hour: 86400, 1500 * time.Millisecond: 1} {
		if got := ttlSeconds(d); got != want {
			t.Errorf("ttlSeconds(%v) = %d, want %d", d, got, want)
		}
	}
}

// With sendType "template" the request carries what the spec documents
// for that mode, senderKey and templateCode, and replaceWords for every
// destination (an empty object for a template without variables); the
// provider takes text, title and buttons from the approved template.
func TestProviderRendersWireShape(t *testing.T) {
	t.Parallel()
	b := herald.SendBatch{SenderKey: "SK", TemplateCode: "T", Title: "title", ProviderRenders: true,
		Buttons:        []herald.Button{{Type: "WL", Name: "go", URLMobile: "https://example.com"}},
		IdempotencyKey: "k", Destinations: []herald.Destination{
			{To: "01012345678", MessageID: "m1", Text: "Kim", ReplaceWords: map[string]string{"name": "Kim"}},
			{To: "01012345679", MessageID: "m2", Text: "plain"},
		}}
	req, err := buildRequest(b, []int{0, 1}, "k:t")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(req)
	var got map[string]any
	json.Unmarshal(raw, &got)
	alim := got["messageFlow"].([]any)[0].(map[string]any)["alimtalk"].(map[string]any)
	if len(alim) != 3 || alim["sendType"] != "template" || alim["senderKey"] != "SK" || alim["templateCode"] != "T" {
		t.Fatalf("alimtalk item = %v, want only senderKey, templateCode and sendType", alim)
	}
	dests := got["destinations"].([]any)
	if rw, ok := dests[1].(map[string]any)["replaceWords"].(map[string]any); !ok || len(rw) != 0 {
		t.Fatalf("destination without variables = %v, want replaceWords {}", dests[1])
	}
	if *req.IdempotencyTTL != MaxIdempotencyTTL {
		t.Fatalf("an unset TTL must be sent as the longest, got %d", *req.IdempotencyTTL)
	}
}
