package scenario

import (
	"slices"
	"strconv"
	"time"

	"github.com/heraldhq/herald/infobank"
)

// Time formats of the two report shapes (PROVIDER.md §2).
const (
	seedTimeFormat  = "2006-01-02 15:04:05"           // Asia/Seoul wall time
	bizgoTimeFormat = "2006-01-02T15:04:05.000-07:00" // RFC 3339, ms, +09:00
)

// kst is Asia/Seoul, which has kept +09:00 without daylight saving since 1988.
var kst = time.FixedZone("KST", 9*60*60)

// generator is a built-in stand-in for an Artillery processor function: it
// sets variables of one arrival. needs are variables it reads.
type generator struct {
	sets  []string
	needs []string
	run   func(p *Plan, vars map[string]string)
}

// generators are the processor functions herald knows, by name.
var generators = map[string]generator{
	// The seed's processor: a message id and the report time in KST.
	"generateMessageId": {sets: []string{"messageId", "reportTime"}, run: genMessageID},
	// A Bizgo report: ref (herald's message id), a fresh msgKey, send and report times.
	"generateReport": {sets: []string{"ref", "msgKey", "sendTime", "reportTime"}, run: genReport},
	// The provider's signature over the epoch-ms timestamp, with reportSecret.
	"signReport": {sets: []string{"ibTimestamp", "ibSignature"}, needs: []string{"reportSecret"}, run: signReport},
}

// generatorNames lists the built-in functions, sorted.
func generatorNames() []string {
	names := make([]string, 0, len(generators))
	for n := range generators {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func genMessageID(p *Plan, vars map[string]string) {
	vars["messageId"] = p.nextID()
	vars["reportTime"] = p.now().In(kst).Format(seedTimeFormat)
}

func genReport(p *Plan, vars map[string]string) {
	now := p.now().In(kst)
	vars["ref"] = p.nextID()
	vars["msgKey"] = p.newKey()
	vars["sendTime"] = now.Add(-time.Second).Format(bizgoTimeFormat)
	vars["reportTime"] = now.Format(bizgoTimeFormat)
}

func signReport(p *Plan, vars map[string]string) {
	ts := strconv.FormatInt(p.now().UnixMilli(), 10)
	vars["ibTimestamp"] = ts
	vars["ibSignature"] = infobank.Sign([]byte(vars["reportSecret"]), ts)
}
