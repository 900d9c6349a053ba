package http

import "github.com/heraldhq/herald/importer"

// The import's answer, as the API sends it and the Client returns it.
type (
	// ImportResult is the answer of POST /v1/members/import.
	ImportResult = importer.Result
	// RowError points at one row of an imported file.
	RowError = importer.RowError
	// memberInput is the body the Client puts: a member as a client sends it.
	memberInput = importer.MemberInput
)
