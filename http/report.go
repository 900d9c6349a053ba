package http

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/infobank"
)

// Routes of the report webhook.
const (
	PathReports     = "/v1/reports"
	PathSeedReports = "/reception-result" // the seed's Open API path
)

// Limits of the report webhook.
const (
	// MaxReportBytes bounds a report body; one report is a few hundred bytes.
	MaxReportBytes = 64 << 10
	// DefaultReportsInFlight bounds the report requests past authentication
	// at once (reading, waiting): with 64 KiB bodies, 128 MiB at most.
	DefaultReportsInFlight = 2048
	// DefaultReportBodyTimeout is how long a report body may take to arrive.
	DefaultReportBodyTimeout = 5 * time.Second
)

// CodeBusy is the error code of a 429 (a source outside the allow-list
// gets CodeForbidden).
const CodeBusy = "busy"

// SeedAckCode is the code of the seed-shaped answer.
const SeedAckCode = "0000"

// ReportIntake takes one report and returns once it is durable
// (ingest.(*Ingest).Submit). An error that is a *herald.InvalidError is
// answered 400; herald.ErrBusy 429; anything else 503, all with the
// admin API's error shape.
type ReportIntake interface {
	Submit(ctx context.Context, r herald.Report) error
}

// fullIntake is an intake that can tell it is full before a body is read.
type fullIntake interface{ Full() bool }

// ReportConfig is the webhook's edge: who may post, and how much at once.
type ReportConfig struct {
	// Secret is the key of the provider's X-IB-Signature HMAC.
	Secret []byte
	// Tokens are accepted as Authorization: Bearer; several may be valid at
	// once so that one can be rotated without downtime.
	Tokens []string
	// BindSignature refuses a (timestamp, signature) pair seen before with
	// another body: the HMAC covers the timestamp only, so without it whoever
	// saw one signed request could post any report for the 10-minute window.
	// A provider that signs two different requests with the same timestamp
	// (same millisecond, or a timestamp in seconds) gets 401 for the second.
	BindSignature bool
	// AllowFrom, when not empty, are the only networks reports may come
	// from (403 otherwise). The source is the peer address, or the
	// X-Forwarded-For entry left of the last trusted proxy when the peer is
	// one of TrustedProxies.
	AllowFrom      []netip.Prefix
	TrustedProxies []netip.Prefix
	// InFlight bounds the report requests being read or waiting for the
	// store; past it requests get 429 at once. DefaultReportsInFlight when 0.
	InFlight int
	// BodyTimeout bounds the reading of one body. DefaultReportBodyTimeout when 0.
	BodyTimeout time.Duration
}

// MinReportTokenLength is the shortest report bearer token accepted.
const MinReportTokenLength = 16

// Validate names the field at fault.
func (c ReportConfig) Validate() error {
	if len(c.Secret) == 0 && len(c.Tokens) == 0 {
		return herald.Invalid("secret", "a signature secret or at least one bearer token is required")
	}
	for _, t := range c.Tokens {
		if len(strings.TrimSpace(t)) < MinReportTokenLength {
			return herald.Invalid("tokens", "each token must be at least %d characters", MinReportTokenLength)
		}
	}
	if c.InFlight < 0 {
		return herald.Invalid("inFlight", "must not be negative, got %d", c.InFlight)
	}
	if c.BodyTimeout < 0 {
		return herald.Invalid("bodyTimeout", "must not be negative, got %s", c.BodyTimeout)
	}
	if len(c.TrustedProxies) > 0 && len(c.AllowFrom) == 0 {
		return herald.Invalid("trustedProxies", "only mean something with an allow-list")
	}
	return nil
}

// reportEdge is the webhook's HTTP handling on top of a ReportIntake.
type reportEdge struct {
	s        *Server
	intake   ReportIntake
	full     func() bool
	cfg      ReportConfig
	tokens   BearerTokens
	slots    chan struct{}
	bindings *signatureBindings
	refused  *prometheus.CounterVec
}

