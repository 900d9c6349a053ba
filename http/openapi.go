package http

import (
	_ "embed"
	"net/http"
)

// openAPI is the OpenAPI 3.1 description of every route, hand-written;
// TestOpenAPICoversEveryRoute keeps it and the mux in step.
//
//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the OpenAPI 3.1 document served at /openapi.json.
func OpenAPI() []byte { return append([]byte(nil), openAPI...) }

func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(openAPI)
}
