package http_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/ingest"
	"github.com/heraldhq/herald/internal/reporttest"
)

// refusedCount reads herald_reports_refused_total{reason}.
func (e *reportEnv) refusedCount(reason string) float64 {
	e.T.Helper()
	return reporttest.Metric(e.T, e.Reg, "herald_reports_refused_total", reason)
}

func (e *reportEnv) stored(msgKey string) int {
	e.T.Helper()
	for s := e.Store; ; {
		if l, ok := s.(interface {
			ReportsByMsgKey(context.Context, string) ([]herald.Report, error)
		}); ok {
			got, err := l.ReportsByMsgKey(context.Background(), msgKey)
			if err != nil {
				e.T.Fatal(err)
			}
			return len(got)
		}
		s = s.(*heldStore).Store
	}
}

// TestReportSignatureBoundToBody: with BindSignature, a signature pair
// replayed with the same body is a retry (200); with another body it is a
// forgery: 401, counted, and the forged report is not stored.
func TestReportSignatureBoundToBody(t *testing.T) {
	t.Parallel()
	e := newReportEnv(t, heraldhttp.ReportConfig{BindSignature: true})
	headers := reporttest.Signed(e.Clock.Now())
	body := reporttest.Bizgo("SIG1", "", "ALIMTALK", "10000", reporttest.Epoch)
	reporttest.WantStatus(t, e.Post(heraldhttp.PathReports, body, headers...), 200)
	reporttest.WantStatus(t, e.Post(heraldhttp.PathReports, body, headers...), 200)
	forged := e.Post(heraldhttp.PathReports, reporttest.Bizgo("SIG-FORGED", "", "ALIMTALK", "10000", reporttest.Epoch), headers...)
	reporttest.WantStatus(t, forged, 401)
	if !strings.Contains(forged.Body, `"code":"unauthorized"`) {
		t.Fatalf("401 body %s", forged.Body)
	}
	if got := e.refusedCount("replayed"); got != 1 {
		t.Fatalf("replayed refusals = %v, want 1", got)
	}
	if e.stored("SIG-FORGED") != 0 || e.stored("SIG1") != 1 {
		t.Fatal("the forged report was stored, or the genuine one not")
	}
	// A fresh signature carries the other body.
	e.Clock.Add(time.Millisecond)
	reporttest.WantStatus(t, e.Post(heraldhttp.PathReports, reporttest.Bizgo("SIG2", "", "ALIMTALK", "10000", reporttest.Epoch)), 200)
	// Without BindSignature the same replay is accepted (the default).
	open := newReportEnv(t, heraldhttp.ReportConfig{})
	reporttest.WantStatus(t, open.Post(heraldhttp.PathReports, body, headers...), 200)
	reporttest.WantStatus(t, open.Post(heraldhttp.PathReports, reporttest.Bizgo("SIG-OTHER", "", "ALIMTALK", "10000", reporttest.Epoch), headers...), 200)
}

func prefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

// TestReportAllowFrom: outside the allow-list is 403 whatever the
// credentials; X-Forwarded-For counts only from a trusted proxy, read from
// the right.
func TestReportAllowFrom(t *testing.T) {
	t.Parallel()
	body := func(k string) []byte { return reporttest.Bizgo(k, "", "ALIMTALK", "10000", reporttest.Epoch) }
	outside := newReportEnv(t, heraldhttp.ReportConfig{AllowFrom: prefixes("10.0.0.0/8")})
	got := outside.Post(heraldhttp.PathReports, body("AF1"))
	reporttest.WantStatus(t, got, 403)
	if !strings.Contains(got.Body, `"code":"forbidden"`) || outside.refusedCount("forbidden") != 1 || outside.stored("AF1") != 0 {
		t.Fatalf("403 %s, counted %v", got.Body, outside.refusedCount("forbidden"))
	}
	// Spoofed X-Forwarded-For from a peer that is not a trusted proxy.
	reporttest.WantStatus(t, outside.Post(heraldhttp.PathReports, body("AF2"), append(reporttest.Signed(reporttest.Epoch), "X-Forwarded-For", "10.1.2.3")...), 403)

	inside := newReportEnv(t, heraldhttp.ReportConfig{AllowFrom: prefixes("127.0.0.0/8", "::1/128")})
	reporttest.WantStatus(t, inside.Post(heraldhttp.PathReports, body("AF3")), 200)

	proxied := newReportEnv(t, heraldhttp.ReportConfig{AllowFrom: prefixes("192.0.2.0/24"),
		TrustedProxies: prefixes("127.0.0.1/32", "::1/128", "10.9.0.0/16")})
	for xff, want := range map[string]int{
		"":                                  403, // the proxy itself is not allowed
		"192.0.2.7":                         200,
		"198.51.100.1":                      403,
		"192.0.2.7, 198.51.100.1":           403, // the hop the proxy saw is outside
		"198.51.100.1, 192.0.2.7":           200, // left of an allowed hop: whatever the client claims
		"198.51.100.1, 192.0.2.7, 10.9.1.1": 200, // through a second trusted proxy
		"not-an-address":                    403,
	} {
		h := reporttest.Signed(reporttest.Epoch)
		if xff != "" {
			h = append(h, "X-Forwarded-For", xff)
		}
		if got := proxied.Post(heraldhttp.PathReports, body("AF-"+xff), h...); got.Status != want {
			t.Errorf("X-Forwarded-For %q: status %d, want %d", xff, got.Status, want)
		}
	}
}