// HandleReports mounts the report webhook at POST /v1/reports and POST
// /reception-result, in front of intake. Its answers use the admin API's
// error shape and writer.
func (s *Server) HandleReports(cfg ReportConfig, intake ReportIntake) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if intake == nil {
		return herald.Invalid("intake", "is required")
	}
	if cfg.InFlight == 0 {
		cfg.InFlight = DefaultReportsInFlight
	}
	if cfg.BodyTimeout == 0 {
		cfg.BodyTimeout = DefaultReportBodyTimeout
	}
	e := &reportEdge{
		s: s, intake: intake, cfg: cfg, tokens: NewBearerTokens(cfg.Tokens),
		slots: make(chan struct{}, cfg.InFlight),
		refused: register(s.registry, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_reports_refused_total",
			Help: "Report requests refused, by reason (unauthorized, forbidden, replayed, invalid, too_large, unsupported_media_type, busy, unavailable).",
		}, []string{"reason"})),
	}
	if f, ok := intake.(fullIntake); ok {
		e.full = f.Full
	}
	if cfg.BindSignature {
		e.bindings = newSignatureBindings(s.now)
	}
	h := http.HandlerFunc(e.serve)
	s.Handle("POST "+PathReports, h)
	s.Handle("POST "+PathSeedReports, h)
	return nil
}

func (e *reportEdge) serve(w http.ResponseWriter, r *http.Request) {
	if len(e.cfg.AllowFrom) > 0 && !e.allowed(r) {
		e.refuse(w, r, "forbidden", errForbiddenSource)
		return
	}
	ts, sig, ok := e.authorized(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="herald"`)
		e.refuse(w, r, CodeUnauthorized, errReportUnauthorized)
		return
	}
	if e.full != nil && e.full() { // shed before reading the body
		e.refuse(w, r, CodeBusy, errReportsBusy)
		return
	}
	select {
	case e.slots <- struct{}{}:
		defer func() { <-e.slots }()
	default:
		e.refuse(w, r, CodeBusy, errReportsBusy)
		return
	}
	rep, err := e.read(w, r)
	if err != nil {
		e.refuse(w, r, toAPIError(err).Code, err)
		return
	}
	if sig != "" && e.bindings != nil && !e.bindings.bind(ts, sig, rep.Raw) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="herald"`)
		e.refuse(w, r, "replayed", errReportUnauthorized)
		return
	}
	if err := e.intake.Submit(r.Context(), rep); err != nil {
		if r.Context().Err() != nil {
			return // the provider hung up; it will retry, and the copy is deduplicated
		}
		e.refuse(w, r, toAPIError(err).Code, err)
		return
	}
	writeRaw(w, http.StatusOK, ack(rep))
}

// refuse counts the refusal by reason and writes it.
func (e *reportEdge) refuse(w http.ResponseWriter, r *http.Request, reason string, err error) {
	e.refused.WithLabelValues(reason).Inc()
	e.s.writeError(w, r, err)
}

// authorized accepts a valid bearer token or a valid signature; which one
// failed is never told. It returns the signature pair when that is what
// was accepted.
func (e *reportEdge) authorized(r *http.Request) (ts, sig string, ok bool) {
	if h := r.Header.Get("Authorization"); h != "" && e.tokens.Valid(h) {
		return "", "", true
	}
	ts, sig = r.Header.Get(infobank.HeaderTimestamp), r.Header.Get(infobank.HeaderSignature)
	if len(e.cfg.Secret) == 0 || (ts == "" && sig == "") {
		return "", "", false
	}
	if infobank.VerifySignature(e.cfg.Secret, ts, sig, e.s.now()) != nil {
		return "", "", false
	}
	return ts, sig, true
}

// allowed tells whether the request's source is in the allow-list.
func (e *reportEdge) allowed(r *http.Request) bool {
	src, ok := sourceAddr(r, e.cfg.TrustedProxies)
	if !ok {
		return false
	}
	for _, p := range e.cfg.AllowFrom {
		if p.Contains(src) {
			return true
		}
	}
	return false
}

// sourceAddr is the peer address, or, when the peer is a trusted proxy,
// the X-Forwarded-For entry left of the last trusted one (entries right of
// an untrusted hop could be forged by it).
func sourceAddr(r *http.Request, trusted []netip.Prefix) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, false
	}
	src := ap.Addr().Unmap()
	isTrusted := func(a netip.Addr) bool {
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	if !isTrusted(src) {
		return src, true
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		h := strings.TrimSpace(hops[i])
		if h == "" {
			continue
		}
		a, err := netip.ParseAddr(h)
		if err != nil {
			return netip.Addr{}, false
		}
		src = a.Unmap()
		if !isTrusted(src) {
			return src, true
		}
	}
	return src, true // every hop a trusted proxy: the first one is the source
}

