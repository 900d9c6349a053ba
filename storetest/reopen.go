package storetest

import (
	"fmt"
	"testing"

	herald "github.com/heraldhq/herald"
)

// OpenSame returns a function that opens, at each call, one and the same
// database private to t (fresh and empty before the first call), migrating
// it as a process does at start. Stores it opens are closed at cleanup.
type OpenSame func(t *testing.T) func() herald.Store

// RunReopen checks what must survive closing and reopening a database:
// the instance id, and with it the namespace of every message id.
func RunReopen(t *testing.T, openSame OpenSame) {
	t.Run("InstanceIDStable", func(t *testing.T) {
		t.Parallel()
		open := openSame(t)
		first := open()
		id := first.InstanceID()
		if !instanceIDPattern.MatchString(id) {
			t.Fatalf("instance id %q, want 6 of [a-z0-9]", id)
		}
		c := running(t, first, 1)
		r := claim(t, first, c, "w", 1, epoch)[0]
		if err := first.Close(); err != nil {
			t.Fatal(err)
		}
		second := open()
		if got := second.InstanceID(); got != id {
			t.Fatalf("instance id %q after reopen, want %q", got, id)
		}
		if got := reread(t, second, r); got.MessageID != fmt.Sprintf("h%s-%d-%d", id, c.ID, r.ID) {
			t.Fatalf("message id %q after reopen", got.MessageID)
		}
		// A second process on the same database agrees, too.
		if third := open(); third.InstanceID() != id {
			t.Fatalf("instance id %q in a second open, want %q", third.InstanceID(), id)
		}
	})
}
