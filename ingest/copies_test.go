package ingest_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/ingest"
	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/internal/reporttest"
	"github.com/heraldhq/herald/postgres"
)

// TestCopiesAcrossProcesses: two processes on one PostgreSQL schema take
// the same storm of reports at the same time, each in its own order (a
// provider retrying on another connection, a load balancer in front of
// two instances). The hash routing that keeps copies in one committer
// holds only within a process; across them two transactions insert the
// same keys at once. Every answer must be a success (no deadlock, no
// error), every report stored once, every recipient moved once.
func TestCopiesAcrossProcesses(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	open := func() herald.Store {
		s, err := postgres.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b := open(), open()
	const n = 600
	rs := accepted(t, a, n, "X")
	reports := make([]herald.Report, n)
	for i, r := range rs {
		reports[i] = herald.Report{MsgKey: r.MsgKey, Ref: r.MessageID, ServiceType: "ALIMTALK", ReportType: "0",
			Code: herald.ReportDelivered, ReportTime: reporttest.Epoch, Raw: fmt.Appendf(nil, `{"msgKey":%q}`, r.MsgKey)}
	}
	cfg := ingest.Config{Committers: 4, BatchSize: 50}
	ins := []*ingest.Ingest{}
	for _, s := range []herald.Store{a, b} {
		in, _ := startIngest(t, s, cfg)
		ins = append(ins, in)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4*n)
	for p, in := range ins {
		for round := range 2 { // two posters per process, each in an order of its own
			order := rand.New(rand.NewPCG(uint64(p), uint64(round))).Perm(n)
			wg.Go(func() {
				var posts sync.WaitGroup
				sem := make(chan struct{}, 64)
				for _, i := range order {
					sem <- struct{}{}
					posts.Go(func() {
						defer func() { <-sem }()
						errs <- in.Submit(context.Background(), reports[i])
					})
				}
				posts.Wait()
			})
		}
	}
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if err != nil {
			failed++
			if failed == 1 {
				t.Errorf("a report was refused: %v", err)
			}
		}
	}
	if failed > 0 {
		t.Fatalf("%d of %d posts refused", failed, 4*n)
	}
	keys := make([]string, n)
	for i, r := range reports {
		keys[i] = r.MsgKey
	}
	wantStoredOnce(t, a, keys...)
	for _, r := range rs[:20] {
		if got := reread(t, a, r); got.State != herald.RecipientDelivered {
			t.Fatalf("recipient %d is %s, want DELIVERED", r.ID, got.State)
		}
	}
}
