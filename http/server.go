// Package http is herald's REST admin API over net/http: the server that
// exposes a herald.Store, and a typed Client of that API for the CLI.
//
// Routes under /v1 need "Authorization: Bearer <admin token>" or the
// dashboard's session cookie (see session.go; cookie writes also need the
// same origin and X-CSRF-Token):
//
//	POST  /v1/members/import              text/csv or application/x-ndjson, streamed
//	PUT   /v1/members/{id}                GET /v1/members/{id}
//	POST  /v1/members/{id}/withdraw
//	POST  /v1/templates                   GET /v1/templates, GET /v1/templates/{code}
//	POST  /v1/campaigns                   GET /v1/campaigns, GET /v1/campaigns/{id}
//	PATCH /v1/campaigns/{id}              {"startAt", "tps"}
//	POST  /v1/campaigns/{id}/pause|resume|cancel
//	POST  /v1/campaigns/{id}/review|approve|clone   (a draft: {"draft": true} at creation)
//	POST  /v1/messages                    one-off message, Idempotency-Key header; GET /v1/messages/{id}
//	GET   /v1/campaigns/{id}/failures     counts per state and result code, with their meaning
//	POST  /v1/campaigns/{id}/retry        {"states", "codes"}: a follow-up campaign
//	GET   /v1/campaigns/{id}/recipients?state=&code=&channel=&phone=&member=&after=ID&limit=N
//	GET   /v1/campaigns/{id}/recipients/{rid}   the message as sent and the history
//	GET   /v1/campaigns/{id}/recipients.csv?bom=1   every recipient, streamed
//	GET   /v1/reports/intake              the report intake: queue, spool, quarantine
//
//	POST  /v1/session {"token"}           GET, DELETE /v1/session (dashboard sign-in)
//
// GET / and /campaigns/{id} serve the web dashboard (401 and the sign-in
// form without a session), /assets/* its script and style. GET /healthz,
// /readyz, /metrics and /openapi.json (the OpenAPI 3.1 description of all
// of this) need no token. The report webhook (HandleReports: POST
// /v1/reports and /reception-result) brings its own credentials. Every
// error is {"error": {"code", "message", "field"}}; see Error.
package http

import (
	"cmp"
	"context"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/review"
)

// Defaults for ServerConfig.
const (
	DefaultMaxImportBytes  = 1 << 30 // 1 GiB
	DefaultImportBatchSize = 5000
	DefaultExportPageSize  = 2000
)

// ServerConfig is what NewServer needs. Store and at least one admin token
// are required; the rest has defaults.
type ServerConfig struct {
	Store herald.Store
	// AdminTokens are the bearer tokens accepted on /v1/*. Several may be
	// valid at once so that a token can be rotated without downtime.
	AdminTokens []string
	// MaxImportBytes bounds the body of POST /v1/members/import.
	MaxImportBytes int64
	// ImportBatchSize is the number of members per Store.UpsertMembers call.
	ImportBatchSize int
	// ExportPageSize is the number of recipients the CSV export reads per
	// query (DefaultExportPageSize when 0).
	ExportPageSize int
	Logger         *slog.Logger
	// Registry receives the server's metrics and is served on /metrics.
	// NewRegistry gives one with the Go and process collectors.
	Registry *prometheus.Registry
	// SessionTTL is how long a dashboard sign-in lasts; DefaultSessionTTL
	// when zero.
	SessionTTL time.Duration
	// Sending is how this deployment sends (the dispatcher's flags): what a
	// campaign review renders with and forecasts from, and the default send
	// window of campaigns without one.
	Sending review.Settings
	// RequireApprover is the two-person rule: every new campaign is a
	// draft, and only another admin token than its creator's approves it.
	RequireApprover bool
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Server is the admin API. It is an http.Handler factory: the caller owns
// the http.Server and its lifecycle.
type Server struct {
	store       herald.Store
	tokens      BearerTokens
	maxImport   int64
	importBatch int
	exportPage  int
	log         *slog.Logger
	registry    *prometheus.Registry
	metrics     *metrics
	now         func() time.Time
	sending     review.Settings
	// requireApprover: see ServerConfig.RequireApprover.
	requireApprover bool
	mux             *http.ServeMux
	sessions        *sessions
	patterns        []string // every pattern on mux, in registration order
	readyMu         sync.Mutex
	ready           []readyCheck
	details         []readyDetail
	intake          intakeSlot // shown by GET /v1/reports/intake
}

// readyDetail is a state /readyz names while the server is ready.
type readyDetail struct {
	name  string
	state func() string
}

// AddReadyDetail makes /readyz, while ready, name state() under name when
// it is not empty: a degraded but working part ("reports": "spooling").
func (s *Server) AddReadyDetail(name string, state func() string) {
	s.readyMu.Lock()
	defer s.readyMu.Unlock()
	s.details = append(s.details, readyDetail{name, state})
}

// readyCheck is one more thing /readyz asks besides the database.
type readyCheck struct {
	name  string
	check func() error
}

// AddReadyCheck makes /readyz answer 503, naming the check, while check
// returns an error (Redis for the shared rate limit, say). Its error text
// goes to the log, not to the unauthenticated caller.
func (s *Server) AddReadyCheck(name string, check func() error) {
	s.readyMu.Lock()
	defer s.readyMu.Unlock()
	s.ready = append(s.ready, readyCheck{name, check})
}

// NewServer checks cfg, fills its defaults and registers every route.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.Store == nil {
		return nil, herald.Invalid("store", "is required")
	}
	s := &Server{
		store:       cfg.Store,
		tokens:      NewBearerTokens(cfg.AdminTokens),
		maxImport:   orDefault(cfg.MaxImportBytes, DefaultMaxImportBytes),
		importBatch: orDefault(cfg.ImportBatchSize, DefaultImportBatchSize),
		exportPage:  min(orDefault(cfg.ExportPageSize, DefaultExportPageSize), herald.MaxRecipientFilterLimit),
		log:         cfg.Logger,
		registry:    cfg.Registry,
		now:         cfg.Now,
		sending:     cfg.Sending,
		mux:         http.NewServeMux(),

		requireApprover: cfg.RequireApprover,
	}
	if s.tokens.Len() == 0 {
		return nil, herald.Invalid("adminTokens", "at least one non-empty admin token is required")
	}
	s.sessions = newSessions(s.tokens, cmp.Or(cfg.SessionTTL, DefaultSessionTTL))
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With(slog.String("component", "http"))
	if s.registry == nil {
		s.registry = NewRegistry()
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.metrics = newMetrics(s.registry)
	s.routes()
	return s, nil
}

