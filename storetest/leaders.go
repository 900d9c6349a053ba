package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
)

// The tests below prove sender leadership: one process at a time sends for
// a sender key, a standby takes over a dead leader's key, and a resigned
// key is free at once.

// lead calls LeadSenderKey and checks the leader it returns.
func lead(t *testing.T, s herald.Store, key, owner string, deadBefore time.Time, want string) {
	t.Helper()
	got, err := s.LeadSenderKey(ctx(t), key, owner, deadBefore)
	if err != nil {
		t.Fatalf("lead %s as %s: %v", key, owner, err)
	}
	if got != want {
		t.Fatalf("lead %s as %s: leader %q, want %q", key, owner, got, want)
	}
}

// testLeadSenderKey: the first caller leads and keeps leading while it
// heartbeats; a live standby gets the leader back; once the leader's
// heartbeat is older than deadBefore the standby takes over, and the old
// leader gets the new one back.
func testLeadSenderKey(t *testing.T, s herald.Store) {
	must(0, s.Heartbeat(ctx(t), "a", epoch))(t)
	must(0, s.Heartbeat(ctx(t), "b", epoch))(t)
	dead := epoch.Add(-3 * time.Second)
	lead(t, s, "sk-1", "a", dead, "a")
	lead(t, s, "sk-1", "a", dead, "a") // leading again is leading
	lead(t, s, "sk-1", "b", dead, "a")

	// b heartbeats on, a falls silent: b takes over only once a's last
	// heartbeat is before deadBefore.
	later := epoch.Add(10 * time.Second)
	must(0, s.Heartbeat(ctx(t), "b", later))(t)
	lead(t, s, "sk-1", "b", epoch, "a") // a's heartbeat is exactly deadBefore: alive
	lead(t, s, "sk-1", "b", later.Add(-3*time.Second), "b")
	lead(t, s, "sk-1", "b", later.Add(-3*time.Second), "b")
	// a comes back (a stall, not a death): it must stop, b leads.
	must(0, s.Heartbeat(ctx(t), "a", later))(t)
	lead(t, s, "sk-1", "a", later.Add(-3*time.Second), "b")
	// Even with a deadBefore that finds b dead, a can take over only then.
	lead(t, s, "sk-1", "a", later.Add(time.Second), "a")
	lead(t, s, "sk-1", "b", later.Add(-3*time.Second), "a")
}

// testLeadWithoutHeartbeat: a leader that has no processes row (never
// heartbeat, or forgotten after an hour of silence) is dead.
func testLeadWithoutHeartbeat(t *testing.T, s herald.Store) {
	dead := epoch.Add(-time.Minute)
	lead(t, s, "sk-1", "ghost", dead, "ghost") // no leader yet: it leads
	must(0, s.Heartbeat(ctx(t), "b", epoch))(t)
	lead(t, s, "sk-1", "b", dead, "b") // ghost never heartbeat
	lead(t, s, "sk-1", "ghost", dead, "b")

	// b goes silent for over an hour and is forgotten: even a deadBefore
	// before its last heartbeat finds it dead.
	must(0, s.Heartbeat(ctx(t), "c", epoch.Add(2*time.Hour)))(t)
	lead(t, s, "sk-1", "c", dead, "c")
}

// testResignSenderKey: resigning frees the key at once for a standby whose
// deadBefore still finds the old leader alive; resigning a key one does not
// lead changes nothing.
func testResignSenderKey(t *testing.T, s herald.Store) {
	must(0, s.Heartbeat(ctx(t), "a", epoch))(t)
	must(0, s.Heartbeat(ctx(t), "b", epoch))(t)
	dead := epoch.Add(-time.Minute)
	lead(t, s, "sk-1", "a", dead, "a")
	must(0, s.ResignSenderKey(ctx(t), "sk-1", "b"))(t) // b does not lead: nothing
	must(0, s.ResignSenderKey(ctx(t), "sk-2", "a"))(t) // no leader at all: nothing
	lead(t, s, "sk-1", "b", dead, "a")
	must(0, s.ResignSenderKey(ctx(t), "sk-1", "a"))(t)
	lead(t, s, "sk-1", "b", dead, "b")
	lead(t, s, "sk-1", "a", dead, "b")
	must(0, s.ResignSenderKey(ctx(t), "sk-1", "a"))(t) // a no longer leads
	lead(t, s, "sk-1", "a", dead, "b")
}

