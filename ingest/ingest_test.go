package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/infobank"
	"github.com/heraldhq/herald/ingest"
)

func TestAuth(t *testing.T) {
	t.Parallel()
	e := newEnv(t, newSQLite(t), ingest.Config{})
	now := e.clock.now()
	ms := strconv.FormatInt(now.UnixMilli(), 10)
	cases := []struct {
		name   string
		header []string
		want   int
	}{
		{"no credentials", []string{"X-Nothing", "1"}, 401},
		{"bad token", bearer("report-token-c-0123456789"), 401},
		{"token without scheme", []string{"Authorization", tokenA}, 401},
		{"bad signature", []string{infobank.HeaderTimestamp, ms, infobank.HeaderSignature, infobank.Sign([]byte("other secret"), ms)}, 401},
		{"signature without timestamp", []string{infobank.HeaderSignature, infobank.Sign([]byte(secret), ms)}, 401},
		{"stale timestamp", signed(now.Add(-6 * time.Minute)), 401},
		{"future timestamp", signed(now.Add(6 * time.Minute)), 401},
		{"malformed timestamp", signedWith("12:00", hexUpper), 401},
		{"signature of another timestamp", []string{infobank.HeaderTimestamp, ms, infobank.HeaderSignature, infobank.Sign([]byte(secret), ms+"1")}, 401},
		{"first token", bearer(tokenA), 200},
		{"second token", bearer(tokenB), 200},
		{"lower-case scheme", []string{"Authorization", "bearer " + tokenA}, 200},
		{"hex signature, ms", signed(now), 200},
		{"hex upper-case signature", signedWith(ms, hexUpper), 200},
		{"base64 signature", signedWith(ms, b64), 200},
		{"timestamp in seconds", signedWith(strconv.FormatInt(now.Unix(), 10), b64), 200},
		{"timestamp 4 minutes old", signed(now.Add(-4 * time.Minute)), 200},
		{"bad token, good signature", append(bearer("nope-nope-nope-nope"), signed(now)...), 200},
		{"good token, bad signature", append(bearer(tokenB), infobank.HeaderTimestamp, "x", infobank.HeaderSignature, "y"), 200},
	}
	var unauthorized string
	for i, c := range cases {
		got := e.post(ingest.PathReports, bizgo("AUTH"+strconv.Itoa(i), "", "ALIMTALK", "10000", now), c.header...)
		if got.status != c.want {
			t.Errorf("%s: status %d, want %d (%s)", c.name, got.status, c.want, got.body)
		}
		if got.status == 401 {
			// Every refusal is the same: nothing tells which part was wrong.
			if unauthorized == "" {
				unauthorized = got.body
			}
			if got.body != unauthorized || got.header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s: 401 body %s (first was %s), WWW-Authenticate %q", c.name, got.body, unauthorized,
					got.header.Get("WWW-Authenticate"))
			}
		}
	}
	if !strings.Contains(unauthorized, `"code":"unauthorized"`) {
		t.Fatalf("401 body %s", unauthorized)
	}
}

func TestAuthTokensOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t, newSQLite(t), ingest.Config{Tokens: []string{tokenA}})
	wantStatus(t, e.post(ingest.PathReports, bizgo("T1", "", "ALIMTALK", "10000", testNow), signed(testNow)...), 401)
	wantStatus(t, e.post(ingest.PathReports, bizgo("T1", "", "ALIMTALK", "10000", testNow), bearer(tokenA)...), 200)
}

// errorBody is the JSON error shape of the admin API.
type errorBody struct {
	Error struct {
		Code, Message, Field string
	}
}

func TestValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, newSQLite(t), ingest.Config{})
	valid := string(bizgo("V1", "h1-1", "ALIMTALK", "10000", testNow))
	cases := []struct {
		name, body string
		want       int
		field      string
	}{
		{"not JSON", `{"msgKey": `, 400, "body"},
		{"not an object", `[1,2]`, 400, "body"},
		{"empty", ``, 400, "body"},
		{"missing msgKey", `{"serviceType":"ALIMTALK","reportTime":"2026-11-25T10:30:02.456+09:00","reportType":"0","reportCode":"10000"}`, 400, "msgKey"},
		{"missing reportCode", `{"msgKey":"K","serviceType":"ALIMTALK","reportTime":"2026-11-25T10:30:02.456+09:00","reportType":"0"}`, 400, "reportCode"},
		{"bad reportTime", strings.Replace(valid, `"reportTime":"`, `"reportTime":"yesterday`, 1), 400, "reportTime"},
		{"msgKey not a string", `{"msgKey":12,"serviceType":"ALIMTALK","reportTime":"2026-11-25T10:30:02.456+09:00","reportType":"0","reportCode":"10000"}`, 400, "msgKey"},
		{"NUL in msgKey", strings.Replace(valid, `"msgKey":"V1"`, `"msgKey":"V\u00001"`, 1), 400, "msgKey"},
		{"NUL in text", strings.Replace(valid, `"reportText":"`, `"reportText":"\u0000`, 1), 400, "reportText"},
		{"msgKey too long", strings.Replace(valid, `"msgKey":"V1"`, `"msgKey":"`+strings.Repeat("k", 201)+`"`, 1), 400, "msgKey"},
		{"seed without resultCode", `{"messageId":"h1-1","reportTime":"2024-11-25 11:12:12"}`, 400, "resultCode"},
		{"seed with a control character", `{"messageId":"h1\n1","resultCode":"SUC","reportTime":"2024-11-25 11:12:12"}`, 400, "messageId"},
		{"unknown fields ignored", strings.Replace(valid, `{`, `{"carrier":"SKT","extra":{"a":[1]},`, 1), 200, ""},
		{"long text is cut, not refused", strings.Replace(valid, `"reportText":"`, `"reportText":"`+strings.Repeat("가", 2000), 1), 200, ""},
	}
	for _, c := range cases {
		got := e.post(ingest.PathReports, []byte(c.body))
		if got.status != c.want {
			t.Errorf("%s: status %d, want %d (%s)", c.name, got.status, c.want, got.body)
			continue
		}
		if c.want != 400 {
			continue
		}
		var eb errorBody
		if err := json.Unmarshal([]byte(got.body), &eb); err != nil || eb.Error.Code != "invalid" ||
			eb.Error.Field != c.field || eb.Error.Message == "" {
			t.Errorf("%s: body %s, want code invalid naming field %q", c.name, got.body, c.field)
		}
	}
}

func TestBodyAndMediaType(t *testing.T) {
	t.Parallel()
	e := newEnv(t, newSQLite(t), ingest.Config{})
	body := bizgo("M1", "", "ALIMTALK", "10000", testNow)
	for ct, want := range map[string]int{
		"application/json; charset=utf-8":   200,
		"Application/JSON; charset=UTF-8":   200,
		"text/plain":                        415,
		"application/x-www-form-urlencoded": 415,
		"application/json; charset=latin1":  415,
		"application/json; charset":         415,
	} {
		got := e.post(ingest.PathReports, body, append(bearer(tokenA), "Content-Type", ct)...)
		if got.status != want {
			t.Errorf("Content-Type %q: status %d, want %d", ct, got.status, want)
		}
		if want == 415 && !strings.Contains(got.body, `"code":"unsupported_media_type"`) {
			t.Errorf("Content-Type %q: body %s", ct, got.body)
		}
	}
	// Over 64 KiB: refused by its announced length, and while reading when
	// the length is not announced.
	big := []byte(`{"msgKey":"` + strings.Repeat("x", ingest.MaxBodyBytes) + `"}`)
	got := e.post(ingest.PathReports, big, bearer(tokenA)...)
	wantStatus(t, got, 413)
	if !strings.Contains(got.body, `"code":"too_large"`) {
		t.Fatalf("413 body %s", got.body)
	}
	for _, header := range [][]string{nil, bearer(tokenA)} {
		// A reader without Len makes the client send it chunked.
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+ingest.PathReports, struct{ io.Reader }{bytes.NewReader(big)})
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if want := map[bool]int{true: 413, false: 401}[header != nil]; resp.StatusCode != want {
			t.Fatalf("chunked body: status %d, want %d", resp.StatusCode, want)
		}
	}
}

