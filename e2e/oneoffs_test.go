package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/internal/pgtest"
)

// TestOneOffsBesideCampaign: while a campaign runs at the sender key's
// whole limit, one-off messages are posted at 20/s, every tenth one a
// repeat of an earlier Idempotency-Key. At the provider (which counts at
// arrival): every distinct message once, no 1-s window over the limit,
// and the campaign completes. The latency from POST to the recorded
// acceptance is logged (p50/p99) and asserted only with
// HERALD_ONEOFF_ASSERT_P99=1 (bench/oneoffs.sh, full size).
func TestOneOffsBesideCampaign(t *testing.T) {
	t.Parallel()
	oneOffsBesideCampaign(t, 1, "")
}

// TestOneOffsTwoServes is the same with two serve processes on one
// database, the posts going to both in turn: with a shared limit in Redis
// both send and only Redis bounds the sum; without it, the one process
// that leads the sender key sends the other's one-offs too. A repeat of a
// key may land on the other process: still one message.
func TestOneOffsTwoServes(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds and runs processes")
	}
	t.Parallel()
	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		oneOffsBesideCampaign(t, 2, startRedis(t).url())
	})
	t.Run("leader", func(t *testing.T) {
		t.Parallel()
		oneOffsBesideCampaign(t, 2, "")
	})
}

// oneOffsBesideCampaign runs the campaign and the one-offs on serves
// processes sharing one PostgreSQL schema (and Redis at redisURL, if set).
func oneOffsBesideCampaign(t *testing.T, serves int, redisURL string) {
	n, posts, tps := envInt("HERALD_ONEOFF_RECIPIENTS", 2500), envInt("HERALD_ONEOFF_MESSAGES", 200), envInt("HERALD_ONEOFF_TPS", 200)
	headroom := os.Getenv("HERALD_ONEOFF_HEADROOM")
	if headroom == "" {
		headroom = "0.05" // CI shares two cores: see newPacingRun
	}
	mock := freeAddr(t)
	catalog := filepath.Join(t.TempDir(), "templates.json")
	if err := os.WriteFile(catalog, []byte(`[{"code":"E2E","text":"#{name}님, 주문 #{order}번이 발송되었습니다."}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	start(t, mock, "mock-provider", "--listen", mock, "--key", apiKey, "--tps", "1000000", "--log-level", "warn",
		"--reports", "off", "--latency", "30ms", "--latency-spread", "25ms", "--templates", catalog)
	db := pgtest.URL(t)
	var clients []*heraldhttp.Client
	for range serves {
		addr := freeAddr(t)
		args := []string{"serve", "--db", db, "--listen", addr, "--admin-token", adminToken,
			"--provider-url", "http://" + mock, "--provider-key", apiKey, "--tps", strconv.Itoa(tps),
			"--batch-size", "10", "--lease-ttl", "3s", "--log-level", "warn", "--headroom", headroom}
		if redisURL != "" {
			args = append(args, "--redis", redisURL)
		}
		start(t, addr, args...)
		clients = append(clients, heraldhttp.NewClient("http://"+addr, adminToken))
	}
	client := clients[0]
	camp := seed(t, client, n, tps)

	type posted struct {
		id int64
		at time.Time
	}
	var (
		mu       sync.Mutex
		first    = map[string]posted{} // key → the first answer
		replays  int
		mismatch []string
		wg       sync.WaitGroup
	)
	body := func(i int) herald.Message {
		return herald.Message{TemplateCode: "E2E", Phone: fmt.Sprintf("0105%07d", i),
			Variables: map[string]string{"name": fmt.Sprintf("손님%d", i), "order": strconv.Itoa(i)}}
	}
	tick := time.NewTicker(50 * time.Millisecond) // 20 posts a second
	defer tick.Stop()
	for i := range posts {
		<-tick.C
		k := i
		if i%10 == 9 {
			k = i - 5 // a repeat of an earlier key, same request
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			at := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			key := "oneoff-" + strconv.Itoa(k)
			m, replayed, err := clients[i%len(clients)].SendMessage(ctx, key, body(k))
			if err != nil {
				t.Errorf("post %s: %v", key, err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if p, ok := first[key]; ok {
				if p.id != m.ID {
					mismatch = append(mismatch, key)
				}
				replays++
				return
			}
			first[key] = posted{m.ID, at}
			_ = replayed // a repeat may overtake its first post; the ids must match
		}()
	}
	wg.Wait()
	if len(mismatch) > 0 {
		t.Fatalf("keys answered with two messages: %v", mismatch)
	}
	distinct := posts - posts/10
	if len(first) != distinct || replays != posts/10 {
		t.Fatalf("%d distinct keys and %d repeats, want %d and %d", len(first), replays, distinct, posts/10)
	}

	var latencies []time.Duration
	deadline := time.Now().Add(2 * time.Minute)
	for key, p := range first {
		for {
			m, err := client.GetMessage(t.Context(), p.id)
			if err == nil && m.Result.State.Sent() {
				if m.Result.State != herald.RecipientAccepted {
					t.Errorf("%s: %s %s %s", key, m.Result.State, m.Result.ResultCode, m.Result.ResultText)
				}
				latencies = append(latencies, m.Result.UpdatedAt.Sub(p.at))
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s not sent after 2 minutes: %+v %v", key, m.Result, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	c := waitSent(t, client, camp.ID, 5*time.Minute)
	if c.Counts[herald.RecipientAccepted] != n {
		t.Fatalf("campaign: %v", c.Counts)
	}
	stats := readMockStats(t, mock)
	slices.Sort(latencies)
	p := func(q float64) time.Duration { return latencies[min(len(latencies)-1, int(q*float64(len(latencies))))] }
	t.Logf("%d serves, %d recipients at %d TPS and %d one-offs (%d repeats): max 1-s window %d, %d duplicate refs; POST → accepted p50 %s, p99 %s, max %s",
		serves, n, tps, distinct, posts/10, stats.MaxWindow, stats.DuplicateRefs, p(0.5).Round(time.Millisecond), p(0.99).Round(time.Millisecond),
		latencies[len(latencies)-1].Round(time.Millisecond))
	if stats.DuplicateRefs != 0 || stats.UniqueRefs != n+distinct {
		t.Fatalf("provider: %d duplicate refs (%v), %d unique, want %d", stats.DuplicateRefs, stats.DuplicateRefExamples, stats.UniqueRefs, n+distinct)
	}
	if stats.MaxWindow > tps {
		t.Fatalf("provider saw %d recipients in one second, over the limit %d", stats.MaxWindow, tps)
	}
	if os.Getenv("HERALD_ONEOFF_ASSERT_P99") != "" && p(0.99) > 2*time.Second {
		t.Fatalf("p99 from POST to acceptance %s, want ≤ 2s", p(0.99))
	}
}
