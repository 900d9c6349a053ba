package mockprovider

import (
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/heraldhq/herald/infobank"
)

func request(n, base int, key string) (*infobank.SendRequest, []int) {
	req := &infobank.SendRequest{IdempotencyKey: key}
	if key != "" {
		ttl := 60
		req.IdempotencyTTL = &ttl
	}
	idx := make([]int, n)
	for i := range n {
		req.Destinations = append(req.Destinations, infobank.Destination{To: fmt.Sprintf("010%08d", base+i), Ref: fmt.Sprint(base + i)})
		idx[i] = i
	}
	return req, idx
}

// TestLedgerWindowIsExact drives the window with a fake clock: the
// trailing second is (now-1s, now], to the nanosecond.
func TestLedgerWindowIsExact(t *testing.T) {
	t.Parallel()
	l := newLedger(10, 60)
	keys := newMsgKeys().make
	t0 := time.Unix(1_000_000, 0)
	steps := []struct {
		at      time.Duration
		n       int
		limited bool
	}{
		{0, 6, false},
		{500 * time.Millisecond, 4, false},   // 10: full
		{999 * time.Millisecond, 1, true},    // still 10
		{time.Second, 6, false},              // the 6 at +0 are exactly 1s old: out
		{1500*time.Millisecond - 1, 1, true}, // 4 + 6 inside
		{1500 * time.Millisecond, 4, false},  // the 4 at +500ms are out
		{2*time.Second - 1, 1, true},         // 6 + 4 inside
		{2 * time.Second, 6, false},          // the 6 at +1s are out
	}
	for i, s := range steps {
		req, idx := request(s.n, i*100, "")
		a := l.admit(req, idx, t0.Add(s.at), keys)
		if a.rateLimited != s.limited {
			t.Fatalf("step %d (+%v, %d): rateLimited = %v", i, s.at, s.n, a.rateLimited)
		}
	}
	var st Stats
	l.snapshot(&st)
	if st.MaxWindow != 10 || st.WindowsOverLimit != 0 || st.Accepted != 26 || st.RefusedRateLimit != 3 {
		t.Errorf("stats = %+v", st)
	}
}

func TestLedgerReplay(t *testing.T) {
	t.Parallel()
	l := newLedger(100, 60)
	keys := newMsgKeys().make
	now := time.Unix(1_000_000, 0)
	req, idx := request(3, 0, "k")
	first := l.admit(req, idx, now, keys)
	// The same key with one more destination: three replays, one new.
	req2, idx2 := request(4, 0, "k")
	again := l.admit(req2, idx2, now.Add(time.Second), keys)
	for i := range 3 {
		if !again.replay[i] || again.msgKeys[i] != first.msgKeys[i] {
			t.Errorf("destination %d: replay %v, msgKey %s vs %s", i, again.replay[i], again.msgKeys[i], first.msgKeys[i])
		}
	}
	if again.replay[3] || again.msgKeys[3] == "" {
		t.Errorf("new destination: replay %v, msgKey %q", again.replay[3], again.msgKeys[3])
	}
	// After the TTL the key is forgotten: a resend is a new delivery.
	late := l.admit(req, idx, now.Add(61*time.Second), keys)
	if late.replay[0] {
		t.Error("replayed after the TTL")
	}
	var st Stats
	l.snapshot(&st)
	if st.Accepted != 7 || st.Replayed != 3 || st.DuplicateRecipients != 3 {
		t.Errorf("stats = %+v", st)
	}
}

func TestIdemStoreBounded(t *testing.T) {
	t.Parallel()
	s := newIdemStore(2)
	now := time.Unix(0, 0)
	for _, k := range []string{"a", "b", "c"} {
		req, _ := request(1, 0, k)
		s.put(req, now)
	}
	if s.get("a", now) != nil || s.get("b", now) == nil || s.get("c", now) == nil || len(s.keys) != 2 {
		t.Errorf("keys = %v", s.keys)
	}
}

func TestMsgKeyShape(t *testing.T) {
	t.Parallel()
	g := newMsgKeys()
	at := time.Date(2026, 11, 25, 1, 30, 0, 123e6, time.UTC)
	shape := regexp.MustCompile(`^20261125103000123[0-9A-Z]{15}$`)
	seen := map[string]bool{}
	for range 1000 {
		k := g.make(at)
		if !shape.MatchString(k) || seen[k] {
			t.Fatalf("msgKey %q: wrong shape or repeated", k)
		}
		seen[k] = true
	}
}

func TestKoreanMobile(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{
		"01012345678": true, "0111234567": true, "01612345678": true, "0101234567": false,
		"010123456789": false, "02123456789": false, "0151234567": false, "010-1234-567": false, "": false,
	} {
		if isKoreanMobile(s) != want {
			t.Errorf("isKoreanMobile(%q) = %v", s, !want)
		}
	}
}
