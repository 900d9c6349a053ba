package ingest

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	herald "github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/infobank"
)

// Routes of the webhook.
const (
	PathReports     = "/v1/reports"
	PathSeedReports = "/reception-result" // the seed's Open API path
)

// MaxBodyBytes bounds a report body; one report is a few hundred bytes.
const MaxBodyBytes = 64 << 10

// CodeBusy is the error code of a 429: the queue is full, retry later.
const CodeBusy = "busy"

// SeedAckCode is the code of the seed-shaped answer.
const SeedAckCode = "0000"

// Mux is where Register mounts the webhook: an *http.ServeMux or the admin
// API's *heraldhttp.Server (which instruments the routes).
type Mux interface {
	Handle(pattern string, h http.Handler)
}

// Register mounts the webhook at POST /v1/reports and POST /reception-result.
func (in *Ingest) Register(mux Mux) {
	h := in.Handler()
	mux.Handle("POST "+PathReports, h)
	mux.Handle("POST "+PathSeedReports, h)
}

// Handler takes one report per request, on whatever route it is mounted.
func (in *Ingest) Handler() http.Handler { return http.HandlerFunc(in.serveReport) }

// request is one report waiting for its batch. done is buffered so that
// the committer never blocks on a handler that gave up waiting.
type request struct {
	report herald.Report
	done   chan error
}

func (in *Ingest) serveReport(w http.ResponseWriter, r *http.Request) {
	if !in.authorized(r) {
		in.metrics.refuse(reasonUnauthorized)
		w.Header().Set("WWW-Authenticate", `Bearer realm="herald"`)
		writeBody(w, http.StatusUnauthorized, bodyUnauthorized)
		return
	}
	if len(in.queue) == cap(in.queue) { // shed before reading the body
		in.shed(w)
		return
	}
	rep, err := readReport(w, r)
	if err != nil {
		in.refuse(w, err)
		return
	}
	req := in.pool.Get().(*request)
	req.report = rep
	switch in.enqueue(req) {
	case queueFull:
		in.release(req)
		in.shed(w)
		return
	case notRunning:
		in.release(req)
		in.metrics.refuse(reasonStopping)
		writeUnavailable(w, bodyStopping)
		return
	}
	in.metrics.received.Inc()
	in.await(w, r, req)
}

// await answers once the report's batch is committed, or 503 when that
// fails or takes longer than the wait timeout.
func (in *Ingest) await(w http.ResponseWriter, r *http.Request, req *request) {
	timer := time.NewTimer(in.cfg.WaitTimeout)
	defer timer.Stop()
	select {
	case err := <-req.done:
		rep := req.report
		in.release(req)
		if err != nil {
			in.metrics.refuse(reasonStoreError)
			writeUnavailable(w, bodyStoreError)
			return
		}
		writeBody(w, http.StatusOK, ack(rep))
	case <-timer.C:
		// The committer still holds req and will answer into it: not reused.
		in.metrics.refuse(reasonTimeout)
		writeUnavailable(w, bodyTimeout)
	case <-r.Context().Done():
		// The provider hung up; it will retry, and the copy is deduplicated.
	}
}

type enqueueResult int

const (
	queued enqueueResult = iota
	queueFull
	notRunning
)

// enqueue never blocks. The read lock keeps Stop from closing the queue
// between the state check and the send. A queued report's body counts
// against QueueBytes until the committer is done with it (unhold).
func (in *Ingest) enqueue(req *request) enqueueResult {
	in.mu.RLock()
	defer in.mu.RUnlock()
	if in.state != running {
		return notRunning
	}
	size := int64(len(req.report.Raw))
	if in.bytes.Add(size) > int64(in.cfg.QueueBytes) {
		in.bytes.Add(-size)
		return queueFull
	}
	select {
	case in.queue <- req:
		return queued
	default:
		in.bytes.Add(-size)
		return queueFull
	}
}

// unhold returns a report's share of QueueBytes.
func (in *Ingest) unhold(r *herald.Report) { in.bytes.Add(-int64(len(r.Raw))) }

func (in *Ingest) release(req *request) {
	req.report = herald.Report{} // the raw body goes with it
	in.pool.Put(req)
}

func (in *Ingest) shed(w http.ResponseWriter) {
	in.metrics.shed.Inc()
	w.Header().Set("Retry-After", "1")
	writeBody(w, http.StatusTooManyRequests, bodyBusy)
}

// authorized accepts a valid bearer token or a valid signature; which
// one failed is never told.
func (in *Ingest) authorized(r *http.Request) bool {
	if h := r.Header.Get("Authorization"); h != "" && in.tokens.Valid(h) {
		return true
	}
	ts, sig := r.Header.Get(infobank.HeaderTimestamp), r.Header.Get(infobank.HeaderSignature)
	if len(in.secret) == 0 || (ts == "" && sig == "") {
		return false
	}
	return infobank.VerifySignature(in.secret, ts, sig, in.cfg.Now()) == nil
}