func TestAnswers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, newSQLite(t), ingest.Config{})
	got := e.post(ingest.PathReports, bizgo(`K"1`, "", "ALIMTALK", "10000", testNow))
	wantStatus(t, got, 200)
	if got.body != `{"msgKey":"K\"1"}` || !strings.HasPrefix(got.header.Get("Content-Type"), "application/json") {
		t.Fatalf("Bizgo answer %s (%s)", got.body, got.header.Get("Content-Type"))
	}
	seed := infobank.EncodeSeedReport(herald.Report{MsgKey: "h1-1", ReportTime: testNow, Code: "10000"})
	for _, path := range []string{ingest.PathReports, ingest.PathSeedReports} {
		got := e.post(path, seed, bearer(tokenA)...)
		wantStatus(t, got, 200)
		if got.body != `{"code":"0000","messageId":"h1-1"}` {
			t.Fatalf("seed answer on %s: %s", path, got.body)
		}
	}
	got = e.post(ingest.PathSeedReports, bizgo("K2", "", "SMS", "10000", testNow))
	if got.status != 200 || got.body != `{"msgKey":"K2"}` {
		t.Fatalf("Bizgo body on the seed path: %d %s", got.status, got.body)
	}
}

// TestReportsApplied drives the report semantics through HTTP on both
// engines: match by ref and by msgKey, replays, out-of-order reports and
// the SMS fallback.
func TestReportsApplied(t *testing.T) {
	t.Parallel()
	for name, open := range engines {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			e := newEnv(t, s, ingest.Config{})
			rs := accepted(t, s, 6, "K")
			at := testNow.Add(-time.Second)
			ok := func(body []byte) {
				t.Helper()
				wantStatus(t, e.post(ingest.PathReports, body), 200)
			}
			state := func(r herald.Recipient, want herald.RecipientState, channel string) {
				t.Helper()
				if got := reread(t, s, r); got.State != want || got.Channel != channel {
					t.Fatalf("recipient %d: %s via %q, want %s via %q", r.ID, got.State, got.Channel, want, channel)
				}
			}
			// By ref, then replayed twice: still one stored report.
			byRef := bizgo("unrelated", rs[0].MessageID, "ALIMTALK", "10000", at)
			for range 3 {
				ok(byRef)
			}
			state(rs[0], herald.RecipientDelivered, "ALIMTALK")
			// By msgKey, with the seed's shape too.
			ok(bizgo(rs[1].MsgKey, "", "ALIMTALK", kakaoFail, at))
			state(rs[1], herald.RecipientFailed, "ALIMTALK")
			ok(infobank.EncodeSeedReport(herald.Report{MsgKey: rs[2].MsgKey, ReportTime: at, Code: "10000"}))
			state(rs[2], herald.RecipientDelivered, "ALIMTALK")
			// Out of order: delivered, then a late failure.
			ok(bizgo(rs[3].MsgKey, rs[3].MessageID, "ALIMTALK", "10000", at.Add(time.Second)))
			ok(bizgo(rs[3].MsgKey, rs[3].MessageID, "ALIMTALK", kakaoFail, at))
			state(rs[3], herald.RecipientDelivered, "ALIMTALK")
			// Fallback: Kakao fails, the SMS arrives; and the reverse order.
			ok(bizgo(rs[4].MsgKey, rs[4].MessageID, "ALIMTALK", kakaoFail, at))
			ok(bizgo(rs[4].MsgKey, rs[4].MessageID, "SMS", "10000", at.Add(time.Second)))
			state(rs[4], herald.RecipientDelivered, "SMS")
			ok(bizgo(rs[5].MsgKey, rs[5].MessageID, "LMS", "10000", at.Add(time.Second)))
			ok(bizgo(rs[5].MsgKey, rs[5].MessageID, "ALIMTALK", kakaoFail, at))
			state(rs[5], herald.RecipientDelivered, "LMS")
			if got := metric(t, e, "herald_reports_committed_total", "unchanged"); got != 4 {
				t.Fatalf("unchanged = %v, want 4 (2 replays, 2 outranked)", got)
			}
		})
	}
}

// TestUnknownLaterMatched: a report may arrive before herald records the
// msgKey it names; it is kept and applied by the sweep once it is known.
func TestUnknownLaterMatched(t *testing.T) {
	t.Parallel()
	for name, open := range engines {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sweeps := &sweepStore{Store: open(t), matched: make(chan int, 100)}
			r := sending(t, sweeps, 1)[0]
			e := newEnv(t, sweeps, ingest.Config{SweepInterval: time.Millisecond})
			wantStatus(t, e.post(ingest.PathReports, bizgo("EARLY", "", "ALIMTALK", "10000", testNow)), 200)
			if got := reread(t, sweeps, r); got.State != herald.RecipientSending {
				t.Fatalf("state %s before the msgKey is known", got.State)
			}
			record(t, sweeps, r, "EARLY")
			e.clock.add(2 * time.Second) // past the first retry delay
			waitFor(t, sweeps.matched, "the sweep to match the report")
			if got := reread(t, sweeps, r); got.State != herald.RecipientDelivered {
				t.Fatalf("state %s after the sweep, want DELIVERED", got.State)
			}
			eventually(t, "the late match counted", func() bool {
				return metric(t, e, "herald_reports_late_matched_total", "") == 1
			})
		})
	}
}

