package http

import (
	"embed"
	"io/fs"
	"net/http"
)

// web holds the dashboard: one HTML shell and its static script and style,
// hand-written, no build step and nothing fetched from elsewhere, so it
// works offline.
//
//go:embed web
var web embed.FS

// dashboardPolicy lets the page load only its own script, style and API.
const dashboardPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

func (s *Server) dashboardRoutes() {
	assets, err := fs.Sub(web, "web/assets")
	if err != nil {
		panic(err) // the embed directive guarantees the directory
	}
	s.Handle("GET /{$}", http.HandlerFunc(s.dashboardPage))
	s.Handle("GET /campaigns/{id}", http.HandlerFunc(s.dashboardPage))
	files := http.StripPrefix("/assets/", http.FileServerFS(assets))
	s.Handle("GET /assets/{file...}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	}))
}

// dashboardPage serves the page shell. The shell holds no data (the script
// fetches everything through the API), yet without a live session it is
// answered 401 and shows only the sign-in form, so that no dashboard route
// answers 200 to a stranger.
func (s *Server) dashboardPage(w http.ResponseWriter, r *http.Request) {
	page, err := web.ReadFile("web/index.html")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", dashboardPolicy)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	status := http.StatusOK
	if _, ok := s.sessionOf(r); !ok {
		h.Set("WWW-Authenticate", `Bearer realm="herald"`)
		status = http.StatusUnauthorized
	}
	w.WriteHeader(status)
	w.Write(page)
}
