package mockprovider

import (
	"encoding/json"
	"fmt"
	"os"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/infobank"
	"github.com/heraldhq/herald/template"
	"go.yaml.in/yaml/v3"
)

// LoadTemplates reads an approved-template catalog: a JSON or YAML list of
// objects shaped like herald.Template (code, text, title, buttons).
func LoadTemplates(path string) ([]herald.Template, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read templates: %w", err)
	}
	ts, err := ParseTemplates(data)
	if err != nil {
		return nil, fmt.Errorf("templates %s: %w", path, err)
	}
	return ts, nil
}

// ParseTemplates decodes a catalog.
func ParseTemplates(data []byte) ([]herald.Template, error) {
	ts, _, err := ParseCatalog(data)
	return ts, err
}

// ParseCatalog decodes a catalog with each entry's "inspectionStatus"
// (REG, REQ, APR, REJ), which herald.Template has no field for: the
// template API serves it, and only APR templates may be sent. YAML is a
// superset of JSON, so one decoder reads both; the result goes through
// JSON, once for both, so that both formats use herald.Template's JSON
// field names and a key matches the same way for the template and its
// state (JSON's field match ignores case).
func ParseCatalog(data []byte) ([]herald.Template, map[string]string, error) {
	var generic []any
	if err := yaml.Unmarshal(data, &generic); err != nil {
		return nil, nil, herald.Invalid("templates", "not a YAML or JSON list: %v", err)
	}
	js, err := json.Marshal(generic)
	if err != nil {
		return nil, nil, herald.Invalid("templates", "%v", err)
	}
	var ts []herald.Template
	if err := json.Unmarshal(js, &ts); err != nil {
		return nil, nil, herald.Invalid("templates", "%v", err)
	}
	var extra []struct {
		Code             string `json:"code"`
		InspectionStatus string `json:"inspectionStatus"`
	}
	if err := json.Unmarshal(js, &extra); err != nil {
		return nil, nil, herald.Invalid("templates", "%v", err)
	}
	insp := map[string]string{}
	for _, e := range extra {
		if e.InspectionStatus != "" {
			insp[e.Code] = e.InspectionStatus
		}
	}
	return ts, insp, nil
}

// LoadCatalog reads a catalog file with ParseCatalog.
func LoadCatalog(path string) ([]herald.Template, map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read templates: %w", err)
	}
	ts, insp, err := ParseCatalog(data)
	if err != nil {
		return nil, nil, fmt.Errorf("templates %s: %w", path, err)
	}
	return ts, insp, nil
}

// catalog is the template catalog by code, parsed once; it is replaced
// whole (PUT /mock/templates), never changed in place.
type catalog struct {
	parsed     map[string]*template.Parsed
	templates  map[string]herald.Template
	inspection map[string]string
	order      []string
}

// newCatalog parses the templates; Config.Validate has checked them. A
// template's inspection state is inspection[code], else APR for an
// approved (or unmarked) template, REJ for a rejected one and REQ for a
// draft.
func newCatalog(ts []herald.Template, inspection map[string]string) *catalog {
	c := &catalog{parsed: map[string]*template.Parsed{}, templates: map[string]herald.Template{}, inspection: map[string]string{}}
	for _, t := range ts {
		p, err := template.Parse(t.Text)
		if err != nil {
			continue
		}
		c.parsed[t.Code], c.templates[t.Code] = p, t
		c.order = append(c.order, t.Code)
		c.inspection[t.Code] = inspectionOf(t, inspection[t.Code])
	}
	return c
}

func inspectionOf(t herald.Template, given string) string {
	switch {
	case given != "":
		return given
	case t.Status == herald.TemplateRejected:
		return infobank.InspectionRejected
	case t.Status == herald.TemplateDraft:
		return infobank.InspectionRequested
	}
	return infobank.InspectionApproved
}

// known reports whether code may be sent; with no catalog, any code may.
func (c *catalog) known(code string) bool {
	if len(c.parsed) == 0 {
		return true
	}
	_, ok := c.parsed[code]
	return ok
}

// approved reports whether a known code passed inspection.
func (c *catalog) approved(code string) bool {
	return len(c.parsed) == 0 || c.inspection[code] == infobank.InspectionApproved
}

// matches reports whether text matches the approved template of code;
// with no catalog, every text does.
func (c *catalog) matches(code, text string) bool {
	p, ok := c.parsed[code]
	return !ok || p.Matches(text)
}

// wire is the template as the template API serves it.
func (c *catalog) wire(code string) infobank.WireTemplate {
	t := c.templates[code]
	w := infobank.WireTemplate{
		SenderKey: t.SenderKey, TemplateCode: t.Code, TemplateName: t.Code, MsgType: "AT",
		Text: t.Text, Title: t.Title, InspectionStatus: c.inspection[code], Status: "A",
		Block: "false", Dormant: "false",
	}
	if len(t.Buttons) > 0 {
		w.Attachment = &infobank.Attachment{Button: infobank.ButtonsToWire(t.Buttons)}
	}
	return w
}
