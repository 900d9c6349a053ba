package mockprovider_test

import (
	"context"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/infobank"
	"github.com/heraldhq/herald/mockprovider"
)

// TestStopReleasesHungAnswers: Stop must not wait for a client that waits
// for a hung answer, and sends after Stop are refused, not accepted.
func TestStopReleasesHungAnswers(t *testing.T) {
	t.Parallel()
	m := startMock(t, func(c *mockprovider.Config) { c.HangRate = 1 })
	c := newClient(t, m.url)
	done := make(chan []herald.Outcome)
	go func() { done <- c.Send(context.Background(), batch(1, 0, "x")) }()
	waitFor(t, func() bool { return m.Stats().Hung == 1 })
	stop(t, m.Server)
	select {
	case out := <-done:
		if out[0].Kind != herald.InDoubt {
			t.Errorf("hung send = %+v, want in doubt", out[0])
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Stop did not release the hung answer")
	}
	out := c.Send(t.Context(), batch(1, 1, "x"))
	if out[0].Kind != herald.InDoubt || out[0].Code != infobank.CodeBusy { // a 503: the client cannot tell it took nothing
		t.Errorf("send after stop = %+v", out[0])
	}
	stop(t, m.Server) // a second Stop is harmless
	if st := m.Stats(); st.Accepted != 1 {
		t.Errorf("stats = %+v", st)
	}
}

// waitFor polls cond (for state the test cannot be told about by a channel).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.After(5 * time.Second)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatal("condition not met within 5s")
		}
	}
}

func TestStopWithoutStart(t *testing.T) {
	t.Parallel()
	m, err := mockprovider.New(mockprovider.DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := m.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}
