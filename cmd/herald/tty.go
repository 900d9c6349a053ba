package main

import (
	"io"
	"os"

	"golang.org/x/term"

	"github.com/heraldhq/herald/internal/progress"
)

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// termWidth is w's width in columns, 0 when w is no terminal or will not say.
func termWidth(w io.Writer) int {
	f, ok := w.(*os.File)
	if !ok {
		return 0
	}
	width, _, err := term.GetSize(int(f.Fd()))
	if err != nil {
		return 0
	}
	return width
}

// newPrinter is a progress printer on w, redrawing in place when w is a
// terminal.
func newPrinter(w io.Writer) *progress.Printer {
	return progress.NewPrinter(w, isTerminal(w), termWidth(w))
}
