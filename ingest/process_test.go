package ingest_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/internal/reporttest"
	_ "modernc.org/sqlite" // to read the database file the way an operator would
)

// This file runs the real herald binary, for the crash and overload tests.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildDir  string
)

// heraldBinary builds cmd/herald once per test run.
func heraldBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "herald-bin-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(buildDir, "herald")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/herald")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// process is a running `herald serve`.
type process struct {
	cmd    *exec.Cmd
	addr   string
	mu     sync.Mutex
	stderr bytes.Buffer
	exited chan error
}

var addrRE = regexp.MustCompile(`msg=serving .*addr=(\S+)`)

// serveHerald starts `herald serve` on a free port with the report token
// and waits until it listens. Extra flags follow the defaults.
func serveHerald(t *testing.T, db string, flags ...string) *process {
	t.Helper()
	args := append([]string{"serve", "--db", db, "--listen", "127.0.0.1:0", "--admin-token", reporttest.AdminToken,
		"--report-token", reporttest.TokenA, "--report-secret", reporttest.Secret}, flags...)
	cmd := exec.Command(heraldBinary(t), args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HERALD_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, exited: make(chan error, 1)}
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			p.mu.Lock()
			p.stderr.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if m := addrRE.FindStringSubmatch(sc.Text()); m != nil {
				listening <- m[1]
			}
		}
		io.Copy(io.Discard, pipe)
		p.exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		if t.Failed() {
			t.Logf("herald serve output:\n%s", p.output())
		}
	})
	select {
	case p.addr = <-listening:
		return p
	case err := <-p.exited:
		t.Fatalf("herald serve exited: %v\n%s", err, p.output())
	case <-time.After(2 * time.Minute):
		t.Fatalf("herald serve did not listen\n%s", p.output())
	}
	return nil
}

func (p *process) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// stop sends SIGTERM and waits for a clean exit.
func (p *process) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-p.exited:
		if err != nil {
			t.Fatalf("herald serve: %v\n%s", err, p.output())
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("herald serve did not stop\n%s", p.output())
	}
}

// client is a keep-alive client for many concurrent requests.
func client(conns int) *http.Client {
	return &http.Client{
		Timeout:   20 * time.Second,
		Transport: &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns},
	}
}

// postReport posts a report body to base's /v1/reports with the given
// headers (name, value pairs) and returns the status.
func postReport(ctx context.Context, c *http.Client, base string, body []byte, header ...string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+heraldhttp.PathReports, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// storedKeys reads every stored msgKey from a SQLite file.
func storedKeys(t *testing.T, path string) map[string]bool {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT msg_key FROM reports`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	keys := map[string]bool{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		keys[k] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return keys
}

// missing lists the acknowledged keys that are not stored.
func missing(acked []string, stored map[string]bool) []string {
	var out []string
	for _, k := range acked {
		if !stored[k] {
			out = append(out, k)
		}
	}
	return out
}
