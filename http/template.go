package http

import (
	"net/http"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/template"
)

// createTemplate registers a template; it must pass Kakao's rules, and its
// status defaults to approved (templates are registered once Kakao approved them).
func (s *Server) createTemplate(w http.ResponseWriter, r *http.Request) {
	var t herald.Template
	if err := decodeJSON(w, r, maxJSONBytes, &t); err != nil {
		s.writeError(w, r, err)
		return
	}
	if t.Status == "" {
		t.Status = herald.TemplateApproved
	}
	if err := template.Validate(t); err != nil {
		s.writeError(w, r, err)
		return
	}
	t.CreatedAt = s.now().UTC()
	t, err := s.store.CreateTemplate(r.Context(), t)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/templates/"+t.Code)
	writeJSON(w, http.StatusCreated, t)
}

// templateList is the body of GET /v1/templates.
type templateList struct {
	Templates []herald.Template `json:"templates"`
}

func (s *Server) listTemplates(w http.ResponseWriter, r *http.Request) {
	ts, err := s.store.ListTemplates(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, templateList{Templates: nonNilSlice(ts)})
}

func (s *Server) getTemplate(w http.ResponseWriter, r *http.Request) {
	t, err := s.store.GetTemplate(r.Context(), r.PathValue("code"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

// nonNilSlice makes an empty list encode as [] rather than null.
func nonNilSlice[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
