// Package seedtest hands the load tester's tests the seed project's
// scenario, examples/seed-scenario.yml, wherever they run from.
package seedtest

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Path is the seed scenario's file.
func Path() string {
	_, here, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(here), "..", "..", "..", "examples", "seed-scenario.yml")
}

// Read returns the seed scenario's text.
func Read(t testing.TB) []byte {
	t.Helper()
	data, err := os.ReadFile(Path())
	if err != nil {
		t.Fatal(err)
	}
	return data
}
