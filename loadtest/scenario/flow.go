package scenario

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// methods maps Artillery's request steps to HTTP methods.
var methods = map[string]string{
	"get": http.MethodGet, "post": http.MethodPost, "put": http.MethodPut, "patch": http.MethodPatch,
	"delete": http.MethodDelete, "head": http.MethodHead, "options": http.MethodOptions,
}

// ignoredRequestKeys are Artillery request options herald reads past:
// herald counts every status outside 2xx/3xx as an error instead.
var ignoredRequestKeys = []string{"capture", "expect", "match", "afterResponse", "name", "followRedirect"}

func (p *parser) flows(n *yaml.Node) error {
	list, err := items(n, "scenarios")
	if err != nil {
		return err
	}
	if len(list) == 0 {
		return errAt(n, "scenarios is empty")
	}
	for i, item := range list {
		f, err := p.flow(item, fmt.Sprintf("scenarios[%d]", i))
		if err != nil {
			return err
		}
		p.sc.Flows = append(p.sc.Flows, f)
	}
	return nil
}

func (p *parser) flow(n *yaml.Node, what string) (Flow, error) {
	ps, err := pairs(n, what)
	if err != nil {
		return Flow{}, err
	}
	f := Flow{Weight: 1, Line: resolve(n).Line}
	var steps *yaml.Node
	for _, kv := range ps {
		switch kv.key {
		case "flow":
			steps = kv.v
		case "name":
			f.Name, err = scalar(kv.v, what+".name")
		case "weight":
			f.Weight, err = integer(kv.v, what+".weight")
		case "beforeScenario":
			f.Functions, err = functionNames(kv.v, what+".beforeScenario")
		case "engine":
			err = requireHTTP(kv.v, what)
		default:
			p.warn(kv.k, "%s.%s is ignored", what, kv.key)
		}
		if err != nil {
			return Flow{}, err
		}
	}
	if steps == nil {
		return Flow{}, errAt(n, "%s: flow is missing", what)
	}
	return f, p.steps(steps, what+".flow", &f)
}

func requireHTTP(n *yaml.Node, what string) error {
	s, err := scalar(n, what+".engine")
	if err == nil && s != "http" {
		err = errAt(n, "%s: engine %q is not supported, only http", what, s)
	}
	return err
}

// steps reads a flow: any number of functions, then exactly one request.
func (p *parser) steps(n *yaml.Node, what string, f *Flow) error {
	list, err := items(n, what)
	if err != nil {
		return err
	}
	seen := false
	for i, item := range list {
		req, fn, err := p.step(item, fmt.Sprintf("%s[%d]", what, i))
		switch {
		case err != nil:
			return err
		case fn != nil && !seen:
			f.Functions = append(f.Functions, *fn)
		case fn != nil:
			p.warn(resolve(item), "%s: function %s after the request has no effect", what, fn.Name)
		case seen:
			return errAt(item, "%s: a flow sends one request per arrival; this is a second one (split it into its own scenario)", what)
		default:
			f.Request, seen = *req, true
		}
	}
	if !seen {
		return errAt(n, "%s has no request (get, post, …)", what)
	}
	return nil
}

// step reads one flow step: a request or a function.
func (p *parser) step(n *yaml.Node, what string) (*Request, *Function, error) {
	ps, err := pairs(n, what)
	if err != nil {
		return nil, nil, err
	}
	if len(ps) != 1 {
		return nil, nil, errAt(n, "%s: a step has one key (function, get, post, …), got %d", what, len(ps))
	}
	kv := ps[0]
	if kv.key == "function" {
		name, err := scalar(kv.v, what+".function")
		if err != nil {
			return nil, nil, err
		}
		fn := Function{Name: name, Line: resolve(kv.v).Line}
		return nil, &fn, checkFunction(fn, kv.v)
	}
	method, ok := methods[kv.key]
	if !ok {
		return nil, nil, errAt(kv.k, "%s: step %q is not supported (herald runs function and get/post/put/patch/delete/head/options)", what, kv.key)
	}
	req, err := p.request(kv.v, what+"."+kv.key, method)
	return req, nil, err
}

func (p *parser) request(n *yaml.Node, what, method string) (*Request, error) {
	ps, err := pairs(n, what)
	if err != nil {
		return nil, err
	}
	r := &Request{Method: method, Line: resolve(n).Line}
	for _, kv := range ps {
		if err := p.requestField(kv, what, r); err != nil {
			return nil, err
		}
	}
	if r.URL == nil {
		return nil, errAt(n, "%s: url is missing", what)
	}
	return r, nil
}

func (p *parser) requestField(kv pair, what string, r *Request) error {
	var err error
	key := what + "." + kv.key
	switch kv.key {
	case "url":
		r.URL, err = templateNode(kv.v, key)
	case "headers":
		r.Headers, err = headers(kv.v, key)
	case "qs":
		r.Query, err = headers(kv.v, key)
	case "json":
		r.Body, err = jsonTemplate(kv.v)
		r.JSON = true
	case "body":
		r.Body, err = templateNode(kv.v, key)
	case "beforeRequest":
		r.Before, err = functionNames(kv.v, key)
	default:
		if !slices.Contains(ignoredRequestKeys, kv.key) {
			return errAt(kv.k, "%s is not supported", key)
		}
		p.warn(kv.k, "%s is ignored", key)
	}
	return err
}

// functionNames reads a function name or a list of them.
func functionNames(n *yaml.Node, what string) ([]Function, error) {
	names, err := values(n, what)
	if err != nil {
		return nil, err
	}
	out := make([]Function, len(names))
	for i, name := range names {
		out[i] = Function{Name: name, Line: resolve(n).Line}
		if err := checkFunction(out[i], n); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// checkFunction refuses a name that has no built-in equivalent.
func checkFunction(fn Function, n *yaml.Node) error {
	if _, ok := generators[fn.Name]; ok {
		return nil
	}
	return errAt(n, "function %q: herald cannot run JavaScript processors; built-in functions are %s",
		fn.Name, strings.Join(generatorNames(), ", "))
}

// templateNode compiles a scalar as a template.
func templateNode(n *yaml.Node, what string) (*Template, error) {
	s, err := scalar(n, what)
	if err != nil {
		return nil, err
	}
	return parseTemplate(s, resolve(n).Line)
}
