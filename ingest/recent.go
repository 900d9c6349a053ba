package ingest

// recentKeys remembers the last n keys stored, first in first out: a copy
// of one of them is acknowledged without touching the database. It is one
// committer's, so it needs no lock. A nil *recentKeys remembers nothing.
type recentKeys struct {
	set  map[string]struct{}
	ring []string
	next int
}

func newRecentKeys(n int) *recentKeys {
	if n <= 0 {
		return nil
	}
	return &recentKeys{set: make(map[string]struct{}, n), ring: make([]string, n)}
}

func (r *recentKeys) has(key string) bool {
	if r == nil {
		return false
	}
	_, ok := r.set[key]
	return ok
}

func (r *recentKeys) add(key string) {
	if r == nil {
		return
	}
	if _, ok := r.set[key]; ok {
		return
	}
	if old := r.ring[r.next]; old != "" {
		delete(r.set, old)
	}
	r.ring[r.next] = key
	r.set[key] = struct{}{}
	r.next = (r.next + 1) % len(r.ring)
}