// read checks the media type and size, then decodes. The body must arrive
// within BodyTimeout, so that a slow client holds its slot for a bounded
// time. (The answer needs no deadline: a few dozen bytes go to the
// socket's buffer, and the slot is free once the handler returns.)
func (e *reportEdge) read(w http.ResponseWriter, r *http.Request) (herald.Report, error) {
	if err := requireMediaType(r, "application/json"); err != nil {
		return herald.Report{}, err
	}
	// Unsupported only by test recorders.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(e.cfg.BodyTimeout))
	body, err := readReportBody(w, r)
	if err != nil {
		return herald.Report{}, err
	}
	return decodeReport(body)
}

// readReportBody reads at most MaxReportBytes, in one allocation when the
// length is announced (net/http then stops the body at that length itself).
// The body is read to its end: one left unread is drained by net/http
// after the handler, through readers of its own.
func readReportBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > MaxReportBytes {
		return nil, errReportTooLarge
	}
	var b []byte
	var err error
	if r.ContentLength < 0 {
		b, err = io.ReadAll(http.MaxBytesReader(w, r.Body, MaxReportBytes))
	} else {
		b = make([]byte, r.ContentLength)
		if _, err = io.ReadFull(r.Body, b); err == nil {
			_, err = r.Body.Read(nil) // io.EOF, and net/http knows the body is done
			if errors.Is(err, io.EOF) {
				err = nil
			}
		}
	}
	var mbe *http.MaxBytesError
	switch {
	case err == nil:
		return b, nil
	case errors.As(err, &mbe):
		return nil, errReportTooLarge
	}
	return nil, herald.Invalid("body", "could not be read: %v", err)
}

// Refusals of the webhook that do not depend on the request.
var (
	errReportTooLarge = apiError(http.StatusRequestEntityTooLarge, CodeTooLarge,
		"a report body is at most %d bytes", MaxReportBytes)
	errReportUnauthorized = apiError(http.StatusUnauthorized, CodeUnauthorized,
		"a valid X-IB-Signature or bearer token is required")
	errReportsBusy = &herald.Refusal{Kind: herald.ErrBusy,
		Message: "too many reports waiting; retry after the Retry-After delay"}
	errForbiddenSource = apiError(http.StatusForbidden, CodeForbidden,
		"reports are not accepted from this address")
)

// ack is the 200 body: {"msgKey": …} as Bizgo expects, or for a report in
// the seed's shape {"code": "0000", "messageId": …}.
func ack(r herald.Report) []byte {
	b := make([]byte, 0, 32+len(r.MsgKey))
	if r.ReportType == "" { // the seed's shape has no reportType; Bizgo requires it
		b = append(b, `{"code":"`+SeedAckCode+`","messageId":`...)
	} else {
		b = append(b, `{"msgKey":`...)
	}
	b = appendJSONString(b, r.MsgKey)
	return append(b, '}')
}

// appendJSONString quotes s, which is valid UTF-8 (the decoder made it).
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// signatureBindings remembers, for every (timestamp, signature) pair still
// inside the replay window, the hash of the first body it came with.
type signatureBindings struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[[sha256.Size]byte]binding
	gc  time.Time
}

type binding struct {
	body [sha256.Size]byte
	seen time.Time
}

// maxBindings bounds the memory of the bindings (about 100 bytes each);
// past it the oldest half is forgotten early.
const maxBindings = 1 << 20

func newSignatureBindings(now func() time.Time) *signatureBindings {
	return &signatureBindings{now: now, m: make(map[[sha256.Size]byte]binding)}
}

// bind reports whether body may go with the pair: it is the first body
// seen with it, or the same again (a retry).
func (b *signatureBindings) bind(ts, sig string, body []byte) bool {
	h := sha256.New()
	h.Write([]byte(ts))
	h.Write([]byte{0})
	h.Write([]byte(strings.ToLower(sig)))
	var key [sha256.Size]byte
	h.Sum(key[:0])
	sum := sha256.Sum256(body)
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if got, ok := b.m[key]; ok {
		return got.body == sum
	}
	b.collect(now)
	b.m[key] = binding{body: sum, seen: now}
	return true
}

// collect forgets pairs past the replay window (both sides of it: a
// timestamp is valid up to MaxSkew ahead), at most once a second.
func (b *signatureBindings) collect(now time.Time) {
	if now.Sub(b.gc) < time.Second && len(b.m) < maxBindings {
		return
	}
	b.gc = now
	keep := 2 * infobank.MaxSkew
	if len(b.m) >= maxBindings {
		keep = infobank.MaxSkew / 2
	}
	for k, v := range b.m {
		if now.Sub(v.seen) > keep {
			delete(b.m, k)
		}
	}
}