// heldStore holds ApplyReports until release is closed.
type heldStore struct {
	herald.Store
	entered chan struct{}
	release chan struct{}
}

func (h *heldStore) ApplyReports(ctx context.Context, rs []herald.Report, now time.Time) (herald.ReportResult, error) {
	h.entered <- struct{}{}
	<-h.release
	return h.Store.ApplyReports(ctx, rs, now)
}

// TestReportInFlight: past the in-flight bound a request is answered 429
// at once, with Retry-After, and counted.
func TestReportInFlight(t *testing.T) {
	t.Parallel()
	held := &heldStore{entered: make(chan struct{}, 10), release: make(chan struct{})}
	e := newReportEnvWith(t, heraldhttp.ReportConfig{InFlight: 1}, ingest.Config{},
		func(s herald.Store) herald.Store { held.Store = s; return held })
	first := make(chan reporttest.Response, 1)
	go func() {
		first <- e.Post(heraldhttp.PathReports, reporttest.Bizgo("IF1", "", "ALIMTALK", "10000", reporttest.Epoch))
	}()
	select {
	case <-held.entered:
	case <-time.After(30 * time.Second):
		t.Fatal("the first report never reached the store")
	}
	got := e.Post(heraldhttp.PathReports, reporttest.Bizgo("IF2", "", "ALIMTALK", "10000", reporttest.Epoch))
	reporttest.WantStatus(t, got, 429)
	if got.Header.Get("Retry-After") != "1" || !strings.Contains(got.Body, `"code":"busy"`) || e.refusedCount("busy") != 1 {
		t.Fatalf("429 %v %s", got.Header, got.Body)
	}
	close(held.release)
	reporttest.WantStatus(t, <-first, 200)
	reporttest.WantStatus(t, e.Post(heraldhttp.PathReports, reporttest.Bizgo("IF3", "", "ALIMTALK", "10000", reporttest.Epoch)), 200)
}

// TestReportBodyTimeout: a body that stops arriving ends the request
// instead of holding its slot.
func TestReportBodyTimeout(t *testing.T) {
	t.Parallel()
	e := newReportEnv(t, heraldhttp.ReportConfig{BodyTimeout: 100 * time.Millisecond, InFlight: 1})
	c, err := net.Dial("tcp", e.Srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"msgKey\":",
		heraldhttp.PathReports, reporttest.TokenA)
	c.SetReadDeadline(time.Now().Add(30 * time.Second)) // only a bound for a broken test
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer to a stalled body: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("stalled body: status %d, want 400", resp.StatusCode)
	}
	// Its slot is free again.
	reporttest.WantStatus(t, e.Post(heraldhttp.PathReports, reporttest.Bizgo("BT1", "", "ALIMTALK", "10000", reporttest.Epoch)), 200)
}

// TestSlowLoris: connections that trickle their headers, far more than
// honest ones, neither block honest requests (each is cut at the read
// header timeout and they hold slots of the connection limit only), nor
// push the server past its connection limit: a connection past it gets a
// whole 503 at once.
func TestSlowLoris(t *testing.T) {
	t.Parallel()
	// HERALD_SLOWLORIS=1000 for the figure; CI runs 100.
	loris := 100
	if v, err := strconv.Atoi(os.Getenv("HERALD_SLOWLORIS")); err == nil && v > 0 {
		loris = v
	}
	limit := loris + 20
	e := newReportEnv(t, heraldhttp.ReportConfig{})
	srv := httptest.NewUnstartedServer(e.Srv.Config.Handler)
	srv.Config.ReadHeaderTimeout = 500 * time.Millisecond
	srv.Listener = heraldhttp.LimitListener(srv.Listener, limit)
	srv.Start()
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range loris {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\n", heraldhttp.PathReports) // and never the rest
		conns = append(conns, c)
	}
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 4}}
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodPost, "http://"+addr+heraldhttp.PathReports,
				strings.NewReader(string(reporttest.Bizgo(fmt.Sprintf("HONEST%02d", i), "", "ALIMTALK", "10000", reporttest.Epoch))))
			req.Header.Set("Authorization", "Bearer "+reporttest.TokenA)
			resp, err := client.Do(req)
			if err != nil {
				errs <- err
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				errs <- fmt.Errorf("status %d", resp.StatusCode)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("honest request beside %d slow ones: %v", loris, err)
	}
	// Past the limit: 503 at once. Fill it with idle connections first.
	for range limit {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	var over net.Conn
	var status int
	for range limit { // the slow ones are being cut meanwhile: retry until one is refused
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err == nil {
			status = resp.StatusCode
			resp.Body.Close()
			if status == 503 {
				over = c
				if resp.Header.Get("Retry-After") != "1" {
					t.Fatalf("503 without Retry-After: %v", resp.Header)
				}
				break
			}
		}
	}
	if over == nil {
		t.Fatalf("no connection refused past the limit of %d (last status %d)", limit, status)
	}
}
