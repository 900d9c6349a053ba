package engine

import "net/http"

// NoopHandler answers every request 200 with an empty JSON object: a
// target that costs nothing, to measure the load generator itself.
func NoopHandler() http.Handler {
	body := []byte("{}")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
}
