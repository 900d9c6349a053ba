package http

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	herald "github.com/heraldhq/herald"
)

// Error codes of the JSON error body.
const (
	CodeInvalid              = "invalid"
	CodeUnauthorized         = "unauthorized"
	CodeForbidden            = "forbidden"
	CodeNotFound             = "not_found"
	CodeMethodNotAllowed     = "method_not_allowed"
	CodeConflict             = "conflict"
	CodeTooLarge             = "too_large"
	CodeUnsupportedMediaType = "unsupported_media_type"
	CodeUnavailable          = "unavailable"
	CodeInternal             = "internal"
)

// Error is an error answer of the API: the server writes it as
// {"error": {"code", "message", "field"}} and the Client returns it. It
// unwraps to the domain error its code stands for, so errors.Is(err,
// herald.ErrNotFound) and errors.As(err, &invalid) work on the client side.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func (e *Error) Error() string {
	if e.Field != "" {
		return e.Field + ": " + e.Message
	}
	return e.Message
}

// Unwrap returns the domain error for the code, or nil.
func (e *Error) Unwrap() error {
	switch e.Code {
	case CodeNotFound:
		return herald.ErrNotFound
	case CodeConflict:
		return herald.ErrConflict
	case CodeInvalid:
		return &herald.InvalidError{Field: e.Field, Message: e.Message}
	}
	return nil
}

type errorBody struct {
	Error *Error `json:"error"`
}

// apiError builds an *Error that the server raises itself.
func apiError(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// writeError is the one place where errors become HTTP statuses. Internal
// errors are logged and answered with a generic message; a 429 or 503 says
// when to come back (Retry-After).
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := toAPIError(err)
	if e.Code == CodeInternal {
		level := slog.LevelError
		if r.Context().Err() != nil {
			level = slog.LevelDebug // the client went away; nothing to fix here
		}
		s.log.LogAttrs(r.Context(), level, "request failed",
			slog.String("method", r.Method), slog.String("route", r.Pattern), slog.String("error", err.Error()))
	}
	if e.Status == http.StatusTooManyRequests || e.Status == http.StatusServiceUnavailable {
		w.Header()["Retry-After"] = retryAfter
	}
	writeJSON(w, e.Status, errorBody{Error: e})
}

var retryAfter = []string{"1"}

func toAPIError(err error) *Error {
	var (
		ae  *Error
		inv *herald.InvalidError
		mbe *http.MaxBytesError
		ref *herald.Refusal
	)
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &ref) && errors.Is(ref.Kind, herald.ErrBusy):
		return &Error{Status: http.StatusTooManyRequests, Code: CodeBusy, Message: ref.Message}
	case errors.As(err, &ref):
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: ref.Message}
	case errors.Is(err, herald.ErrBusy):
		return apiError(http.StatusTooManyRequests, CodeBusy, "busy; retry later")
	case errors.Is(err, herald.ErrUnavailable):
		return apiError(http.StatusServiceUnavailable, CodeUnavailable, "unavailable; retry later")
	case errors.As(err, &inv):
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalid, Field: inv.Field, Message: inv.Message}
	case errors.As(err, &mbe):
		return apiError(http.StatusRequestEntityTooLarge, CodeTooLarge, "body exceeds %d bytes", mbe.Limit)
	case errors.Is(err, herald.ErrNotFound):
		return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: err.Error()}
	case errors.Is(err, herald.ErrConflict):
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: err.Error()}
	}
	return apiError(http.StatusInternalServerError, CodeInternal, "internal error")
}

// writeJSON writes v with status. An encoding error can only come from a
// broken connection once the header is out, so it is dropped.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

var (
	jsonContentType = []string{"application/json; charset=utf-8"}
	noSniff         = []string{"nosniff"}
)

// writeRaw writes a JSON body encoded already, with writeJSON's headers
// (shared slices, never appended to: the hot path saves allocations).
func writeRaw(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["X-Content-Type-Options"] = noSniff
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
