// Package scenario reads Artillery load scenarios (the subset herald runs:
// phases, variables, default headers, built-in processor functions and one
// request per flow) and binds them to a run as a Plan that builds each
// arrival's request.
package scenario
