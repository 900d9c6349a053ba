package mockprovider

import (
	"time"

	"github.com/heraldhq/herald/infobank"
)

// idemStore remembers, per idempotency key, the destinations accepted under
// it until its TTL ends. At most max keys are kept, the oldest evicted
// first. Guarded by the ledger's mutex.
type idemStore struct {
	max   int
	keys  map[string]*idemEntry
	order []string // insertion order, a queue
}

// idemEntry is one key: its expiry and what it accepted.
type idemEntry struct {
	expires time.Time
	dests   []idemDest
}

type idemDest struct{ to, ref, msgKey string }

func newIdemStore(max int) *idemStore {
	return &idemStore{max: max, keys: make(map[string]*idemEntry)}
}

// get returns the live entry of key, or nil.
func (s *idemStore) get(key string, now time.Time) *idemEntry {
	if key == "" {
		return nil
	}
	e := s.keys[key]
	if e == nil || !now.Before(e.expires) {
		return nil
	}
	return e
}

// put returns the live entry for the request's key, creating it when
// needed; nil when the request has no key.
func (s *idemStore) put(req *infobank.SendRequest, now time.Time) *idemEntry {
	if e := s.get(req.IdempotencyKey, now); e != nil || req.IdempotencyKey == "" {
		return e
	}
	s.evict(now)
	ttl := time.Duration(*req.IdempotencyTTL) * time.Second
	e := &idemEntry{expires: now.Add(ttl)}
	if _, replaced := s.keys[req.IdempotencyKey]; !replaced {
		s.order = append(s.order, req.IdempotencyKey)
	}
	s.keys[req.IdempotencyKey] = e
	return e
}

// evict drops expired keys from the front of the queue, and the oldest
// key when the store is full.
func (s *idemStore) evict(now time.Time) {
	for len(s.order) > 0 {
		k := s.order[0]
		e := s.keys[k]
		if e != nil && now.Before(e.expires) && len(s.keys) < s.max {
			return
		}
		delete(s.keys, k)
		s.order[0] = ""
		s.order = s.order[1:]
	}
}

// lookup returns the msgKey under which d was accepted, or "".
func (e *idemEntry) lookup(d infobank.Destination) string {
	if e == nil {
		return ""
	}
	for _, x := range e.dests {
		if x.to == d.To && x.ref == d.Ref {
			return x.msgKey
		}
	}
	return ""
}

func (e *idemEntry) record(d infobank.Destination, msgKey string) {
	if e != nil {
		e.dests = append(e.dests, idemDest{d.To, d.Ref, msgKey})
	}
}