// sweepStore tells when MatchPendingReports matched something.
type sweepStore struct {
	herald.Store
	matched chan int
}

func (s *sweepStore) MatchPendingReports(ctx context.Context, now time.Time, limit int) (int, error) {
	n, err := s.Store.MatchPendingReports(ctx, now, limit)
	if n > 0 {
		s.matched <- n
	}
	return n, err
}

// TestAnswerAfterCommit: no 200 before ApplyReports has returned.
func TestAnswerAfterCommit(t *testing.T) {
	t.Parallel()
	g := newGateStore(newSQLite(t))
	e := newEnv(t, g, ingest.Config{})
	resp := e.async(ingest.PathReports, bizgo("D1", "", "ALIMTALK", "10000", testNow))
	waitFor(t, g.entered, "the batch to reach the store")
	select {
	case r := <-resp:
		t.Fatalf("answered %d before the commit returned", r.status)
	default:
	}
	g.open()
	r := waitFor(t, resp, "the answer")
	wantStatus(t, r, 200)
	if g.returned.Load() != 1 {
		t.Fatalf("answered 200 while ApplyReports had not returned")
	}
}

// TestQueueFull: with the committer held in the store and the queue full,
// the next request is shed at once with 429 and Retry-After; the queued
// ones are committed once the store lets go.
func TestQueueFull(t *testing.T) {
	t.Parallel()
	g := newGateStore(newSQLite(t))
	e := newEnv(t, g, ingest.Config{BatchSize: 1, QueueSize: 2})
	first := e.async(ingest.PathReports, bizgo("Q0", "", "ALIMTALK", "10000", testNow))
	waitFor(t, g.entered, "the first batch to reach the store")
	queued := []<-chan response{
		e.async(ingest.PathReports, bizgo("Q1", "", "ALIMTALK", "10000", testNow)),
		e.async(ingest.PathReports, bizgo("Q2", "", "ALIMTALK", "10000", testNow)),
	}
	eventually(t, "two reports queued", func() bool { return e.in.QueueDepth() == 2 })
	if e.in.QueueCapacity() != 2 {
		t.Fatalf("capacity %d", e.in.QueueCapacity())
	}
	for i := range 3 {
		got := e.post(ingest.PathReports, bizgo("SHED"+strconv.Itoa(i), "", "ALIMTALK", "10000", testNow))
		wantStatus(t, got, 429)
		if got.header.Get("Retry-After") != "1" || !strings.Contains(got.body, `"code":"busy"`) {
			t.Fatalf("429 without Retry-After: 1 or code busy: %v %s", got.header, got.body)
		}
	}
	g.open()
	for _, c := range append(queued, first) {
		wantStatus(t, waitFor(t, c, "a queued report's answer"), 200)
	}
	if got := metric(t, e, "herald_reports_shed_total", ""); got != 3 {
		t.Fatalf("shed = %v, want 3", got)
	}
	if got := metric(t, e, "herald_reports_received_total", ""); got != 3 {
		t.Fatalf("received = %v, want 3", got)
	}
}

func TestStoreError(t *testing.T) {
	t.Parallel()
	g := newGateStore(newSQLite(t))
	g.fail = errors.New("disk on fire")
	g.open()
	e := newEnv(t, g, ingest.Config{})
	got := e.post(ingest.PathReports, bizgo("E1", "", "ALIMTALK", "10000", testNow))
	wantStatus(t, got, 503)
	if got.header.Get("Retry-After") == "" || strings.Contains(got.body, "fire") {
		t.Fatalf("503 %v %s: want Retry-After and no internals", got.header, got.body)
	}
	if got := metric(t, e, "herald_report_commit_errors_total", ""); got != 1 {
		t.Fatalf("commit errors = %v", got)
	}
}

