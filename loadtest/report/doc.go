// Package report prints the outcome of a load test: tables for a terminal
// and a self-contained HTML page with inline SVG charts, for a run and for a
// find-max search.
package report
