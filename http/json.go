package http

import (
	"mime"
	"net/http"
	"strings"

	"github.com/heraldhq/herald/internal/strictjson"
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
	return strictjson.Decode(r.Body, v, "unexpected data after the JSON value")
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
	switch ct {
	case "":
		return "", nil
	case "application/json", "application/json; charset=utf-8", "application/json;charset=UTF-8": // what providers send, without parsing
		return "application/json", nil
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