// orDefault returns v, or def when v is not positive.
func orDefault[T int | int64](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

func (s *Server) routes() {
	s.Handle("GET /healthz", http.HandlerFunc(s.healthz))
	s.Handle("GET /readyz", http.HandlerFunc(s.readyz))
	s.Handle("GET /metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}))
	s.Handle("GET /openapi.json", http.HandlerFunc(serveOpenAPI))

	s.Handle("POST /v1/session", http.HandlerFunc(s.signIn))
	s.Handle("GET /v1/session", http.HandlerFunc(s.getSession))
	s.Handle("DELETE /v1/session", http.HandlerFunc(s.signOut))
	s.dashboardRoutes()

	s.admin("POST /v1/members/import", s.importMembers)
	s.admin("PUT /v1/members/{id}", s.putMember)
	s.admin("GET /v1/members/{id}", s.getMember)
	s.admin("POST /v1/members/{id}/withdraw", s.withdrawMember)

	s.admin("POST /v1/templates", s.createTemplate)
	s.admin("GET /v1/templates", s.listTemplates)
	s.admin("GET /v1/templates/{code}", s.getTemplate)

	s.admin("POST /v1/campaigns", s.createCampaign)
	s.admin("GET /v1/campaigns", s.listCampaigns)
	s.admin("GET /v1/campaigns/{id}", s.getCampaign)
	s.admin("PATCH /v1/campaigns/{id}", s.patchCampaign)
	s.admin("POST /v1/campaigns/{id}/pause", s.transition(herald.CampaignPaused))
	s.admin("POST /v1/campaigns/{id}/resume", s.transition(herald.CampaignRunning))
	s.admin("POST /v1/campaigns/{id}/cancel", s.transition(herald.CampaignCancelled))
	s.admin("GET /v1/campaigns/{id}/recipients", s.listRecipients)
	s.admin("POST /v1/campaigns/{id}/review", s.reviewCampaign)
	s.admin("POST /v1/campaigns/{id}/approve", s.approveCampaign)
	s.admin("POST /v1/campaigns/{id}/clone", s.cloneCampaign)
	s.admin("POST /v1/messages", s.createMessage)
	s.admin("GET /v1/messages/{id}", s.getMessage)
	s.admin("GET /v1/campaigns/{id}/failures", s.listFailures)
	s.admin("POST /v1/campaigns/{id}/retry", s.retryCampaign)
	s.admin("GET /v1/campaigns/{id}/recipients/{rid}", s.getRecipient)
	s.admin("GET /v1/campaigns/{id}/recipients.csv", s.exportRecipients)
	s.admin("GET "+PathIntake, s.getIntake)
}

// Handler returns the handler of every route, instrumented.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(s.serve)
}

// Handle mounts h at pattern without admin authentication, for routes that
// bring their own (the report webhook). It is instrumented like the rest.
func (s *Server) Handle(pattern string, h http.Handler) {
	s.mux.Handle(pattern, h)
	s.patterns = append(s.patterns, pattern)
}

// HandleAdmin mounts h at pattern behind the admin bearer tokens (or a
// dashboard session; see requireAdmin).
func (s *Server) HandleAdmin(pattern string, h http.Handler) {
	s.Handle(pattern, s.requireAdmin(h))
}

// Patterns lists every route pattern mounted so far ("GET /v1/campaigns",
// …), in the order they were mounted: what the OpenAPI test checks the
// document against. Call it once mounting is done, not concurrently.
func (s *Server) Patterns() []string {
	return slices.Clone(s.patterns)
}

func (s *Server) admin(pattern string, h http.HandlerFunc) {
	s.HandleAdmin(pattern, h)
}

// serve counts and times every request by the pattern that matched it.
// ServeMux sets r.Pattern on the request it is given, so it is known after.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w, s: s, r: r}
	s.mux.ServeHTTP(sw, r)
	route := r.Pattern
	if route == "" {
		route = "unmatched"
	}
	elapsed := time.Since(start)
	s.metrics.observe(route, sw.code(), elapsed)
	if s.log.Enabled(r.Context(), slog.LevelDebug) { // spares building the line for every report
		s.log.LogAttrs(r.Context(), slog.LevelDebug, "request",
			slog.String("method", r.Method), slog.String("route", route),
			slog.Int("status", sw.code()), slog.Duration("duration", elapsed))
	}
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz reports whether the database answers; the cause of a failure goes
// to the log, not to the unauthenticated caller.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.log.LogAttrs(r.Context(), slog.LevelWarn, "store not ready", slog.String("error", err.Error()))
		s.writeError(w, r, errUnavailable)
		return
	}
	s.readyMu.Lock()
	checks, details := s.ready, s.details
	s.readyMu.Unlock()
	for _, c := range checks {
		if err := c.check(); err != nil {
			s.log.LogAttrs(r.Context(), slog.LevelWarn, c.name+" not ready", slog.String("error", err.Error()))
			s.writeError(w, r, apiError(http.StatusServiceUnavailable, CodeUnavailable, "%s is unreachable: sending is paused", c.name))
			return
		}
	}
	body := map[string]string{"status": "ready"}
	for _, d := range details {
		if st := d.state(); st != "" {
			body[d.name] = st
		}
	}
	writeJSON(w, http.StatusOK, body)
}

