package herald

import (
	"errors"
	"fmt"
)

// Domain errors. Stores and services wrap these; exactly one place (the HTTP
// server) maps them to status codes.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
	// ErrBusy is a refusal for load: the caller should come back shortly
	// (HTTP 429 with Retry-After). Nothing was stored.
	ErrBusy = errors.New("busy")
	// ErrUnavailable is a refusal because something herald needs is down or
	// too slow (HTTP 503 with Retry-After). Nothing is promised stored.
	ErrUnavailable = errors.New("unavailable")
)

// Refusal is an ErrBusy or ErrUnavailable with a message that is safe to
// show to whoever made the request: it names no internals.
type Refusal struct {
	Kind    error // ErrBusy or ErrUnavailable
	Message string
}

func (e *Refusal) Error() string { return e.Message }
func (e *Refusal) Unwrap() error { return e.Kind }

// InvalidError is bad input, naming the field at fault.
type InvalidError struct {
	Field   string
	Message string
}

func (e *InvalidError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// Invalid returns an *InvalidError for field with a formatted message.
func Invalid(field, format string, args ...any) error {
	return &InvalidError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// Conflict returns an error that wraps ErrConflict with a message.
func Conflict(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrConflict)
}

// NotFound returns an error that wraps ErrNotFound naming what was missing.
func NotFound(what string, id any) error {
	return fmt.Errorf("%s %v: %w", what, id, ErrNotFound)
}
