package http

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	herald "github.com/heraldhq/herald"
)

// Body limits of the JSON routes. A campaign may carry up to
// herald.MaxAudienceIDs member ids, hence the larger limit.
const (
	maxJSONBytes     = 1 << 20
	maxCampaignBytes = 32 << 20
)

// decodeJSON reads exactly one JSON value of at most limit bytes into v,
// refusing unknown fields and trailing data.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	if err := requireMediaType(r, "application/json"); err != nil {
		return err
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return herald.Invalid("", "unexpected data after the JSON value")
	}
	return nil
}

// jsonError turns a decoding error into an *herald.InvalidError that names
// the field when there is one; read errors (a body over the limit) pass.
func jsonError(err error) error {
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

// requireMediaType answers 415 unless the Content-Type is one of want (or
// absent, which curl users get with --data-binary and a file). A charset
// other than UTF-8 is refused too: everything herald stores is UTF-8.
func requireMediaType(r *http.Request, want ...string) error {
	mt, err := mediaType(r)
	if err != nil {
		return err
	}
	if mt == "" {
		return nil
	}
	for _, w := range want {
		if mt == w {
			return nil
		}
	}
	return apiError(http.StatusUnsupportedMediaType, CodeUnsupportedMediaType,
		"Content-Type %q is not supported here; use %s", mt, strings.Join(want, " or "))
}

// mediaType returns the lower-case media type of the request, "" when absent.
func mediaType(r *http.Request) (string, error) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return "", nil
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", apiError(http.StatusUnsupportedMediaType, CodeUnsupportedMediaType, "Content-Type %q cannot be parsed", ct)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "us-ascii") {
		return "", apiError(http.StatusUnsupportedMediaType, CodeUnsupportedMediaType, "charset %q is not supported; send UTF-8", cs)
	}
	return mt, nil
}
