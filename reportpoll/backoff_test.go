package reportpoll

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/heraldhq/herald/infobank"
)

func TestBackoff(t *testing.T) {
	p := &Poller{cfg: Config{Owner: "x", BackoffMin: time.Second, BackoffMax: 8 * time.Second}.withDefaults()}
	plain := errors.New("connection refused")
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 8 * time.Second, 30: 8 * time.Second} {
		for range 20 {
			if d := p.backoff(n, plain); d < want/2 || d > want {
				t.Fatalf("backoff(%d) = %s, want in [%s, %s]", n, d, want/2, want)
			}
		}
	}
	// A key set to the webhook will not change by itself: the longest wait at once.
	a801 := fmt.Errorf("poll reports: %w", &infobank.APIError{Status: 400, Code: infobank.CodeNoPolling})
	if d := p.backoff(1, a801); d != 8*time.Second {
		t.Fatalf("backoff after A801 = %s, want the maximum", d)
	}
}
