package mockprovider

import "time"

// window counts recipients accepted in the trailing second, exactly: it
// keeps one entry per acceptance (time, recipients) for the last second,
// in time order, and a running sum. Not safe for concurrent use; the
// ledger's mutex guards it, so the check and the commit are one step.
type window struct {
	span    time.Duration
	entries []windowEntry // ring buffer
	head    int           // index of the oldest entry
	n       int           // entries in use
	sum     int           // recipients in the entries
}

type windowEntry struct {
	at    time.Time
	count int
}

func newWindow(span time.Duration) *window {
	return &window{span: span, entries: make([]windowEntry, 64)}
}

// count returns the recipients accepted in (now-span, now].
func (w *window) count(now time.Time) int {
	cut := now.Add(-w.span)
	for w.n > 0 && !w.entries[w.head].at.After(cut) {
		w.sum -= w.entries[w.head].count
		w.head = (w.head + 1) % len(w.entries)
		w.n--
	}
	return w.sum
}

// add records count recipients accepted at now (never earlier than the
// previous call's now) and returns the new count in the trailing span.
func (w *window) add(now time.Time, count int) int {
	w.count(now)
	if w.n == len(w.entries) {
		w.grow()
	}
	w.entries[(w.head+w.n)%len(w.entries)] = windowEntry{at: now, count: count}
	w.n++
	w.sum += count
	return w.sum
}

func (w *window) grow() {
	bigger := make([]windowEntry, 2*len(w.entries))
	for i := 0; i < w.n; i++ {
		bigger[i] = w.entries[(w.head+i)%len(w.entries)]
	}
	w.entries, w.head = bigger, 0
}