// statusWriter remembers the status code for metrics and logs. It also
// gives ServeMux's own answers to a request no route matched (404, and 405
// with its Allow header) the API's error shape instead of plain text.
type statusWriter struct {
	http.ResponseWriter
	s      *Server
	r      *http.Request
	status int
	muxErr bool // the mux's plain-text answer was replaced; its body is dropped
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
		if w.r.Pattern == "" && (code == http.StatusNotFound || code == http.StatusMethodNotAllowed) {
			w.muxErr = true
			w.s.writeError(w.ResponseWriter, w.r, unmatched(w.r, code, w.Header().Get("Allow")))
			return
		}
	}
	if !w.muxErr {
		w.ResponseWriter.WriteHeader(code)
	}
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.muxErr {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// unmatched is the error of a request that no route took: no such path, or
// not with this method (allow lists the methods that are).
func unmatched(r *http.Request, status int, allow string) *Error {
	if status == http.StatusMethodNotAllowed {
		return apiError(status, CodeMethodNotAllowed, "%s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, allow)
	}
	return apiError(status, CodeNotFound, "no route %s %s", r.Method, r.URL.Path)
}

// ReadFrom keeps io.Copy fast through the wrapper.
func (w *statusWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return io.Copy(w.ResponseWriter, r)
}

// Unwrap lets http.ResponseController reach the real writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// errUnauthorized and errUnavailable are the server's own refusals.
var (
	errUnauthorized = apiError(http.StatusUnauthorized, CodeUnauthorized, "a valid admin bearer token is required")
	errUnavailable  = apiError(http.StatusServiceUnavailable, CodeUnavailable, "the database is not reachable")
	errBadSignIn    = apiError(http.StatusUnauthorized, CodeUnauthorized, "that is not an admin token")
	errCrossOrigin  = apiError(http.StatusForbidden, CodeForbidden, "requests signed in with the session cookie must come from the dashboard's own origin")
	errCSRF         = apiError(http.StatusForbidden, CodeForbidden, "the "+CSRFHeader+" header is missing or does not match the session")
)
