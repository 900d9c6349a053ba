package http_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/ingest"
)

// openAPIDoc is the part of the document the checks read.
type openAPIDoc struct {
	OpenAPI    string                                `json:"openapi"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas   map[string]json.RawMessage `json:"schemas"`
		Responses map[string]struct {
			Content map[string]struct {
				Schema map[string]any `json:"schema"`
			} `json:"content"`
		} `json:"responses"`
	} `json:"components"`
}

func (e *env) openAPI() (openAPIDoc, []byte) {
	e.t.Helper()
	r := e.do("GET", "/openapi.json", "", nil, "Authorization", "")
	var doc openAPIDoc
	r.want(e.t, 200, &doc)
	return doc, r.body
}

// openAPIPath turns a ServeMux pattern into its OpenAPI path:
// "GET /{$}" is "GET /", "{file...}" is "{file}".
func openAPIPath(pattern string) string {
	method, path, _ := strings.Cut(pattern, " ")
	path = strings.ReplaceAll(path, "{$}", "")
	path = strings.ReplaceAll(path, "...}", "}")
	if path == "" {
		path = "/"
	}
	return method + " " + path
}

// Every route serve mounts is documented, and every documented route is
// mounted: the admin API's own and the report webhook's.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	in, err := ingest.New(ingest.Config{}, e.store, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.api.HandleReports(heraldhttp.ReportConfig{Secret: []byte("openapi-test-secret")}, in); err != nil {
		t.Fatal(err)
	}
	doc, _ := e.openAPI()
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q, want 3.1.0", doc.OpenAPI)
	}
	var mounted, documented []string
	for _, p := range e.api.Patterns() {
		mounted = append(mounted, openAPIPath(p))
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" {
				continue
			}
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	sort.Strings(mounted)
	sort.Strings(documented)
	for _, m := range mounted {
		if !slices.Contains(documented, m) {
			t.Errorf("route %s is mounted but not in /openapi.json", m)
		}
	}
	for _, d := range documented {
		if !slices.Contains(mounted, d) {
			t.Errorf("/openapi.json documents %s, which is not mounted", d)
		}
	}
	if len(mounted) < 20 {
		t.Fatalf("only %d routes mounted: %v", len(mounted), mounted)
	}
}

// The error shape is written down once, as components/schemas/Error, and
// every JSON error answer of every operation refers to it.
func TestOpenAPIDescribesTheErrorShapeOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	doc, raw := e.openAPI()
	var errSchema struct {
		Properties struct {
			Error struct {
				Properties struct {
					Code struct {
						Enum []string `json:"enum"`
					} `json:"code"`
				} `json:"properties"`
			} `json:"error"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(doc.Components.Schemas["Error"], &errSchema); err != nil {
		t.Fatalf("components/schemas/Error: %v", err)
	}
	codes := []string{heraldhttp.CodeInvalid, heraldhttp.CodeUnauthorized, heraldhttp.CodeForbidden, heraldhttp.CodeNotFound,
		heraldhttp.CodeConflict, heraldhttp.CodeTooLarge, heraldhttp.CodeUnsupportedMediaType, heraldhttp.CodeUnavailable,
		heraldhttp.CodeInternal, heraldhttp.CodeBusy}
	got := errSchema.Properties.Error.Properties.Code.Enum
	sort.Strings(codes)
	sort.Strings(got)
	if !slices.Equal(got, codes) {
		t.Errorf("Error.code enum %v, want the server's codes %v", got, codes)
	}
	// Exactly one schema in the whole document has an "error" property.
	var tree any
	if err := json.Unmarshal(raw, &tree); err != nil {
		t.Fatal(err)
	}
	if n := countErrorSchemas(tree); n != 1 {
		t.Errorf(`%d schemas with an "error" property; the error shape must be described once`, n)
	}
	const errRef = "#/components/schemas/Error"
	for name, r := range doc.Components.Responses {
		if s := r.Content["application/json"].Schema; s["$ref"] != errRef {
			t.Errorf("components/responses/%s: schema %v, want $ref %s", name, s, errRef)
		}
	}
	// Every operation's error answer in JSON is one of those responses.
	for path, ops := range doc.Paths {
		for method, raw := range ops {
			var op struct {
				Responses map[string]map[string]any `json:"responses"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatal(err)
			}
			for status, resp := range op.Responses {
				if status < "400" {
					continue
				}
				ref, _ := resp["$ref"].(string)
				content, _ := resp["content"].(map[string]any)
				_, isJSON := content["application/json"]
				if ref == "" && isJSON {
					t.Errorf("%s %s %s: a JSON error written inline; refer to components/responses", method, path, status)
				}
				if name, ok := strings.CutPrefix(ref, "#/components/responses/"); ref != "" && (!ok || doc.Components.Responses[name].Content == nil) {
					t.Errorf("%s %s %s: $ref %s does not resolve", method, path, status, ref)
				}
			}
		}
	}
}

// countErrorSchemas counts the schemas under v that define an "error" property.
func countErrorSchemas(v any) int {
	n := 0
	switch v := v.(type) {
	case map[string]any:
		if props, ok := v["properties"].(map[string]any); ok && props["error"] != nil {
			n++
		}
		for _, x := range v {
			n += countErrorSchemas(x)
		}
	case []any:
		for _, x := range v {
			n += countErrorSchemas(x)
		}
	}
	return n
}

// The document's schemas and responses are referred to by names that exist.
func TestOpenAPIRefsResolve(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, raw := e.openAPI()
	var tree map[string]any
	if err := json.Unmarshal(raw, &tree); err != nil {
		t.Fatal(err)
	}
	var walk func(v any)
	refs := 0
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				refs++
				var node any = tree
				for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
					m, _ := node.(map[string]any)
					node = m[part]
				}
				if node == nil {
					t.Errorf("$ref %s does not resolve", ref)
				}
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(tree)
	if refs < 50 {
		t.Errorf("only %d $refs", refs)
	}
	if r := e.do("GET", "/openapi.json", "", nil, "Authorization", ""); !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") || r.status != http.StatusOK {
		t.Errorf("GET /openapi.json: %d %s", r.status, r.header.Get("Content-Type"))
	}
}
