package mockprovider

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/infobank"
)

// Brown-out phase kinds.
const (
	// PhaseHold accepts each send as usual (reports follow), then holds the
	// answer for Config.HoldAnswer: longer than the client's timeout, the
	// client sees a timeout after its request was written, in doubt.
	PhaseHold = "hold"
	// PhaseRefuse shuts the address: connections are refused (ECONNREFUSED)
	// and the open ones closed; it listens again when the phase ends.
	// The /mock/ endpoints are unreachable too. It needs the Listener
	// handed to Server.Attach; without one, sends are dropped without an
	// answer before anything is accepted.
	PhaseRefuse = "refuse"
	// Phase429 answers every send HTTP 429 A020, accepting nothing.
	Phase429 = "429"
	// PhaseOK is normal service, a pause between two faults.
	PhaseOK = "ok"
)

// Where a configured schedule's BrownoutAfter counts from.
const (
	BrownoutFromFirstSend = "first-send" // the first send that accepted anyone
	BrownoutFromStart     = "start"      // Server.Start
)

// Phase is one step of a brown-out schedule.
type Phase struct {
	Kind     string
	Duration time.Duration
}

// ParseBrownout reads a schedule such as "hold=15s,refuse=10s,429=10s":
// phases run in order, each for its duration. An empty spec is no
// schedule. Errors name the flag, brownout.
func ParseBrownout(spec string) ([]Phase, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" || spec == "off" {
		return nil, nil
	}
	var phases []Phase
	for i, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		kind, dur, ok := strings.Cut(item, "=")
		if !ok {
			return nil, herald.Invalid("brownout", "phase %d %q: want KIND=DURATION, e.g. hold=15s,refuse=10s,429=10s", i+1, item)
		}
		d, err := time.ParseDuration(strings.TrimSpace(dur))
		if err != nil {
			return nil, herald.Invalid("brownout", "phase %d %q: bad duration %q (want e.g. 10s or 1m30s)", i+1, item, strings.TrimSpace(dur))
		}
		p := Phase{Kind: strings.ToLower(strings.TrimSpace(kind)), Duration: d}
		if err := p.check(); err != nil {
			return nil, herald.Invalid("brownout", "phase %d %q: %v", i+1, item, err)
		}
		phases = append(phases, p)
	}
	return phases, nil
}

// FormatBrownout is the inverse of ParseBrownout.
func FormatBrownout(phases []Phase) string {
	parts := make([]string, len(phases))
	for i, p := range phases {
		parts[i] = p.Kind + "=" + p.Duration.String()
	}
	return strings.Join(parts, ",")
}

func (p Phase) check() error {
	switch p.Kind {
	case PhaseHold, PhaseRefuse, Phase429, PhaseOK:
	default:
		return fmt.Errorf("unknown kind %q: want %s, %s, %s or %s", p.Kind, PhaseHold, PhaseRefuse, Phase429, PhaseOK)
	}
	if p.Duration <= 0 {
		return fmt.Errorf("the duration must be positive, not %s", p.Duration)
	}
	return nil
}

func checkBrownout(c Config) error {
	hold := false
	for i, p := range c.Brownout {
		if err := p.check(); err != nil {
			return herald.Invalid("brownout", "phase %d: %v", i+1, err)
		}
		hold = hold || p.Kind == PhaseHold
	}
	switch {
	case c.BrownoutAfter < 0:
		return herald.Invalid("brownoutAfter", "must not be negative")
	case c.BrownoutFrom != "" && c.BrownoutFrom != BrownoutFromFirstSend && c.BrownoutFrom != BrownoutFromStart:
		return herald.Invalid("brownoutFrom", "must be %q or %q, not %q", BrownoutFromFirstSend, BrownoutFromStart, c.BrownoutFrom)
	case c.HoldAnswer < 0:
		return herald.Invalid("holdAnswer", "must not be negative")
	case hold && c.HoldAnswer == 0:
		return herald.Invalid("holdAnswer", "must be positive with a %s phase", PhaseHold)
	}
	return nil
}

// Brown-out schedule states, in BrownoutStats.State.
const (
	brownWaiting   = "waiting"   // for its trigger and BrownoutAfter
	brownRunning   = "running"   // a phase is on
	brownDone      = "done"      // every phase ran
	brownCancelled = "cancelled" // replaced, turned off, or the mock stopped
)

