// Command loris holds slow-loris connections open against a server, for
// bench/webhook-slowloris.sh. Each connection trickles its request one
// byte per -interval, so slowly that the server has to cut it; a cut
// connection is opened again at once, so that the server always faces
// -conns of them. Two kinds, -body-share of them the second:
//
//   - header: the request line and headers, never finished (the server
//     cuts it at its read-header timeout);
//   - body: complete headers with the bearer token, so that the request
//     gets past authentication and holds a report slot, then the body
//     (the server cuts it at its body timeout).
//
// The connections are first opened over -ramp, the two kinds interleaved,
// so that the server's cuts come spread out rather than all at once. It
// prints "ready" once every connection is open, then, on SIGINT or
// SIGTERM, one line of what it held since then: connections open (least,
// mean, most, sampled every 100 ms), how many the server cut and how long
// they had lived, and what it answered before cutting.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// kind is what a connection trickles.
type kind int

const (
	header kind = iota
	body
)

func (k kind) String() string { return [...]string{"header", "body"}[k] }

// loris holds the connections and counts what happens to them.
type loris struct {
	addr, path, token string
	interval          time.Duration

	open     atomic.Int64
	mu       sync.Mutex
	cuts     [2]int
	lived    [2]time.Duration
	answers  map[string]int // first line of what the server wrote before cutting, by kind
	dialErrs int
	lastErr  string
}

func main() {
	l := &loris{answers: map[string]int{}}
	flag.StringVar(&l.addr, "addr", "127.0.0.1:8080", "server HOST:PORT")
	flag.StringVar(&l.path, "path", "/reception-result", "request path")
	flag.StringVar(&l.token, "token", "", "bearer token of the body kind (so that it passes authentication)")
	flag.DurationVar(&l.interval, "interval", time.Second, "pause between two bytes of one connection")
	conns := flag.Int("conns", 1000, "connections held at once")
	bodyShare := flag.Float64("body-share", 0.5, "share of the connections that trickle a body after complete headers")
	ramp := flag.Duration("ramp", 5*time.Second, "time over which the connections are first opened; the server's timeout spreads their cuts as evenly")
	flag.Parse()
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)

	nBody := int(float64(*conns)**bodyShare + 0.5)
	var opened sync.WaitGroup
	for i := range *conns {
		k := header
		if i*nBody/(*conns) != (i+1)*nBody/(*conns) {
			k = body
		}
		opened.Add(1)
		go l.hold(k, &opened)
		time.Sleep(*ramp / time.Duration(*conns))
	}
	opened.Wait()
	fmt.Printf("ready: %d connections open (%d header, %d body)\n", l.open.Load(), *conns-nBody, nBody)

	var samples []int64
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			samples = append(samples, l.open.Load())
			continue
		case <-stop:
		}
		break
	}
	fmt.Println(l.summary(*conns, samples))
}

// hold keeps one connection of kind k open for ever, reopening it when
// the server cuts it; opened is told once the first one is open.
func (l *loris) hold(k kind, opened *sync.WaitGroup) {
	first := true
	for {
		c, err := net.DialTimeout("tcp", l.addr, 10*time.Second)
		if err != nil {
			l.count(func() { l.dialErrs++; l.lastErr = err.Error() })
			time.Sleep(l.interval)
			continue
		}
		l.open.Add(1)
		if first {
			opened.Done()
			first = false
		}
		start := time.Now()
		answer := l.trickle(c, k)
		l.open.Add(-1)
		l.count(func() {
			l.cuts[k]++
			l.lived[k] += time.Since(start)
			l.answers[k.String()+" "+answer]++
		})
	}
}

// trickle writes k's request one byte per interval until the server
// closes the connection or answers; it returns the answer's first line,
// or "closed".
func (l *loris) trickle(c net.Conn, k kind) string {
	defer c.Close()
	answered := make(chan string, 1)
	go func() {
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil && line == "" {
			answered <- "closed"
			return
		}
		answered <- strings.TrimSpace(line)
	}()
	req := "POST " + l.path + " HTTP/1.1\r\nHost: herald\r\nX-Loris: "
	if k == body {
		// Headers at once, then a body that never arrives in time.
		fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: herald\r\nAuthorization: Bearer %s\r\n"+
			"Content-Type: application/json\r\nContent-Length: 4096\r\n\r\n", l.path, l.token)
		req = `{"messageId":"loris","resultCode":"SUC"` + strings.Repeat(" ", 4096)
	}
	// Connections start at different moments within an interval, so that
	// their bytes do not all come at once.
	time.Sleep(rand.N(l.interval))
	tick := time.NewTicker(l.interval)
	defer tick.Stop()
	for i := 0; ; i++ {
		if _, err := c.Write([]byte{req[min(i, len(req)-1)]}); err != nil {
			select {
			case a := <-answered:
				return a
			case <-time.After(time.Second):
				return "closed"
			}
		}
		select {
		case a := <-answered:
			return a
		case <-tick.C:
		}
	}
}

func (l *loris) count(f func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f()
}

// summary is the one line printed at the end.
func (l *loris) summary(conns int, samples []int64) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	least, most, sum := int64(conns), int64(0), int64(0)
	for _, n := range samples {
		least, most, sum = min(least, n), max(most, n), sum+n
	}
	mean := 0.0
	if len(samples) > 0 {
		mean = float64(sum) / float64(len(samples))
	} else {
		least = 0
	}
	var b strings.Builder
	fmt.Fprintf(&b, "loris: %d connections; held open since ready: least %d, mean %.0f, most %d", conns, least, mean, most)
	for _, k := range []kind{header, body} {
		if l.cuts[k] > 0 {
			fmt.Fprintf(&b, "; %s cut by the server %d times after %.1f s on average", k, l.cuts[k],
				(l.lived[k] / time.Duration(l.cuts[k])).Seconds())
		}
	}
	answers := make([]string, 0, len(l.answers))
	for a, n := range l.answers {
		answers = append(answers, fmt.Sprintf("%s ×%d", a, n))
	}
	sort.Strings(answers)
	fmt.Fprintf(&b, "; answers: %s; dial errors %d", strings.Join(answers, ", "), l.dialErrs)
	if l.lastErr != "" {
		fmt.Fprintf(&b, " (last: %s)", l.lastErr)
	}
	return b.String()
}
