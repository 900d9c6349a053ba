package scenario

import (
	"math"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// maxAliasDepth bounds alias chains, which yaml.v3 leaves unresolved in a Node.
const maxAliasDepth = 64

// resolve follows aliases to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < maxAliasDepth; i++ {
		n = n.Alias
	}
	return n
}

// pair is one key and value of a mapping.
type pair struct {
	key  string
	k, v *yaml.Node
}

// pairs returns the entries of a mapping in file order.
func pairs(n *yaml.Node, what string) ([]pair, error) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, errAt(n, "%s must be a mapping", what)
	}
	out := make([]pair, 0, len(n.Content)/2)
	seen := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := resolve(n.Content[i])
		if k == nil || k.Kind != yaml.ScalarNode {
			return nil, errAt(n.Content[i], "%s: keys must be plain names", what)
		}
		if seen[k.Value] {
			return nil, errAt(k, "%s: duplicate key %q", what, k.Value)
		}
		seen[k.Value] = true
		out = append(out, pair{key: k.Value, k: k, v: n.Content[i+1]})
	}
	return out, nil
}

// items returns the elements of a sequence.
func items(n *yaml.Node, what string) ([]*yaml.Node, error) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil, errAt(n, "%s must be a list", what)
	}
	return n.Content, nil
}

// scalar returns the text of a scalar.
func scalar(n *yaml.Node, what string) (string, error) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.ScalarNode {
		return "", errAt(n, "%s must be a single value", what)
	}
	return n.Value, nil
}

// number returns a finite, non-negative number.
func number(n *yaml.Node, what string) (float64, error) {
	s, err := scalar(n, what)
	if err != nil {
		return 0, err
	}
	f, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, errAt(n, "%s: want a number, got %q", what, s)
	}
	if f < 0 {
		return 0, errAt(n, "%s must not be negative, got %s", what, s)
	}
	return f, nil
}

// seconds reads a duration: a number of seconds or a Go duration ("90s").
func seconds(n *yaml.Node, what string) (time.Duration, error) {
	s, err := scalar(n, what)
	if err != nil {
		return 0, err
	}
	if d, perr := time.ParseDuration(s); perr == nil {
		if d < 0 {
			return 0, errAt(n, "%s must not be negative, got %s", what, s)
		}
		return d, nil
	}
	f, err := number(n, what+" (seconds)")
	if err != nil {
		return 0, err
	}
	if f > float64(math.MaxInt64)/float64(time.Second) {
		return 0, errAt(n, "%s is too long: %s", what, s)
	}
	return time.Duration(f * float64(time.Second)), nil
}

// integer returns a non-negative integer.
func integer(n *yaml.Node, what string) (int, error) {
	s, err := scalar(n, what)
	if err != nil {
		return 0, err
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 {
		return 0, errAt(n, "%s: want a whole number ≥ 0, got %q", what, s)
	}
	return v, nil
}
