package scenario

import (
	"math"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// JSON body bounds: a report is a few fields; these only stop a hostile
// file (deep nesting, alias fan-out) from exhausting memory.
const (
	maxBodyNodes = 10000
	maxBodyDepth = 64
	maxBodyBytes = 1 << 20
)

// jsonBuilder compiles a YAML value into a template of its JSON text:
// strings are templates, escaped as they render; everything else is fixed.
type jsonBuilder struct {
	t      *Template
	lit    []byte // literal JSON not yet in t
	size   int
	budget int
}

// jsonTemplate compiles a request's json: value.
func jsonTemplate(n *yaml.Node) (*Template, error) {
	b := &jsonBuilder{t: &Template{Source: "json", Line: lineOf(n)}, budget: maxBodyNodes}
	if err := b.value(n, 0); err != nil {
		return nil, err
	}
	b.flush()
	if b.size > maxBodyBytes {
		return nil, errAt(n, "json body is larger than %d bytes", maxBodyBytes)
	}
	return b.t, nil
}

// literal adds fixed JSON text; past the size bound it only counts.
func (b *jsonBuilder) literal(s string) {
	if b.size += len(s); b.size <= maxBodyBytes {
		b.lit = append(b.lit, s...)
	}
}

// slot adds a part rendered per request.
func (b *jsonBuilder) slot(p part) {
	b.flush()
	b.t.parts = append(b.t.parts, p)
}

func (b *jsonBuilder) flush() {
	if len(b.lit) > 0 {
		b.t.literal(string(b.lit))
		b.lit = b.lit[:0]
	}
}

func lineOf(n *yaml.Node) int {
	if n = resolve(n); n != nil {
		return n.Line
	}
	return 1
}

func (b *jsonBuilder) value(n *yaml.Node, depth int) error {
	n = resolve(n)
	if b.budget--; b.budget < 0 || depth > maxBodyDepth || b.size > maxBodyBytes {
		return errAt(n, "json body is too large or too deeply nested")
	}
	switch {
	case n == nil:
		return errAt(n, "json body has an empty value")
	case n.Kind == yaml.MappingNode:
		return b.object(n, depth)
	case n.Kind == yaml.SequenceNode:
		return b.array(n, depth)
	case n.Kind == yaml.ScalarNode:
		return b.scalar(n)
	}
	return errAt(n, "json body: unsupported value")
}

func (b *jsonBuilder) object(n *yaml.Node, depth int) error {
	ps, err := pairs(n, "json")
	if err != nil {
		return err
	}
	b.literal("{")
	for i, kv := range ps {
		if i > 0 {
			b.literal(",")
		}
		b.literal(`"` + string(appendJSONEscaped(nil, kv.key)) + `":`)
		if err := b.value(kv.v, depth+1); err != nil {
			return err
		}
	}
	b.literal("}")
	return nil
}

func (b *jsonBuilder) array(n *yaml.Node, depth int) error {
	b.literal("[")
	for i, item := range n.Content {
		if i > 0 {
			b.literal(",")
		}
		if err := b.value(item, depth+1); err != nil {
			return err
		}
	}
	b.literal("]")
	return nil
}

// scalar writes null, a boolean, a number or a templated string.
func (b *jsonBuilder) scalar(n *yaml.Node) error {
	switch n.ShortTag() {
	case "!!null":
		b.literal("null")
		return nil
	case "!!bool":
		var v bool
		if err := n.Decode(&v); err != nil {
			return errAt(n, "json: %q is not a boolean", n.Value)
		}
		b.literal(strconv.FormatBool(v))
		return nil
	case "!!int", "!!float":
		return b.number(n)
	}
	return b.text(n)
}

func (b *jsonBuilder) number(n *yaml.Node) error {
	var f float64
	if err := n.Decode(&f); err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return errAt(n, "json: %q is not a JSON number", n.Value)
	}
	var i int64
	if n.ShortTag() == "!!int" && n.Decode(&i) == nil {
		b.literal(strconv.FormatInt(i, 10))
		return nil
	}
	b.literal(strconv.FormatFloat(f, 'g', -1, 64))
	return nil
}

// text writes a JSON string whose slots are escaped when they render.
func (b *jsonBuilder) text(n *yaml.Node) error {
	if b.size+len(n.Value) > maxBodyBytes {
		return errAt(n, "json body is larger than %d bytes", maxBodyBytes)
	}
	t, err := parseTemplate(n.Value, n.Line)
	if err != nil {
		return err
	}
	b.literal(`"`)
	for _, p := range t.parts {
		if p.kind == partLiteral {
			b.literal(string(appendJSONEscaped(nil, p.text)))
			continue
		}
		p.escape = true
		b.slot(p)
	}
	b.literal(`"`)
	return nil
}
