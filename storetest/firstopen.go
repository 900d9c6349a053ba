package storetest

import (
	"context"
	"regexp"
	"sync"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
)

// ConcurrentFirstOpen starts n stores at once on one empty database, as
// several serves starting together on a new database do: every one must
// migrate (or find the migrations done) and agree on the instance id, and
// a later open finds the same id. open opens the same database each time.
// Not for parallel tests: it opens many connections at once, and must not
// wait behind other tests' migrations either.
func ConcurrentFirstOpen(t *testing.T, n int, open func(ctx context.Context) (herald.Store, error)) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	ids := make([]string, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			s, err := open(ctx)
			if err != nil {
				errs[i] = err
				return
			}
			defer s.Close()
			ids[i] = s.InstanceID()
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("open %d: %v", i, err)
		}
	}
	if t.Failed() {
		return
	}
	if !regexp.MustCompile(`^[0-9a-z]{6}$`).MatchString(ids[0]) {
		t.Fatalf("instance id %q is not 6 lowercase base36 characters", ids[0])
	}
	for i, id := range ids {
		if id != ids[0] {
			t.Fatalf("open %d has instance id %q, open 0 has %q", i, id, ids[0])
		}
	}
	s, err := open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.InstanceID() != ids[0] {
		t.Fatalf("reopened instance id %q, want %q", s.InstanceID(), ids[0])
	}
}