// BrownoutStats is the brown-out part of Stats.
type BrownoutStats struct {
	State string `json:"state"`
	// Phase is the kind of the phase on now, "" when none.
	Phase string `json:"phase"`
	// PhaseIndex is its index in Phases, -1 when none.
	PhaseIndex int    `json:"phase_index"`
	Schedule   string `json:"schedule"`
	HoldAnswer string `json:"hold_answer"`
	// Listener says whether refuse phases really shut the address.
	Listener bool         `json:"listener"`
	Phases   []PhaseStats `json:"phases"`
}

// PhaseStats counts what one phase did. Recipient counts are destinations.
type PhaseStats struct {
	Kind     string     `json:"kind"`
	Duration string     `json:"duration"`
	Started  *time.Time `json:"started,omitempty"`
	Ended    *time.Time `json:"ended,omitempty"`
	// Requests counts send requests that reached the handler in the phase.
	Requests int64 `json:"requests"`
	// Accepted counts recipients accepted in the phase (hold and ok).
	Accepted int64 `json:"accepted"`
	// Held counts answers held; HeldAbandoned those whose client left
	// before the answer (a timeout at the client: in doubt).
	Held          int64 `json:"held"`
	HeldAbandoned int64 `json:"held_abandoned"`
	// RateLimited counts recipients answered 429 A020 by a 429 phase.
	RateLimited int64 `json:"rate_limited"`
	// ConnsClosed counts connections closed when a refuse phase began;
	// Dropped counts requests dropped unanswered in it (those that got in
	// before the address shut, or every one without a Listener).
	ConnsClosed int64 `json:"conns_closed"`
	Dropped     int64 `json:"dropped"`
}

// brownout is the server's fault schedule: at most one runs at a time.
type brownout struct {
	startMu sync.Mutex // serialises StartBrownout
	ln      atomic.Pointer[Listener]
	run     atomic.Pointer[schedule]
	warn    sync.Once
}

// schedule is one run of phases.
type schedule struct {
	phases []*phaseRun
	hold   time.Duration
	cur    atomic.Int32 // index of the phase on; -1 before, len(phases) after
	state  atomic.Value // string
	cancel chan struct{}
	once   sync.Once
	begun  chan struct{} // closed once the first phase is on (or the run ended)
	begin  sync.Once
	done   chan struct{}
}

// phaseRun is a phase with its counters.
type phaseRun struct {
	Phase
	started, ended                                                       atomic.Int64 // Unix ns, 0 until then
	requests, accepted, held, heldAbandoned, rateLimited, conns, dropped atomic.Int64
}

func newSchedule(phases []Phase, hold time.Duration) *schedule {
	sc := &schedule{hold: hold, cancel: make(chan struct{}), begun: make(chan struct{}), done: make(chan struct{})}
	for _, p := range phases {
		sc.phases = append(sc.phases, &phaseRun{Phase: p})
	}
	sc.cur.Store(-1)
	sc.state.Store(brownWaiting)
	return sc
}

func (sc *schedule) stop() {
	sc.once.Do(func() { close(sc.cancel) })
	<-sc.done
}

// current is the phase on now, nil when none.
func (sc *schedule) current() *phaseRun {
	if sc == nil {
		return nil
	}
	i := int(sc.cur.Load())
	if i < 0 || i >= len(sc.phases) {
		return nil
	}
	return sc.phases[i]
}

// Attach hands the mock the listener its HTTP server serves on, so that
// refuse phases can shut the address.
func (s *Server) Attach(l *Listener) { s.brown.ln.Store(l) }

// StartBrownout replaces any running schedule with phases, starting now;
// hold overrides Config.HoldAnswer when positive. No phases turns the
// brown-out off.
func (s *Server) StartBrownout(phases []Phase, hold time.Duration) error {
	if hold <= 0 {
		hold = s.cfg.HoldAnswer
	}
	for i, p := range phases {
		if err := p.check(); err != nil {
			return herald.Invalid("brownout", "phase %d: %v", i+1, err)
		}
		if p.Kind == PhaseHold && hold <= 0 {
			return herald.Invalid("holdAnswer", "must be positive with a %s phase", PhaseHold)
		}
	}
	select {
	case <-s.stopping:
		return fmt.Errorf("mock provider: stopping")
	default:
	}
	s.brown.startMu.Lock()
	defer s.brown.startMu.Unlock()
	if old := s.brown.run.Load(); old != nil {
		old.stop() // its refuse phase, if on, listens again first
	}
	if len(phases) == 0 {
		s.brown.run.Store(nil)
		return nil
	}
	sc := newSchedule(phases, hold)
	s.brown.run.Store(sc)
	go s.runSchedule(sc, nil, 0)
	<-sc.begun // so that the caller sees the first phase on
	return nil
}