func TestWaitTimeout(t *testing.T) {
	t.Parallel()
	g := newGateStore(newSQLite(t))
	e := newEnv(t, g, ingest.Config{WaitTimeout: 20 * time.Millisecond})
	got := e.post(ingest.PathReports, bizgo("W1", "", "ALIMTALK", "10000", testNow))
	wantStatus(t, got, 503)
	if got.header.Get("Retry-After") != "1" {
		t.Fatalf("503 without Retry-After")
	}
	g.open() // the report is still stored; the provider's retry is a duplicate
}

// TestStopDrains: Stop commits what is queued before it returns, and
// requests after it are refused with 503.
func TestStopDrains(t *testing.T) {
	t.Parallel()
	g := newGateStore(newSQLite(t))
	e := newEnv(t, g, ingest.Config{BatchSize: 1})
	var answers []<-chan response
	for i := range 5 {
		answers = append(answers, e.async(ingest.PathReports, bizgo("S"+strconv.Itoa(i), "", "ALIMTALK", "10000", testNow)))
	}
	waitFor(t, g.entered, "the first batch")
	eventually(t, "four reports queued", func() bool { return e.in.QueueDepth() == 4 })
	stopped := make(chan error, 1)
	go func() { stopped <- e.in.Stop(context.Background()) }()
	eventually(t, "intake closed", func() bool {
		return e.post(ingest.PathReports, bizgo("LATE", "", "ALIMTALK", "10000", testNow)).status == 503
	})
	g.open()
	if err := waitFor(t, stopped, "Stop"); err != nil {
		t.Fatal(err)
	}
	if g.returned.Load() != 5 {
		t.Fatalf("%d reports committed by Stop, want 5", g.returned.Load())
	}
	for _, a := range answers {
		wantStatus(t, waitFor(t, a, "an answer"), 200)
	}
	if err := e.in.Stop(context.Background()); err != nil { // idempotent
		t.Fatal(err)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	ok := ingest.Config{Tokens: []string{tokenA}}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	cases := map[string]ingest.Config{
		"secret":        {},
		"tokens":        {Tokens: []string{"short"}},
		"batchSize":     {Secret: []byte("s"), BatchSize: -1},
		"queueSize":     {Secret: []byte("s"), BatchSize: 100, QueueSize: 10},
		"committers":    {Secret: []byte("s"), Committers: 17},
		"waitTimeout":   {Secret: []byte("s"), WaitTimeout: 5 * time.Second},
		"flushInterval": {Secret: []byte("s"), FlushInterval: -time.Millisecond},
	}
	for field, cfg := range cases {
		var inv *herald.InvalidError
		if err := cfg.Validate(); !errors.As(err, &inv) || inv.Field != field {
			t.Errorf("%+v: error %v, want one naming %s", cfg, err, field)
		}
	}
	if _, err := ingest.New(ingest.Config{}, newSQLite(t), nil, nil); err == nil {
		t.Fatal("New accepted a config without credentials")
	}
}

// TestQueueBytes: big bodies are shed by their size before the queue is
// full, so that memory stays bounded whatever the sender posts.
func TestQueueBytes(t *testing.T) {
	t.Parallel()
	g := newGateStore(newSQLite(t))
	e := newEnv(t, g, ingest.Config{QueueBytes: ingest.MaxBodyBytes})
	big := func(key string) []byte {
		b := bizgo(key, "", "ALIMTALK", kakaoFail, testNow)
		return bytes.Replace(b, []byte(`"reportText":"`), []byte(`"reportText":"`+strings.Repeat("x", 40<<10)), 1)
	}
	first := e.async(ingest.PathReports, big("B1"))
	waitFor(t, g.entered, "the first batch")
	wantStatus(t, e.post(ingest.PathReports, big("B2")), 429)
	g.open()
	wantStatus(t, waitFor(t, first, "the first answer"), 200)
	wantStatus(t, e.post(ingest.PathReports, big("B3")), 200)
}

// TestMetricsExposed: the webhook's metrics are on the admin API's /metrics.
func TestMetricsExposed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, newSQLite(t), ingest.Config{})
	wantStatus(t, e.post(ingest.PathReports, bizgo("MX", "", "ALIMTALK", "10000", testNow)), 200)
	resp, err := e.srv.Client().Get(e.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, want := range []string{"herald_reports_received_total 1", `herald_reports_committed_total{result="unmatched"} 1`,
		"herald_report_queue_depth 0", "herald_report_queue_capacity 10000", "herald_report_batch_size_count 1",
		"herald_report_commit_duration_seconds_count 1", "herald_reports_shed_total 0"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
