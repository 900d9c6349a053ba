package ingest_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/ingest"
	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/internal/reporttest"
	"github.com/heraldhq/herald/postgres"
	"github.com/heraldhq/herald/sqlite"
)

const kakaoFail = "63019"

// engines are the stores every behaviour test runs on.
var engines = map[string]func(testing.TB) herald.Store{
	"sqlite":   newSQLite,
	"postgres": newPostgres,
}

func newSQLite(t testing.TB) herald.Store {
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "herald.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newPostgres(t testing.TB) herald.Store {
	s, err := postgres.Open(context.Background(), pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// newEnv serves s with cfg behind the webhook edge, as herald serve mounts
// it, with the tests' secret and tokens.
func newEnv(t testing.TB, s herald.Store, cfg ingest.Config) *reporttest.Env {
	t.Helper()
	return reporttest.New(t, s, cfg, heraldhttp.ReportConfig{})
}

// accepted seeds a running campaign of n recipients, sent and accepted
// with msgKeys "<prefix><id>".
func accepted(t testing.TB, s herald.Store, n int, prefix string) []herald.Recipient {
	t.Helper()
	rs := sending(t, s, n)
	for i := 0; i < len(rs); i += seedChunk {
		chunk := rs[i:min(len(rs), i+seedChunk)]
		ups := make([]herald.RecipientUpdate, len(chunk))
		for j, r := range chunk {
			chunk[j].MsgKey, chunk[j].State = prefix+strconv.FormatInt(r.ID, 10), herald.RecipientAccepted
			ups[j] = herald.RecipientUpdate{ID: r.ID, Owner: "w", Token: r.ClaimToken, State: herald.RecipientAccepted,
				MsgKey: chunk[j].MsgKey, ResultCode: "A000", At: reporttest.Epoch}
		}
		if err := s.RecordOutcomes(context.Background(), ups); err != nil {
			t.Fatal(err)
		}
	}
	return rs
}

const seedChunk = 5000

// sending seeds a running campaign of n recipients claimed by owner "w",
// in chunks so that n may be large.
func sending(t testing.TB, s herald.Store, n int) []herald.Recipient {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < n; i += seedChunk {
		ms := make([]herald.Member, 0, seedChunk)
		for j := i; j < min(n, i+seedChunk); j++ {
			ms = append(ms, herald.Member{ID: fmt.Sprintf("m%08d", j), Phone: fmt.Sprintf("010%08d", j),
				Status: herald.MemberActive, UpdatedAt: reporttest.Epoch})
		}
		if _, err := s.UpsertMembers(ctx, ms); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.CreateTemplate(ctx, herald.Template{Code: "T", SenderKey: "sk", Text: "hello #{name}",
		Status: herald.TemplateApproved, CreatedAt: reporttest.Epoch}); err != nil {
		t.Fatal(err)
	}
	c, err := s.CreateCampaign(ctx, herald.Campaign{Name: "c", TemplateCode: "T", Audience: herald.Audience{All: true},
		TPS: 100, StartAt: reporttest.Epoch, State: herald.CampaignScheduled, CreatedAt: reporttest.Epoch})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AcquireCampaignLease(ctx, "prep", reporttest.Epoch, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PrepareRecipients(ctx, c.ID, "prep", reporttest.Epoch); err != nil {
		t.Fatal(err)
	}
	out := make([]herald.Recipient, 0, n)
	for len(out) < n {
		rs, err := s.ClaimRecipients(ctx, herald.ClaimParams{CampaignID: c.ID, Limit: seedChunk, Owner: "w",
			Now: reporttest.Epoch, LeaseUntil: reporttest.Epoch.Add(time.Hour)})
		if err != nil || len(rs) == 0 {
			t.Fatalf("claimed %d recipients: %v", len(out), err)
		}
		out = append(out, rs...)
	}
	return out
}

// record records msgKey for a recipient that sending returned, as the
// dispatcher does once the provider accepted it.
func record(t testing.TB, s herald.Store, r herald.Recipient, msgKey string) {
	t.Helper()
	err := s.RecordOutcomes(context.Background(), []herald.RecipientUpdate{{ID: r.ID, Owner: "w", Token: r.ClaimToken,
		State: herald.RecipientAccepted, MsgKey: msgKey, ResultCode: "A000", At: reporttest.Epoch}})
	if err != nil {
		t.Fatal(err)
	}
}

// reread returns the current row of recipient r.
func reread(t testing.TB, s herald.Store, r herald.Recipient) herald.Recipient {
	t.Helper()
	rows, err := s.ListRecipients(context.Background(), r.CampaignID, r.ID-1, 1)
	if err != nil || len(rows) != 1 {
		t.Fatalf("recipient %d: %v %+v", r.ID, err, rows)
	}
	return rows[0]
}

// gateStore blocks ApplyReports until the gate opens, telling entered
// when a call arrives and marking returned before it returns.
type gateStore struct {
	herald.Store
	gate     chan struct{}
	entered  chan int // batch size
	returned atomic.Int64
	fail     error
}

func newGateStore(s herald.Store) *gateStore {
	return &gateStore{Store: s, gate: make(chan struct{}), entered: make(chan int, 100)}
}

func (g *gateStore) ApplyReports(ctx context.Context, rs []herald.Report, now time.Time) (herald.ReportResult, error) {
	g.entered <- len(rs)
	<-g.gate
	res, err := g.Store.ApplyReports(ctx, rs, now)
	if g.fail != nil {
		err = g.fail
	}
	g.returned.Add(int64(len(rs)))
	return res, err
}

// open lets every call through from now on.
func (g *gateStore) open() { close(g.gate) }

func waitFor[T any](t testing.TB, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(reporttest.MaxWait):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// eventually polls cond, which observes a state that is reached by other
// goroutines and then holds (no guess of how long it takes).
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(reporttest.MaxWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
