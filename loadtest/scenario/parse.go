package scenario

import (
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"
)

// parser fills a Scenario from the YAML tree, node by node, so that every
// error names the line it is about.
type parser struct {
	sc *Scenario
}

// warn records a key that herald reads but does not act on.
func (p *parser) warn(n *yaml.Node, format string, args ...any) {
	p.sc.Warnings = append(p.sc.Warnings, fmt.Sprintf("line %d: ", n.Line)+fmt.Sprintf(format, args...))
}

func (p *parser) root(n *yaml.Node) error {
	ps, err := pairs(n, "the scenario")
	if err != nil {
		return err
	}
	var config, flows *yaml.Node
	for _, kv := range ps {
		switch kv.key {
		case "config":
			config = kv.v
		case "scenarios":
			flows = kv.v
		default:
			p.warn(kv.k, "%q is ignored", kv.key)
		}
	}
	if config == nil {
		return errAt(n, "config is missing")
	}
	if err := p.config(config); err != nil {
		return err
	}
	if flows == nil {
		return errAt(n, "scenarios is missing")
	}
	return p.flows(flows)
}

func (p *parser) config(n *yaml.Node) error {
	ps, err := pairs(n, "config")
	if err != nil {
		return err
	}
	var phases *yaml.Node
	for _, kv := range ps {
		switch kv.key {
		case "target":
			p.sc.Target, err = scalar(kv.v, "config.target")
		case "phases":
			phases = kv.v
		case "processor":
			p.sc.Processor, err = scalar(kv.v, "config.processor")
		case "variables":
			err = p.variables(kv.v)
		case "defaults":
			err = p.defaults(kv.v)
		case "http":
			err = p.http(kv.v)
		default:
			p.warn(kv.k, "config.%s is ignored", kv.key)
		}
		if err != nil {
			return err
		}
	}
	if phases == nil {
		return errAt(n, "config.phases is missing")
	}
	return p.phases(phases)
}

func (p *parser) phases(n *yaml.Node) error {
	list, err := items(n, "config.phases")
	if err != nil {
		return err
	}
	if len(list) == 0 {
		return errAt(n, "config.phases is empty")
	}
	for i, item := range list {
		ph, err := p.phase(item, fmt.Sprintf("config.phases[%d]", i))
		if err != nil {
			return err
		}
		p.sc.Phases = append(p.sc.Phases, ph)
	}
	return nil
}

// phaseFields are the values of one phase as written.
type phaseFields struct {
	duration, pause       time.Duration
	rate, rampTo, count   float64
	hasRate, hasRamp      bool
	hasPause, hasCount    bool
	hasDuration           bool
	durationNode, topNode *yaml.Node
}

func (p *parser) phase(n *yaml.Node, what string) (Phase, error) {
	ps, err := pairs(n, what)
	if err != nil {
		return Phase{}, err
	}
	f := phaseFields{topNode: resolve(n)}
	ph := Phase{Line: f.topNode.Line}
	for _, kv := range ps {
		if err := p.phaseField(kv, what, &f, &ph); err != nil {
			return Phase{}, err
		}
	}
	return f.phase(ph, what)
}

func (p *parser) phaseField(kv pair, what string, f *phaseFields, ph *Phase) error {
	var err error
	key := what + "." + kv.key
	switch kv.key {
	case "duration":
		f.duration, err = seconds(kv.v, key)
		f.hasDuration, f.durationNode = true, kv.v
	case "arrivalRate":
		f.rate, err = number(kv.v, key)
		f.hasRate = true
	case "rampTo":
		f.rampTo, err = number(kv.v, key)
		f.hasRamp = true
	case "arrivalCount":
		f.count, err = number(kv.v, key)
		f.hasCount = true
	case "pause":
		f.pause, err = seconds(kv.v, key)
		f.hasPause = true
	case "name":
		ph.Name, err = scalar(kv.v, key)
	default:
		p.warn(kv.k, "%s is ignored", key)
	}
	return err
}

// phase checks that the fields make one phase and returns it.
func (f phaseFields) phase(ph Phase, what string) (Phase, error) {
	switch {
	case f.hasPause:
		if f.hasRate || f.hasCount {
			return ph, errAt(f.topNode, "%s: a pause phase takes no arrivalRate or arrivalCount", what)
		}
		ph.Duration = f.pause
	case !f.hasDuration:
		return ph, errAt(f.topNode, "%s: duration is missing", what)
	case f.duration == 0:
		return ph, errAt(f.durationNode, "%s.duration must be positive", what)
	case f.hasCount:
		if f.hasRate || f.hasRamp {
			return ph, errAt(f.topNode, "%s: arrivalCount excludes arrivalRate and rampTo", what)
		}
		ph.Duration = f.duration
		ph.Rate = f.count / f.duration.Seconds()
		ph.RampTo = ph.Rate
	case !f.hasRate:
		return ph, errAt(f.topNode, "%s: arrivalRate is missing", what)
	default:
		ph.Duration, ph.Rate, ph.RampTo = f.duration, f.rate, f.rate
		if f.hasRamp {
			ph.RampTo = f.rampTo
		}
	}
	if ph.Name == "" {
		ph.Name = fmt.Sprintf("phase %d", ph.Line)
	}
	return ph, nil
}

func (p *parser) variables(n *yaml.Node) error {
	ps, err := pairs(n, "config.variables")
	if err != nil {
		return err
	}
	p.sc.Variables = make(map[string][]string, len(ps))
	for _, kv := range ps {
		vals, err := values(kv.v, "config.variables."+kv.key)
		if err != nil {
			return err
		}
		p.sc.Variables[kv.key] = vals
	}
	return nil
}

// values reads a variable: one value or a non-empty list of values.
func values(n *yaml.Node, what string) ([]string, error) {
	if r := resolve(n); r != nil && r.Kind == yaml.SequenceNode {
		if len(r.Content) == 0 {
			return nil, errAt(r, "%s is an empty list", what)
		}
		out := make([]string, len(r.Content))
		for i, item := range r.Content {
			s, err := scalar(item, what)
			if err != nil {
				return nil, err
			}
			out[i] = s
		}
		return out, nil
	}
	s, err := scalar(n, what)
	return []string{s}, err
}

func (p *parser) defaults(n *yaml.Node) error {
	ps, err := pairs(n, "config.defaults")
	if err != nil {
		return err
	}
	for _, kv := range ps {
		if kv.key != "headers" {
			p.warn(kv.k, "config.defaults.%s is ignored", kv.key)
			continue
		}
		if p.sc.Headers, err = headers(kv.v, "config.defaults.headers"); err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) http(n *yaml.Node) error {
	ps, err := pairs(n, "config.http")
	if err != nil {
		return err
	}
	for _, kv := range ps {
		if kv.key != "timeout" {
			p.warn(kv.k, "config.http.%s is ignored", kv.key)
			continue
		}
		if p.sc.Timeout, err = seconds(kv.v, "config.http.timeout"); err != nil {
			return err
		}
	}
	return nil
}

// headers reads a mapping of names to templated values.
func headers(n *yaml.Node, what string) ([]Header, error) {
	ps, err := pairs(n, what)
	if err != nil {
		return nil, err
	}
	out := make([]Header, 0, len(ps))
	for _, kv := range ps {
		s, err := scalar(kv.v, what+"."+kv.key)
		if err != nil {
			return nil, err
		}
		t, err := parseTemplate(s, resolve(kv.v).Line)
		if err != nil {
			return nil, err
		}
		out = append(out, Header{Name: kv.key, Value: t})
	}
	return out, nil
}
