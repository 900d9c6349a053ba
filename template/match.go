package template

import "strings"

// Matches reports whether text is the approved template with each slot
// replaced by some string, the check Kakao applies before delivering
// (otherwise report 63016). An invalid template matches nothing.
func Matches(approved, text string) bool {
	p, err := Parse(approved)
	return err == nil && p.Matches(text)
}

// Matches reports whether text is p with each slot replaced by some string.
// A slot may match the empty string: the provider cannot know the values,
// only that the literal text around them is unchanged, byte for byte.
//
// This is wildcard matching where every slot is a '*'. The first literal
// must be a prefix and the last a suffix; each literal between is taken at
// its leftmost occurrence, which is always safe because it leaves the longest
// remainder for the literals after it. So no backtracking is needed and the
// cost is that of strings.Index: linear in practice, O(n*m) at worst.
func (p *Parsed) Matches(text string) bool {
	last := len(p.lits) - 1
	if last == 0 {
		return text == p.lits[0]
	}
	head, tail := p.lits[0], p.lits[last]
	if len(text) < p.litLen || !strings.HasPrefix(text, head) || !strings.HasSuffix(text, tail) {
		return false
	}
	// litLen covers head and tail, so they cannot overlap here.
	mid := text[len(head) : len(text)-len(tail)]
	for _, lit := range p.lits[1:last] {
		i := strings.Index(mid, lit)
		if i < 0 {
			return false
		}
		mid = mid[i+len(lit):]
	}
	return true
}