// testSenderKeysIndependent: each sender key has its own leader.
func testSenderKeysIndependent(t *testing.T, s herald.Store) {
	must(0, s.Heartbeat(ctx(t), "a", epoch))(t)
	must(0, s.Heartbeat(ctx(t), "b", epoch))(t)
	dead := epoch.Add(-time.Minute)
	lead(t, s, "sk-1", "a", dead, "a")
	lead(t, s, "sk-2", "b", dead, "b")
	lead(t, s, "sk-1", "b", dead, "a")
	lead(t, s, "sk-2", "a", dead, "b")
	must(0, s.ResignSenderKey(ctx(t), "sk-1", "a"))(t)
	lead(t, s, "sk-2", "a", dead, "b") // b still leads sk-2
	lead(t, s, "sk-1", "b", dead, "b")
	// a dies: its keys go, b's stay.
	lead(t, s, "sk-3", "a", dead, "a")
	later := epoch.Add(time.Minute)
	must(0, s.Heartbeat(ctx(t), "b", later))(t)
	must(0, s.Heartbeat(ctx(t), "c", later))(t)
	lead(t, s, "sk-3", "c", later.Add(-time.Second), "c")
	lead(t, s, "sk-1", "c", later.Add(-time.Second), "b")
	lead(t, s, "sk-2", "c", later.Add(-time.Second), "b")
}

// testLeadConcurrent: many live processes racing for free keys, and then
// for keys whose leader died, agree on one leader per key, and only that
// leader ever got itself back.
func testLeadConcurrent(t *testing.T, s herald.Store) {
	const n, rounds = 16, 5
	owners := make([]string, n)
	for i := range owners {
		owners[i] = fmt.Sprintf("p%02d", i)
		must(0, s.Heartbeat(ctx(t), owners[i], epoch))(t)
	}
	race := func(key string, deadBefore time.Time, racers []string) string {
		t.Helper()
		got := make([]string, len(racers))
		errs := make([]error, len(racers))
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, o := range racers {
			wg.Go(func() {
				<-start
				got[i], errs[i] = s.LeadSenderKey(ctx(t), key, o, deadBefore)
			})
		}
		close(start)
		wg.Wait()
		self := 0
		for i, err := range errs {
			if err != nil {
				t.Fatalf("lead %s as %s: %v", key, racers[i], err)
			}
			if got[i] != got[0] {
				t.Fatalf("lead %s: %s got leader %q, %s got %q", key, racers[0], got[0], racers[i], got[i])
			}
			if got[i] == racers[i] {
				self++
			}
		}
		if self != 1 {
			t.Fatalf("lead %s: %d racers got themselves back (leader %q), want exactly 1", key, self, got[0])
		}
		return got[0]
	}
	for r := range rounds {
		key := fmt.Sprint("sk-free-", r)
		leader := race(key, epoch.Add(-time.Minute), owners)
		lead(t, s, key, owners[0], epoch.Add(-time.Minute), leader)
	}

	// The leader of one key dies; the others race to take over.
	key := "sk-takeover"
	now := epoch
	leader := race(key, now.Add(-time.Minute), owners)
	for r := range rounds {
		now = now.Add(time.Minute)
		var alive []string
		for _, o := range owners {
			if o != leader {
				must(0, s.Heartbeat(ctx(t), o, now))(t)
				alive = append(alive, o)
			}
		}
		next := race(key, now.Add(-time.Second), alive)
		if next == leader {
			t.Fatalf("round %d: dead leader %s kept %s", r, leader, key)
		}
		leader = next
	}
}
