package http_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strconv"
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
		heraldhttp.CodeMethodNotAllowed, heraldhttp.CodeConflict, heraldhttp.CodeTooLarge, heraldhttp.CodeUnsupportedMediaType, heraldhttp.CodeUnavailable,
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

// The schemas say what the answers really hold: every key an answer has
// is a documented property, and every required property is there, down
// through $ref, items and map values.
func TestOpenAPISchemasMatchAnswers(t *testing.T) {
	t.Parallel()
	e := reviewEnv(t)
	doc, _ := e.openAPI()
	schemas := map[string]map[string]any{}
	for name, raw := range doc.Components.Schemas {
		var s map[string]any
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatal(err)
		}
		schemas[name] = s
	}
	check := func(what, schema string, body []byte) {
		t.Helper()
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		checkSchema(t, what, schemas, schemas[schema], v)
	}
	var c struct{ ID int64 }
	r := e.json("POST", "/v1/campaigns", map[string]any{"name": "spring", "templateCode": "WELCOME_1", "sendWindow": "09:00-18:00",
		"audience": map[string]any{"memberIds": []string{"m0", "m3", "m5", "ghost"}}, "variables": map[string]string{"shop": "herald"}, "tps": 50})
	r.want(t, 201, &c)
	check("POST /v1/campaigns", "Campaign", r.body)
	id := itoa(c.ID)
	r = e.do("POST", "/v1/campaigns/"+id+"/review", "", nil)
	r.want(t, 200, nil)
	check("review", "Review", r.body)
	r = e.do("POST", "/v1/campaigns/"+id+"/approve", "", nil, "Authorization", "Bearer "+tokenB)
	r.want(t, 200, nil)
	check("approve", "Campaign", r.body)
	r = e.do("POST", "/v1/campaigns/"+id+"/clone", "", nil)
	r.want(t, 201, nil)
	check("clone", "Campaign", r.body)
	r = e.do("GET", "/v1/templates/WELCOME_1", "", nil)
	r.want(t, 200, nil)
	check("template", "Template", r.body)
	r = e.postMessage("order-1", map[string]any{"templateCode": "WELCOME_1", "memberId": "m0", "variables": map[string]string{"shop": "h"}})
	r.want(t, 202, nil)
	check("POST /v1/messages", "Message", r.body)
	r = e.postMessage("order-1", map[string]any{"templateCode": "WELCOME_1", "memberId": "m1", "variables": map[string]string{"shop": "h"}})
	r.want(t, 409, nil)
	check("409", "Error", r.body)
	r = e.do("GET", "/v1/messages/1", "", nil)
	r.want(t, 200, nil)
	check("GET /v1/messages/1", "Message", r.body)
}

func checkSchema(t *testing.T, at string, schemas map[string]map[string]any, s map[string]any, v any) {
	t.Helper()
	if ref, ok := s["$ref"].(string); ok {
		name, _ := strings.CutPrefix(ref, "#/components/schemas/")
		checkSchema(t, at, schemas, schemas[name], v)
		return
	}
	switch v := v.(type) {
	case map[string]any:
		props, _ := s["properties"].(map[string]any)
		if props == nil {
			if extra, ok := s["additionalProperties"].(map[string]any); ok {
				for k, x := range v {
					checkSchema(t, at+"."+k, schemas, extra, x)
				}
			}
			return
		}
		for k, x := range v {
			p, ok := props[k].(map[string]any)
			if !ok {
				t.Errorf("%s: key %q is not in the schema", at, k)
				continue
			}
			checkSchema(t, at+"."+k, schemas, p, x)
		}
		req, _ := s["required"].([]any)
		for _, k := range req {
			if _, ok := v[k.(string)]; !ok {
				t.Errorf("%s: required %q is missing", at, k)
			}
		}
	case []any:
		if items, ok := s["items"].(map[string]any); ok {
			for i, x := range v {
				checkSchema(t, at+"["+strconv.Itoa(i)+"]", schemas, items, x)
			}
		}
	}
}
