package mockprovider

import (
	"io"
	"net/http"
	"slices"
	"strconv"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/infobank"
)

// handleTemplateList serves GET …/center/alimtalk/template/list: the
// catalog's templates of a sender key, optionally of one inspection state,
// a page (offset, limit) at a time, as data.data.alimtalk.templates.
func (s *Server) handleTemplateList(w http.ResponseWriter, r *http.Request) {
	if !s.enterAPI(w, r, "templates") {
		return
	}
	q := r.URL.Query()
	senderKey, ok := s.templateSender(w, q.Get("senderKey"))
	if !ok {
		return
	}
	offset, err1 := intParam(q.Get("offset"), 0)
	limit, err2 := intParam(q.Get("limit"), infobank.MaxTemplatePage)
	if err1 != nil || err2 != nil || offset < 0 || limit < 1 || limit > 1000 {
		s.writeError(w, http.StatusBadRequest, infobank.CodeMapping, "offset and limit must be numbers (limit 1..1000)", "")
		return
	}
	cat := s.catalog.Load()
	list := infobank.TemplateList{}
	list.Alimtalk = &struct {
		Templates []infobank.WireTemplate `json:"templates"`
	}{Templates: []infobank.WireTemplate{}}
	want := q.Get("inspectionStatus")
	seen := 0
	for _, code := range cat.order {
		t := cat.templates[code]
		if (t.SenderKey != "" && t.SenderKey != senderKey) || (want != "" && cat.inspection[code] != want) {
			continue
		}
		if seen >= offset && len(list.Alimtalk.Templates) < limit {
			list.Alimtalk.Templates = append(list.Alimtalk.Templates, cat.wire(code))
		}
		seen++
	}
	s.writeJSON(w, http.StatusOK, infobank.TemplateListResponse{
		Common: s.common(infobank.CodeSuccess, "Success"),
		Data:   &infobank.Result[infobank.TemplateList]{Code: infobank.CodeSuccess, Result: "Success", Data: &list},
	})
}

// handleTemplate serves GET …/center/alimtalk/template: one template.
func (s *Server) handleTemplate(w http.ResponseWriter, r *http.Request) {
	if !s.enterAPI(w, r, "templates") {
		return
	}
	q := r.URL.Query()
	senderKey, ok := s.templateSender(w, q.Get("senderKey"))
	if !ok {
		return
	}
	cat := s.catalog.Load()
	t, found := cat.templates[q.Get("templateCode")]
	if !found || (t.SenderKey != "" && t.SenderKey != senderKey) {
		s.writeError(w, http.StatusBadRequest, codeNoData, "The requested data does not exist", "")
		return
	}
	wt := cat.wire(t.Code)
	s.writeJSON(w, http.StatusOK, infobank.TemplateResponse{
		Common: s.common(infobank.CodeSuccess, "Success"),
		Data:   &infobank.Result[infobank.TemplateDetail]{Code: infobank.CodeSuccess, Result: "Success", Data: &infobank.TemplateDetail{Alimtalk: &wt}},
	})
}

// codeNoData is the provider's "the requested data does not exist".
const codeNoData = "A820"

// templateSender checks the senderKey parameter: required, and owned by
// the account when SenderKeys is set (else A502).
func (s *Server) templateSender(w http.ResponseWriter, key string) (string, bool) {
	if key == "" {
		s.writeError(w, http.StatusBadRequest, infobank.CodeMapping, "senderKey is required", "")
		return "", false
	}
	if len(s.cfg.SenderKeys) > 0 && !slices.Contains(s.cfg.SenderKeys, key) {
		s.writeError(w, http.StatusBadRequest, infobank.CodeBadSenderKey, "not a sender profile of this account", "")
		return "", false
	}
	return key, true
}

func intParam(s string, def int) (int, error) {
	if s == "" {
		return def, nil
	}
	return strconv.Atoi(s)
}

// handleReplaceTemplates serves PUT /mock/templates: the body (a catalog
// as for --templates, JSON or YAML, with inspectionStatus) replaces the
// catalog, as if Kakao had inspected templates meanwhile.
func (s *Server) handleReplaceTemplates(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBody))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	ts, insp, err := ParseCatalog(body)
	if err == nil {
		err = s.ReplaceCatalog(ts, insp)
	}
	if err != nil {
		s.writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	s.writeJSON(w, http.StatusOK, map[string]int{"templates": len(ts)})
}

// ReplaceCatalog replaces the template catalog and the inspection states,
// as if Kakao had inspected templates meanwhile.
func (s *Server) ReplaceCatalog(ts []herald.Template, insp map[string]string) error {
	c := s.cfg
	c.Templates, c.Inspection = ts, insp
	if err := c.Validate(); err != nil {
		return err
	}
	s.catalog.Store(newCatalog(ts, insp))
	return nil
}

// handleGetTemplates serves GET /mock/templates: the catalog as the
// template API would list it, every sender key and state.
func (s *Server) handleGetTemplates(w http.ResponseWriter, _ *http.Request) {
	cat := s.catalog.Load()
	out := make([]infobank.WireTemplate, 0, len(cat.order))
	for _, code := range cat.order {
		out = append(out, cat.wire(code))
	}
	s.writeJSON(w, http.StatusOK, out)
}
