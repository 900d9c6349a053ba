package mockprovider

import (
	"encoding/json"
	"fmt"
	"os"

	herald "github.com/heraldhq/herald"
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

// ParseTemplates decodes a catalog. YAML is a superset of JSON, so one
// decoder reads both; the result goes through JSON so that both formats
// use herald.Template's JSON field names.
func ParseTemplates(data []byte) ([]herald.Template, error) {
	var generic []any
	if err := yaml.Unmarshal(data, &generic); err != nil {
		return nil, herald.Invalid("templates", "not a YAML or JSON list: %v", err)
	}
	js, err := json.Marshal(generic)
	if err != nil {
		return nil, herald.Invalid("templates", "%v", err)
	}
	var ts []herald.Template
	if err := json.Unmarshal(js, &ts); err != nil {
		return nil, herald.Invalid("templates", "%v", err)
	}
	return ts, nil
}

// catalog is the approved templates by code, parsed once.
type catalog map[string]*template.Parsed

// newCatalog parses the templates; Config.Validate has checked them.
func newCatalog(ts []herald.Template) catalog {
	c := make(catalog, len(ts))
	for _, t := range ts {
		p, err := template.Parse(t.Text)
		if err == nil {
			c[t.Code] = p
		}
	}
	return c
}

// known reports whether code may be sent; with no catalog, any code may.
func (c catalog) known(code string) bool {
	if len(c) == 0 {
		return true
	}
	_, ok := c[code]
	return ok
}

// matches reports whether text matches the approved template of code;
// with no catalog, every text does.
func (c catalog) matches(code, text string) bool {
	p, ok := c[code]
	return !ok || p.Matches(text)
}
