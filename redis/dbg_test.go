package redis
import ("context";"testing";"time";"sync";mrand "math/rand/v2")
func TestDbg(t *testing.T) {
	c := testClient(t)
	key := testSenderKey(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	start := time.Now()
	for p := range 2 {
		l := New(testClient(t), key, 300, 0.015, nil)
		for w := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					n := 1 + mrand.IntN(200)
					res, err := l.run(ctx, admitScript, 300, n)
					if err != nil { return }
					t.Logf("%d/%d %v n=%d %v", p, w, time.Since(start).Round(time.Millisecond), n, res[:2])
					if res[0] == 0 { time.Sleep(time.Duration(res[1])*time.Microsecond) }
				}
			}()
		}
	}
	wg.Wait()
}
