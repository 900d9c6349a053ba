package reportpoll_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/infobank"
	"github.com/heraldhq/herald/reportpoll"
)

// fakeLeases is a reportpoll.LeaseStore whose leader the test sets.
type fakeLeases struct {
	mu       sync.Mutex
	leader   string
	claims   int
	beats    int
	resigned []string // "key/owner"
}

func (f *fakeLeases) Heartbeat(context.Context, string, time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.beats++
	return nil
}

func (f *fakeLeases) LeadSenderKey(_ context.Context, key, _ string, _ time.Time) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if key == reportpoll.LeaseKey {
		f.claims++
	}
	return f.leader, nil
}

func (f *fakeLeases) ResignSenderKey(_ context.Context, key, owner string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resigned = append(f.resigned, key+"/"+owner)
	return nil
}

func (f *fakeLeases) get(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn()
}

// emptySource hands out no reports and counts its polls.
type emptySource struct{ polls atomic.Int64 }

func (e *emptySource) Poll(context.Context) (infobank.Polled, error) {
	e.polls.Add(1)
	return infobank.Polled{}, nil
}
func (e *emptySource) Ack(context.Context, string) error { return nil }

type noSubmit struct{}

func (noSubmit) Submit(context.Context, herald.Report) error { return nil }

// TestStandbyNeverPolls: while another process holds the lease the poller
// only heartbeats and asks again; once it leads it polls, and when it stops
// it resigns the lease under the poller's own key.
func TestStandbyNeverPolls(t *testing.T) {
	t.Parallel()
	leases := &fakeLeases{leader: "other"}
	src := &emptySource{}
	cfg := fastConfig("me")
	cfg.LeaseTTL = 100 * time.Millisecond // asks again every 20 ms
	p, err := reportpoll.New(cfg, src, noSubmit{}, leases, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	waitFor(t, "three claims of the lease", func() bool {
		n := 0
		leases.get(func() { n = leases.claims })
		return n >= 3
	})
	if n := src.polls.Load(); n != 0 {
		t.Fatalf("polled %d times while another process held the lease", n)
	}
	leases.get(func() { leases.leader = "me" })
	waitFor(t, "a poll once leading", func() bool { return src.polls.Load() > 0 })
	cancel()
	<-done
	leases.get(func() {
		if leases.beats == 0 {
			t.Error("no heartbeat")
		}
		if len(leases.resigned) != 1 || leases.resigned[0] != reportpoll.LeaseKey+"/me" {
			t.Errorf("resigned %v, want the poller's key once", leases.resigned)
		}
	})
}
