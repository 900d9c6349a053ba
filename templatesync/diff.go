package templatesync

import (
	"fmt"
	"strings"

	herald "github.com/heraldhq/herald"
)

// Diff shows how b (the provider's copy) differs from a (herald's): the
// title and each button on a line of their own, then the text line by
// line; "-" lines are a's, "+" lines b's, "  " lines shared. Empty when
// they are the same.
func Diff(a, b herald.Template) string {
	if a.ContentHash() == b.ContentHash() {
		return ""
	}
	var out strings.Builder
	if a.Title != b.Title {
		fmt.Fprintf(&out, "title:\n- %q\n+ %q\n", a.Title, b.Title)
	}
	if ab, bb := buttonLines(a.Buttons), buttonLines(b.Buttons); strings.Join(ab, "\n") != strings.Join(bb, "\n") {
		out.WriteString("buttons:\n")
		writeLines(&out, ab, bb)
	}
	if a.Text != b.Text {
		out.WriteString("text:\n")
		writeLines(&out, strings.Split(a.Text, "\n"), strings.Split(b.Text, "\n"))
	}
	return out.String()
}

func buttonLines(bs []herald.Button) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = fmt.Sprintf("%s %q %s %s %s %s", b.Type, b.Name, b.URLMobile, b.URLPC, b.SchemeIOS, b.SchemeAndroid)
		out[i] = strings.TrimRight(out[i], " ")
	}
	return out
}

// writeLines writes a line diff of a and b from their longest common
// subsequence (texts are a few dozen lines: quadratic is fine). A line
// that differs only in invisible characters is quoted so that the
// difference shows.
func writeLines(out *strings.Builder, a, b []string) {
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	show := func(s string) string {
		if s != strings.TrimSpace(s) || strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == '\u00a0' || r == '\u200b' }) {
			return fmt.Sprintf("%q", s)
		}
		return s
	}
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			out.WriteString("  " + show(a[i]) + "\n")
			i, j = i+1, j+1
		case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
			out.WriteString("- " + show(a[i]) + "\n")
			i++
		default:
			out.WriteString("+ " + show(b[j]) + "\n")
			j++
		}
	}
}