// startConfigured launches the schedule of the Config, from Start.
func (s *Server) startConfigured() {
	if len(s.cfg.Brownout) == 0 {
		return
	}
	s.brown.startMu.Lock()
	defer s.brown.startMu.Unlock()
	sc := newSchedule(s.cfg.Brownout, s.cfg.HoldAnswer)
	s.brown.run.Store(sc)
	var trigger <-chan struct{}
	if s.cfg.BrownoutFrom != BrownoutFromStart {
		trigger = s.firstAccept
	}
	go s.runSchedule(sc, trigger, s.cfg.BrownoutAfter)
}

// stopBrownout ends the schedule (from Stop); the address is listened on
// again if a refuse phase had shut it.
func (s *Server) stopBrownout() {
	s.brown.startMu.Lock()
	defer s.brown.startMu.Unlock()
	if sc := s.brown.run.Load(); sc != nil {
		sc.stop()
	}
}

func (s *Server) currentPhase() *phaseRun { return s.brown.run.Load().current() }

func (s *Server) listener() *Listener { return s.brown.ln.Load() }

// runSchedule waits for trigger (nil: none) and after, then plays each
// phase in turn.
func (s *Server) runSchedule(sc *schedule, trigger <-chan struct{}, after time.Duration) {
	defer close(sc.done)
	defer sc.begin.Do(func() { close(sc.begun) })
	state := brownCancelled
	defer func() { sc.state.Store(state) }()
	select {
	case <-sc.cancel:
		return
	default:
	}
	if trigger != nil {
		select {
		case <-trigger:
		case <-sc.cancel:
			return
		case <-s.stopping:
			return
		}
	}
	if !sc.sleep(s, after) {
		return
	}
	sc.state.Store(brownRunning)
	for i, p := range sc.phases {
		p.started.Store(time.Now().UnixNano())
		sc.cur.Store(int32(i))
		s.log.Info("brownout phase", "kind", p.Kind, "for", p.Duration, "phase", i+1, "of", len(sc.phases))
		if p.Kind == PhaseRefuse {
			s.shut(p)
		}
		sc.begin.Do(func() { close(sc.begun) })
		ok := sc.sleep(s, p.Duration)
		if p.Kind == PhaseRefuse {
			s.reopen()
		}
		p.ended.Store(time.Now().UnixNano())
		if !ok {
			sc.cur.Store(int32(len(sc.phases)))
			return
		}
	}
	sc.cur.Store(int32(len(sc.phases)))
	s.log.Info("brownout over", "phases", len(sc.phases))
	state = brownDone
}

// sleep waits d; false when the schedule is cancelled or the mock stops.
func (sc *schedule) sleep(s *Server, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-sc.cancel:
	case <-s.stopping:
	}
	return false
}

// shut takes the listener down for a refuse phase.
func (s *Server) shut(p *phaseRun) {
	ln := s.listener()
	if ln == nil {
		s.brown.warn.Do(func() {
			s.log.Warn("refuse phase without a Listener: sends are dropped, connections are not refused")
		})
		return
	}
	n, err := ln.Down()
	p.conns.Add(int64(n))
	if err != nil {
		s.log.Warn("refuse phase: close listener", "err", err)
	}
}

