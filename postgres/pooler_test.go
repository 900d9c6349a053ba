package postgres_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/postgres"
)

// TestThroughTransactionPooler runs processes' stores through PgBouncer in
// transaction mode (.ci/run starts it), where consecutive statements of
// one client may run on different server connections, a session holds
// nothing and statements are not prepared: four stores open at once on an
// empty database (the migration lock must hold through the pooler), write
// and read JSON-valued rows (a template's buttons, a campaign's audience),
// then all write the same reports in batches of random sizes at once.
// Every report must be stored once, and no advisory lock be left behind.
func TestThroughTransactionPooler(t *testing.T) {
	t.Parallel()
	url, directURL := pgtest.PoolerURL(t)
	const processes, reports = 4, 300
	stores := make([]herald.Store, processes)
	errs := make([]error, processes)
	var wg sync.WaitGroup
	for i := range stores {
		wg.Go(func() { stores[i], errs[i] = postgres.Open(t.Context(), url) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("store %d: %v", i, err)
		}
		t.Cleanup(func() { stores[i].Close() })
	}
	db := direct(t, directURL)
	// The migration lock ends with its transaction. A session lock taken
	// through the pooler could be released on another server connection
	// (or not at all) and stay behind, held by a connection the pooler
	// keeps: every later start would wait for it.
	var held int
	if err := db.QueryRow(t.Context(), `SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
		WHERE l.locktype = 'advisory' AND d.datname = current_database()`).Scan(&held); err != nil {
		t.Fatal(err)
	}
	if held != 0 {
		t.Errorf("%d advisory locks held in the database after %d stores opened through the pooler, want 0", held, processes)
	}
	at := time.Date(2026, 11, 25, 10, 30, 2, 0, time.UTC)

	// Values stored as JSON, written by one process and read by another.
	buttons := []herald.Button{{Type: "WL", Name: "배송조회", URLMobile: "https://example.com/t"}}
	if _, err := stores[0].CreateTemplate(t.Context(), herald.Template{Code: "POOLED", SenderKey: "sk-1",
		Text: "#{name}님, 발송되었습니다.", Status: herald.TemplateApproved, CreatedAt: at, Buttons: buttons}); err != nil {
		t.Fatal(err)
	}
	c := herald.Campaign{Name: "pooled", TemplateCode: "POOLED", TPS: 200, CreatedAt: at,
		Audience: herald.Audience{Attributes: map[string]string{"tier": "gold"}}, Variables: map[string]string{"name": "고객"}}
	if err := c.Validate(at); err != nil {
		t.Fatal(err)
	}
	created, err := stores[1].CreateCampaign(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := stores[2].GetTemplate(t.Context(), "POOLED")
	if err != nil || len(tpl.Buttons) != 1 || tpl.Buttons[0] != buttons[0] {
		t.Errorf("template read through the pooler: %+v, %v; want buttons %+v", tpl.Buttons, err, buttons)
	}
	got, err := stores[3].GetCampaign(t.Context(), created.ID)
	if err != nil || got.Audience.Attributes["tier"] != "gold" || got.Variables["name"] != "고객" {
		t.Errorf("campaign read through the pooler: %+v %+v, %v", got.Audience, got.Variables, err)
	}

	all := make([]herald.Report, reports)
	for i := range all {
		id := fmt.Sprint("pooled-", i)
		all[i] = herald.Report{MsgKey: id, Ref: id, Code: "SUC", ReportTime: at, Raw: []byte(`{"messageId":"` + id + `"}`)}
	}
	for i, s := range stores {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(i), 1))
			for rest := all; len(rest) > 0; {
				n := min(len(rest), 1+rng.IntN(40)) // small batches too (forceGenericPlan)
				if _, err := s.ApplyReports(t.Context(), rest[:n], at); err != nil {
					errs[i] = err
					return
				}
				rest = rest[n:]
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("store %d: %v", i, err)
		}
	}
	var rows, keys int
	if err := db.QueryRow(t.Context(), `SELECT count(*), count(DISTINCT msg_key) FROM reports`).Scan(&rows, &keys); err != nil {
		t.Fatal(err)
	}
	if rows != reports || keys != reports {
		t.Errorf("%d stores wrote the same %d reports: %d rows for %d keys, want each once", processes, reports, rows, keys)
	}
}

// direct connects to the test server itself, past the pooler.
func direct(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}
