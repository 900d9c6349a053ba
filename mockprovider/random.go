package mockprovider

import (
	"encoding/binary"
	"hash/fnv"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald/infobank"
)

// Report codes the mock produces.
const (
	codeDelivered = "10000"
	codeUncertain = "63005"
	codeMismatch  = "63016"
	codeNotUser   = "63019"
	codeBlocked   = "63020"
)

var reportTexts = map[string]string{
	codeDelivered: "Success",
	codeUncertain: "Sent, receipt unconfirmed",
	codeMismatch:  "Message does not match the template",
	codeNotUser:   "Not a KakaoTalk user",
	codeBlocked:   "User blocked AlimTalk",
}

// resultFor picks the Kakao result of a recipient from a hash of its
// number and the seed, so that a run is reproducible whatever the order
// of sends.
func (c Config) resultFor(number string) string {
	codes := [...]string{codeNotUser, codeBlocked, codeUncertain, codeDelivered}
	return codes[pick(unitHash(c.Seed, number), c.NotUserRate, c.BlockedRate, c.UncertainRate)]
}

// pick returns the index of the bucket u in [0, 1) falls in, buckets
// being consecutive ranges as wide as rates; len(rates) for the rest.
func pick(u float64, rates ...float64) int {
	sum := 0.0
	for i, r := range rates {
		sum += r
		if u < sum {
			return i
		}
	}
	return len(rates)
}

// unitHash maps (seed, s) to [0, 1). FNV-1a alone barely moves its high
// bits when only the last digits differ, as phone numbers do, so the
// splitmix64 finaliser spreads them.
func unitHash(seed uint64, s string) float64 {
	h := fnv.New64a()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], seed)
	h.Write(b[:])
	h.Write([]byte(s))
	x := h.Sum64()
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11) / (1 << 53)
}

// dice is a seeded random source safe for concurrent use, for the rates
// that need no reproducibility per recipient (faults, report loss).
type dice struct {
	mu sync.Mutex
	r  *rand.Rand
}

func newDice(seed uint64) *dice {
	return &dice{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// float returns a number in [0, 1).
func (d *dice) float() float64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.r.Float64()
}

// roll reports true with probability p (no lock taken when p is 0).
func (d *dice) roll(p float64) bool { return p > 0 && d.float() < p }

// msgKeys makes 32-character msgKeys: yyyyMMddHHmmssSSS (Seoul time) and
// 15 uppercase base-36 digits of a counter that starts at random, so keys
// are unique within a run and across restarts in practice.
type msgKeys struct{ next atomic.Uint64 }

func newMsgKeys() *msgKeys {
	g := &msgKeys{}
	g.next.Store(rand.Uint64() >> 1)
	return g
}

const base36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

func (g *msgKeys) make(now time.Time) string {
	var b [32]byte
	ts := now.In(infobank.KST).AppendFormat(b[:0], "20060102150405.000")
	copy(ts[14:], ts[15:]) // drop the dot
	n := g.next.Add(1)
	for i := 31; i >= 17; i-- {
		b[i] = base36[n%36]
		n /= 36
	}
	return string(b[:])
}