func (s *Server) reopen() {
	ln := s.listener()
	if ln == nil {
		return
	}
	// Another process may hold the port for a moment; keep trying.
	for attempt := 0; ; attempt++ {
		err := ln.Up()
		if err == nil {
			return
		}
		if attempt == 50 {
			s.log.Error("refuse phase: listen again", "err", err)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// brownoutSend plays the phase p on a valid send before acceptance; true
// when it answered (or dropped) the request.
func (s *Server) brownoutSend(w http.ResponseWriter, p *phaseRun, recipients int, ref string) bool {
	if p == nil {
		return false
	}
	p.requests.Add(1)
	switch p.Kind {
	case PhaseRefuse:
		p.dropped.Add(1)
		panic(http.ErrAbortHandler)
	case Phase429:
		p.rateLimited.Add(int64(recipients))
		w.Header().Set("Retry-After", "1")
		s.writeError(w, http.StatusTooManyRequests, infobank.CodeRateLimited, "Too many recipients per second", ref)
		return true
	}
	return false
}

// holdAnswer holds an accepted request's answer in a hold phase; false
// when the client left first.
func (s *Server) holdAnswer(r *http.Request, p *phaseRun) bool {
	if p == nil || p.Kind != PhaseHold {
		return true
	}
	p.held.Add(1)
	hold := s.cfg.HoldAnswer
	if sc := s.brown.run.Load(); sc != nil && sc.hold > 0 {
		hold = sc.hold
	}
	if !s.pause(r, hold) {
		p.heldAbandoned.Add(1)
		return false
	}
	return true
}

// brownoutStats is the snapshot for Stats; nil without any schedule.
func (s *Server) brownoutStats() *BrownoutStats {
	sc, ln := s.brown.run.Load(), s.brown.ln.Load()
	if sc == nil {
		return nil
	}
	st := &BrownoutStats{
		State: sc.state.Load().(string), PhaseIndex: -1, HoldAnswer: sc.hold.String(), Listener: ln != nil,
		Phases: make([]PhaseStats, len(sc.phases)),
	}
	spec := make([]Phase, len(sc.phases))
	for i, p := range sc.phases {
		spec[i] = p.Phase
		st.Phases[i] = PhaseStats{
			Kind: p.Kind, Duration: p.Duration.String(), Started: unixTime(p.started.Load()), Ended: unixTime(p.ended.Load()),
			Requests: p.requests.Load(), Accepted: p.accepted.Load(), Held: p.held.Load(), HeldAbandoned: p.heldAbandoned.Load(),
			RateLimited: p.rateLimited.Load(), ConnsClosed: p.conns.Load(), Dropped: p.dropped.Load(),
		}
	}
	st.Schedule = FormatBrownout(spec)
	if p := sc.current(); p != nil {
		st.Phase, st.PhaseIndex = p.Kind, int(sc.cur.Load())
	}
	return st
}

func unixTime(ns int64) *time.Time {
	if ns == 0 {
		return nil
	}
	t := time.Unix(0, ns)
	return &t
}

// handleBrownout serves POST /mock/brownout: the body is a schedule as
// for --brownout ("hold=15s,refuse=10s,429=10s"; empty or "off" turns it
// off), starting now; ?hold-answer=15s overrides the hold.
func (s *Server) handleBrownout(w http.ResponseWriter, r *http.Request) {
	body, err := readSmall(r)
	if err != nil {
		writePlainError(w, http.StatusBadRequest, err)
		return
	}
	phases, err := ParseBrownout(string(body))
	if err != nil {
		writePlainError(w, http.StatusBadRequest, err)
		return
	}
	var hold time.Duration
	if v := r.URL.Query().Get("hold-answer"); v != "" {
		if hold, err = time.ParseDuration(v); err != nil || hold <= 0 {
			writePlainError(w, http.StatusBadRequest, herald.Invalid("hold-answer", "want a positive duration, not %q", v))
			return
		}
	}
	if err := s.StartBrownout(phases, hold); err != nil {
		writePlainError(w, http.StatusBadRequest, err)
		return
	}
	st := s.brownoutStats()
	if st == nil {
		st = &BrownoutStats{State: "off", PhaseIndex: -1, Phases: []PhaseStats{}}
	}
	s.writeJSON(w, http.StatusOK, st)
}

// handleBrownoutGet serves GET /mock/brownout.
func (s *Server) handleBrownoutGet(w http.ResponseWriter, _ *http.Request) {
	st := s.brownoutStats()
	if st == nil {
		st = &BrownoutStats{State: "off", PhaseIndex: -1, Phases: []PhaseStats{}}
	}
	s.writeJSON(w, http.StatusOK, st)
}

// maxSpecBytes bounds a POST /mock/brownout body.
const maxSpecBytes = 4 << 10

func readSmall(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxSpecBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if len(b) > maxSpecBytes {
		return nil, herald.Invalid("brownout", "the schedule is longer than %d bytes", maxSpecBytes)
	}
	return b, nil
}

// writePlainError answers a /mock/ request error as {"error": "…"}.
func writePlainError(w http.ResponseWriter, status int, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
}
