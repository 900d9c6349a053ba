package http

import (
	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/infobank"
)

// decodeReport parses a report body in either shape.
func decodeReport(body []byte) (herald.Report, error) {
	return infobank.DecodeReport(body)
}
