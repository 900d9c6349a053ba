// Package e2e runs the herald binary as separate processes (serve, the mock
// provider) and breaks them the way production does: SIGKILL mid-campaign,
// two processes on one database. It counts every message at the provider.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/mockprovider"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "herald-e2e-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "herald")
	build := []string{"build", "-o", binary}
	if os.Getenv("GOCOVERDIR") != "" {
		// .ci/coverage: every process the tests start writes its coverage
		// there when it exits (not when killed), for go tool covdata.
		build = append(build, "-cover")
	}
	out, err := exec.Command("go", append(build, "../cmd/herald")...).CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build herald: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const (
	adminToken = "e2e-admin-token-0123456789"
	apiKey     = "e2e-provider-key"
	secret     = "e2e-report-secret"
)

// envInt reads a size knob, so CI runs small and a person can run big.
func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// proc is one herald process.
type proc struct {
	t    *testing.T
	args []string
	nice int // niceness it runs at: below 0, ahead of the rest
	cmd  *exec.Cmd
	log  *bytes.Buffer
	addr string
}

func start(t *testing.T, addr string, args ...string) *proc {
	t.Helper()
	return startNice(t, addr, 0, args...)
}

// startNice starts a process at niceness nice (negative needs root).
func startNice(t *testing.T, addr string, nice int, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, args: args, nice: nice, addr: addr}
	p.restart()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		p.cmd.Wait()
		if t.Failed() {
			t.Logf("%s output:\n%s", args[0], tail(p.log.String(), 4000))
		}
	})
	return p
}

func (p *proc) restart() {
	p.t.Helper()
	p.log = &bytes.Buffer{}
	p.cmd = exec.Command(binary, p.args...)
	if p.nice != 0 {
		// Every thread inherits the niceness from nice(1); setpriority on
		// the started pid would reach only its first.
		p.cmd = exec.Command("nice", append([]string{"-n", strconv.Itoa(p.nice), binary}, p.args...)...)
	}
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", p.addr, 100*time.Millisecond); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.t.Fatalf("%s did not listen on %s:\n%s", p.args[0], p.addr, p.log.String())
}

// kill ends the process with SIGKILL: no shutdown, no flush.
func (p *proc) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.cmd.Wait()
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// readMockStats reads the provider's own count.
func readMockStats(t *testing.T, addr string) mockprovider.Stats {
	t.Helper()
	var s mockprovider.Stats
	getJSON(t, "http://"+addr+"/mock/stats", &s)
	return s
}

// seed imports n members and creates one campaign for all of them.
func seed(t *testing.T, client *heraldhttp.Client, n, tps int) herald.Campaign {
	t.Helper()
	ctx := t.Context()
	var csv strings.Builder
	csv.WriteString("id,phone,name,order\n")
	for i := range n {
		fmt.Fprintf(&csv, "m%06d,010%08d,고객%d,%d\n", i, 20_000_000+i, i, 5000+i)
	}
	res, err := client.ImportMembers(ctx, strings.NewReader(csv.String()), "text/csv")
	if err != nil || res.Inserted != n {
		t.Fatalf("import: %+v %v", res, err)
	}
	_, err = client.CreateTemplate(ctx, herald.Template{Code: "E2E", SenderKey: "sk", Status: herald.TemplateApproved,
		Text: "#{name}님, 주문 #{order}번이 발송되었습니다."})
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.CreateCampaign(ctx, herald.Campaign{Name: "e2e", TemplateCode: "E2E", Audience: herald.Audience{All: true}, TPS: tps})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// waitSent waits until no recipient is PENDING, SENDING or RETRY_WAIT.
func waitSent(t *testing.T, client *heraldhttp.Client, id int64, timeout time.Duration) herald.Campaign {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, err := client.GetCampaign(ctx, id)
		cancel()
		if err == nil && c.Total > 0 && c.Counts[herald.RecipientPending]+c.Counts[herald.RecipientSending]+c.Counts[herald.RecipientRetryWait] == 0 {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("campaign not done after %s: %+v (err %v)", timeout, c.Counts, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