// readReport checks the media type and size, then decodes and validates.
func readReport(w http.ResponseWriter, r *http.Request) (herald.Report, error) {
	if err := checkMediaType(r.Header.Get("Content-Type")); err != nil {
		return herald.Report{}, err
	}
	body, err := readBody(w, r)
	if err != nil {
		return herald.Report{}, err
	}
	rep, err := infobank.DecodeReport(body)
	if err != nil {
		return herald.Report{}, err
	}
	return rep, validate(&rep)
}

// checkMediaType accepts JSON in UTF-8, and no Content-Type at all (as the
// admin API does).
func checkMediaType(ct string) error {
	if ct == "" || ct == "application/json" {
		return nil
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return errMediaType
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "us-ascii") {
		return errMediaType
	}
	return nil
}

// readBody reads at most MaxBodyBytes, in one allocation when the length
// is announced.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > MaxBodyBytes {
		return nil, errTooLarge
	}
	body := http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	if r.ContentLength < 0 {
		b, err := io.ReadAll(body)
		return b, readError(err)
	}
	b := make([]byte, r.ContentLength)
	_, err := io.ReadFull(body, b)
	return b, readError(err)
}

func readError(err error) error {
	var mbe *http.MaxBytesError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &mbe):
		return errTooLarge
	}
	return herald.Invalid("body", "could not be read: %v", err)
}

func (in *Ingest) refuse(w http.ResponseWriter, err error) {
	var e *heraldhttp.Error
	var inv *herald.InvalidError
	switch {
	case errors.As(err, &e):
	case errors.As(err, &inv):
		e = &heraldhttp.Error{Status: http.StatusBadRequest, Code: heraldhttp.CodeInvalid, Field: inv.Field, Message: inv.Message}
	default:
		e = &heraldhttp.Error{Status: http.StatusBadRequest, Code: heraldhttp.CodeInvalid, Message: err.Error()}
	}
	in.metrics.refuse(e.Code)
	writeBody(w, e.Status, errorJSON(e))
}

// Answers that do not depend on the request, encoded once.
var (
	errTooLarge = &heraldhttp.Error{Status: http.StatusRequestEntityTooLarge, Code: heraldhttp.CodeTooLarge,
		Message: "a report body is at most 65536 bytes"}
	errMediaType = &heraldhttp.Error{Status: http.StatusUnsupportedMediaType, Code: heraldhttp.CodeUnsupportedMediaType,
		Message: "send the report as application/json in UTF-8"}
	bodyUnauthorized = errorJSON(&heraldhttp.Error{Code: heraldhttp.CodeUnauthorized,
		Message: "a valid X-IB-Signature or bearer token is required"})
	bodyBusy = errorJSON(&heraldhttp.Error{Code: CodeBusy,
		Message: "too many reports waiting; retry after the Retry-After delay"})
	bodyStopping = errorJSON(&heraldhttp.Error{Code: heraldhttp.CodeUnavailable,
		Message: "herald is shutting down; retry later"})
	bodyStoreError = errorJSON(&heraldhttp.Error{Code: heraldhttp.CodeUnavailable,
		Message: "the report could not be stored; retry later"})
	bodyTimeout = errorJSON(&heraldhttp.Error{Code: heraldhttp.CodeUnavailable,
		Message: "the report was not stored in time; retry later"})
)

// errorJSON is the admin API's error shape: {"error": {"code", "message", "field"}}.
func errorJSON(e *heraldhttp.Error) []byte {
	b, _ := json.Marshal(struct {
		Error *heraldhttp.Error `json:"error"`
	}{e}) // strings only: cannot fail
	return b
}

func writeUnavailable(w http.ResponseWriter, body []byte) {
	w.Header().Set("Retry-After", "1")
	writeBody(w, http.StatusServiceUnavailable, body)
}

var (
	jsonContentType = []string{"application/json; charset=utf-8"}
	noSniff         = []string{"nosniff"}
)

func writeBody(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = jsonContentType // shared, never appended to: saves an allocation
	h["X-Content-Type-Options"] = noSniff
	w.WriteHeader(status)
	w.Write(body)
}

// ack is the 200 body: {"msgKey": …} as Bizgo expects, or for a report in
// the seed's shape {"code": "0000", "messageId": …}.
func ack(r herald.Report) []byte {
	b := make([]byte, 0, 32+len(r.MsgKey))
	if isSeed(r) {
		b = append(b, `{"code":"`+SeedAckCode+`","messageId":`...)
	} else {
		b = append(b, `{"msgKey":`...)
	}
	b = appendJSONString(b, r.MsgKey)
	return append(b, '}')
}

// appendJSONString quotes s, which is valid UTF-8 (encoding/json made it).
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
