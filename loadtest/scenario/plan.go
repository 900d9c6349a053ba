package scenario

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Plan is a scenario bound to one run: the target, the environment, fixed
// variables and the message ids to draw from. Its Targeter builds the
// request of each arrival; it is safe for concurrent use.
type Plan struct {
	base    string
	flows   []compiledFlow
	weights []int // cumulative
	vars    map[string][]string
	fixed   map[string]string
	ids     []string
	runID   string
	now     func() time.Time
	seq     atomic.Uint64 // message ids drawn
	keys    atomic.Uint64 // msgKeys made
	started atomic.Uint64 // requests begun
}

// compiledFlow is a Flow with its templates bound and functions resolved.
type compiledFlow struct {
	funcs   []generator
	method  string
	url     *Template
	abs     bool // url is absolute: the target is not prepended
	query   []Header
	headers []Header // canonical names; defaults first, so the request's win
	body    *Template
	json    bool
}

// Binding is what a run gives a scenario: where to aim, and the values its
// templates may use.
type Binding struct {
	Target string            // overrides the scenario's target
	IDs    []string          // message ids to draw; none: fresh ids
	Vars   map[string]string // variables every arrival starts with
	Env    func(string) (string, bool)
}

// NewPlan binds sc for one run, checking that every variable its templates
// use is set.
func NewPlan(sc *Scenario, cfg Binding) (*Plan, error) {
	base, err := targetURL(cfg.Target, sc.Target)
	if err != nil {
		return nil, err
	}
	p := &Plan{base: base, vars: sc.Variables, fixed: cfg.Vars, ids: cfg.IDs,
		runID: fmt.Sprintf("%08x", rand.Uint32()), now: time.Now}
	env := cfg.Env
	if env == nil {
		env = func(string) (string, bool) { return "", false }
	}
	total := 0
	for _, f := range sc.Flows {
		cf, err := p.compile(f, sc.Headers, env)
		if err != nil {
			return nil, err
		}
		total += f.Weight
		p.flows, p.weights = append(p.flows, cf), append(p.weights, total)
	}
	if total == 0 {
		return nil, &ParseError{Line: sc.Flows[0].Line, Msg: "every scenario has weight 0"}
	}
	return p, nil
}

// targetURL picks the override or the scenario's target and checks it.
func targetURL(override, scenario string) (string, error) {
	t := override
	if t == "" {
		t = scenario
	}
	if t == "" {
		return "", ErrNoTarget
	}
	u, err := url.Parse(t)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("target: want a URL such as http://127.0.0.1:8080, got %q", t)
	}
	return strings.TrimRight(t, "/"), nil
}

func (p *Plan) compile(f Flow, defaults []Header, env func(string) (string, bool)) (compiledFlow, error) {
	r := f.Request
	cf := compiledFlow{method: r.Method, json: r.JSON}
	known := p.knownVars()
	for _, fn := range append(append([]Function(nil), f.Functions...), r.Before...) {
		g := generators[fn.Name]
		for _, need := range g.needs {
			if !known[need] {
				return cf, &ParseError{Line: fn.Line, Msg: fmt.Sprintf("function %s needs the variable %s", fn.Name, need)}
			}
		}
		for _, s := range g.sets {
			known[s] = true
		}
		cf.funcs = append(cf.funcs, g)
	}
	b := binder{env: env, known: known}
	cf.url = b.bind(r.URL)
	cf.abs = absolute(cf.url.prefix())
	cf.query = b.headers(r.Query, false)
	cf.headers = b.headers(append(append([]Header(nil), defaults...), r.Headers...), true)
	if r.Body != nil {
		cf.body = b.bind(r.Body)
	}
	return cf, b.err
}

