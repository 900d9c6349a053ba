package scenario

import (
	"errors"
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"
)

// Scenario is an Artillery script reduced to the subset herald runs:
// config.target, config.phases, config.variables, config.defaults.headers,
// config.http.timeout and scenarios whose flow is built-in functions
// followed by one request.
type Scenario struct {
	Target    string
	Phases    []Phase
	Processor string              // named, never loaded: functions are built in
	Variables map[string][]string // one value drawn per arrival
	Headers   []Header            // config.defaults.headers
	Timeout   time.Duration       // config.http.timeout; zero when absent
	Flows     []Flow
	Warnings  []string // keys herald ignores, with their lines
}

// Phase is a span of constant or linearly ramping arrival rate.
type Phase struct {
	Name     string
	Duration time.Duration
	Rate     float64 // arrivals per second at the start
	RampTo   float64 // arrivals per second at the end; Rate when constant
	Line     int
}

// Flow is one Artillery scenario: functions, then one request.
type Flow struct {
	Name      string
	Weight    int
	Functions []Function
	Request   Request
	Line      int
}

// Function is a processor function named in a flow; it runs built in.
type Function struct {
	Name string
	Line int
}

// Request is the HTTP request of a flow.
type Request struct {
	Method  string
	URL     *Template
	Query   []Header // qs, in file order
	Headers []Header
	Body    *Template // rendered JSON when JSON is set, else raw text
	JSON    bool
	Before  []Function // beforeRequest hooks, run after the flow's functions
	Line    int
}

// Header is a name and a templated value.
type Header struct {
	Name  string
	Value *Template
}

// ParseError is a scenario error at a line of the file.
type ParseError struct {
	Line int
	Msg  string
}

// Error implements error.
func (e *ParseError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// errAt returns a ParseError at the line of n.
func errAt(n *yaml.Node, format string, args ...any) error {
	line := 1
	if n != nil && n.Line > 0 {
		line = n.Line
	}
	return &ParseError{Line: line, Msg: fmt.Sprintf(format, args...)}
}

// Parse reads a scenario. Syntax errors carry yaml's line number and
// semantic errors are *ParseError values with the line of the offending node.
func Parse(data []byte) (*Scenario, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	if len(doc.Content) == 0 {
		return nil, &ParseError{Line: 1, Msg: "the scenario is empty"}
	}
	p := &parser{sc: &Scenario{}}
	if err := p.root(doc.Content[0]); err != nil {
		return nil, err
	}
	return p.sc, nil
}

// Scaled returns the phases with every duration multiplied by f.
func Scaled(phases []Phase, f float64) []Phase {
	out := make([]Phase, len(phases))
	for i, ph := range phases {
		ph.Duration = time.Duration(float64(ph.Duration) * f)
		out[i] = ph
	}
	return out
}

// ErrNoTarget is returned when neither the scenario nor the caller names a target.
var ErrNoTarget = errors.New("no target: set config.target in the scenario or pass --target")
