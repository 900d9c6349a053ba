// Package strictjson decodes exactly one JSON value the way every herald
// input is read (a request body, a line of an NDJSON import): unknown
// fields refused, nothing after the value, and bad input reported as a
// *herald.InvalidError that names the field.
package strictjson

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
	"time"

	herald "github.com/heraldhq/herald"
)

// Decode reads exactly one JSON value from r into v. Data after the value
// is refused with trailing as the message; read errors (a body over its
// limit) pass unchanged.
func Decode(r io.Reader, v any, trailing string) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return Invalid(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return herald.Invalid("", "%s", trailing)
	}
	return nil
}

// Invalid turns a decoding error into an *herald.InvalidError that names
// the field when there is one; read errors pass.
func Invalid(err error) error {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
		tpe *time.ParseError
	)
	switch {
	case errors.As(err, &syn):
		return herald.Invalid("", "malformed JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		return herald.Invalid(typ.Field, "must be a JSON %s, not %s", jsonKind(typ.Type.Kind().String()), typ.Value)
	case errors.As(err, &tpe):
		return herald.Invalid("", "%q is not an RFC 3339 time", tpe.Value)
	case errors.Is(err, io.EOF):
		return herald.Invalid("", "the body is empty")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return herald.Invalid("", "the JSON is truncated")
	}
	// encoding/json has no type for this one; its text is stable.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		return herald.Invalid(name, "unknown field %q", name)
	}
	return err
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "int", "int64", "int32", "uint", "uint64", "uint32", "float64":
		return "number"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "array"
	case "map", "struct":
		return "object"
	}
	return goKind
}
