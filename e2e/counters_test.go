package e2e

import (
	"maps"
	"time"

	herald "github.com/heraldhq/herald"
)

// states counts the census's rows per state: the full count, row by row.
func (c census) states() map[herald.RecipientState]int {
	out := map[herald.RecipientState]int{}
	for s, groups := range c.groups {
		for _, g := range groups {
			out[s] += g.n
		}
	}
	return out
}

// checkCounters compares the campaign's counters (GET /v1/campaigns/{id},
// kept by the database's triggers) with a count of every row. Reports may
// still move rows during a walk, so a walk counts only when the counters
// read before and after it agree; a few tries find a quiet moment.
func (r *chaosRun) checkCounters() {
	r.t.Helper()
	var before, after herald.Campaign
	var full map[herald.RecipientState]int
	for try := 0; try < 10; try++ {
		var err error
		if before, err = r.campaign(); err != nil {
			continue
		}
		cen := r.census()
		if cen.err != nil {
			continue
		}
		full = cen.states()
		if after, err = r.campaign(); err != nil || !maps.Equal(before.Counts, after.Counts) {
			time.Sleep(500 * time.Millisecond)
			continue
		}
		for _, s := range herald.RecipientStates {
			if after.Counts[s] != full[s] {
				r.t.Errorf("counters %v differ from a count of every row %v", after.Counts, full)
				return
			}
		}
		r.t.Logf("  counters equal a count of every row: %v", full)
		return
	}
	r.t.Errorf("no quiet moment to compare the counters (last %v, then %v) with a count of every row %v", before.Counts, after.Counts, full)
}