// absolute reports whether a url starts with a scheme: it ignores the target.
func absolute(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// knownVars are the variables set before any function runs.
func (p *Plan) knownVars() map[string]bool {
	known := make(map[string]bool, len(p.vars)+len(p.fixed))
	for k := range p.vars {
		known[k] = true
	}
	for k := range p.fixed {
		known[k] = true
	}
	return known
}

// binder binds templates and checks their variables, keeping the first error.
type binder struct {
	env   func(string) (string, bool)
	known map[string]bool
	err   error
}

func (b *binder) bind(t *Template) *Template {
	if b.err != nil {
		return t
	}
	for _, v := range t.Vars() {
		if !b.known[v] {
			b.err = &ParseError{Line: t.Line, Msg: fmt.Sprintf("{{ %s }} is not set by config.variables or by a function earlier in the flow", v)}
			return t
		}
	}
	bound, err := t.bind(b.env)
	if err != nil {
		b.err = err
		return t
	}
	return bound
}

func (b *binder) headers(hs []Header, canonical bool) []Header {
	out := make([]Header, 0, len(hs))
	for _, h := range hs {
		name := h.Name
		if canonical {
			name = textproto.CanonicalMIMEHeaderKey(name)
		}
		out = append(out, Header{Name: name, Value: b.bind(h.Value)})
	}
	return out
}

// Base is the target URL, without a trailing slash.
func (p *Plan) Base() string { return p.base }

// Started is the number of requests the targeter has begun.
func (p *Plan) Started() uint64 { return p.started.Load() }

// Targeter builds one request per arrival.
func (p *Plan) Targeter() vegeta.Targeter {
	return func(t *vegeta.Target) error {
		p.started.Add(1)
		f := &p.flows[p.pick()]
		vars := p.arrivalVars()
		for _, g := range f.funcs {
			g.run(p, vars)
		}
		f.fill(t, p.base, vars)
		return nil
	}
}

// pick draws a flow by weight.
func (p *Plan) pick() int {
	if len(p.flows) == 1 {
		return 0
	}
	n := rand.IntN(p.weights[len(p.weights)-1])
	for i, w := range p.weights {
		if n < w {
			return i
		}
	}
	return len(p.weights) - 1
}

// arrivalVars starts an arrival's variables: fixed ones, then one value
// of each config variable.
func (p *Plan) arrivalVars() map[string]string {
	vars := make(map[string]string, len(p.fixed)+len(p.vars)+4)
	for k, v := range p.fixed {
		vars[k] = v
	}
	for k, vs := range p.vars {
		vars[k] = vs[rand.IntN(len(vs))]
	}
	return vars
}

// nextID draws the next message id: from the given ids in turn, else a
// fresh one unique to this run.
func (p *Plan) nextID() string {
	n := p.seq.Add(1) - 1
	if len(p.ids) > 0 {
		return p.ids[n%uint64(len(p.ids))]
	}
	return "lt-" + p.runID + "-" + strconv.FormatUint(n, 10)
}

// newKey makes a msgKey no provider has issued.
func (p *Plan) newKey() string {
	return "LT" + p.runID + strconv.FormatUint(p.keys.Add(1), 10)
}

// fill writes the arrival's request into t.
func (f *compiledFlow) fill(t *vegeta.Target, base string, vars map[string]string) {
	u := f.url.render(nil, vars)
	if !f.abs {
		u = append([]byte(base), u...)
	}
	for i, q := range f.query {
		sep := byte('&')
		if i == 0 && !strings.Contains(string(u), "?") {
			sep = '?'
		}
		u = append(u, sep)
		u = append(u, url.QueryEscape(q.Name)+"="+url.QueryEscape(q.Value.Render(vars))...)
	}
	t.Method, t.URL = f.method, string(u)
	t.Header = make(http.Header, len(f.headers)+1)
	for _, h := range f.headers {
		t.Header[h.Name] = []string{h.Value.Render(vars)}
	}
	if f.body != nil {
		t.Body = f.body.render(nil, vars)
	}
	if f.json && t.Header["Content-Type"] == nil {
		t.Header["Content-Type"] = []string{"application/json"}
	}
}
