package infobank

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	herald "github.com/heraldhq/herald"
)

// Inquire implements herald.Provider: the reports the provider holds for
// msgKey (none is an empty slice, not an error).
func (c *Client) Inquire(ctx context.Context, msgKey string) ([]herald.Report, error) {
	if msgKey == "" {
		return nil, herald.Invalid("msgKey", "is required")
	}
	var resp InquiryResponse
	if err := c.call(ctx, http.MethodGet, PathInquiry+url.PathEscape(msgKey), &resp); err != nil {
		return nil, fmt.Errorf("inquire %s: %w", msgKey, err)
	}
	if resp.Data.Data == nil {
		return []herald.Report{}, nil
	}
	return reportsFromBodies(resp.Data.Data.Report)
}

// Poll fetches the next batch of reports (at most 1,000) for accounts set
// to polling. The batch must be acknowledged with Ack before the next one
// is handed out; an empty reportID means there was nothing to fetch.
func (c *Client) Poll(ctx context.Context) (reportID string, reports []herald.Report, err error) {
	var resp PollingResponse
	if err := c.call(ctx, http.MethodGet, PathPolling, &resp); err != nil {
		return "", nil, fmt.Errorf("poll reports: %w", err)
	}
	if resp.Data.Data == nil {
		return "", nil, nil
	}
	reports, err = reportsFromBodies(resp.Data.Data.Report)
	return resp.Data.Data.ReportID, reports, err
}

// Ack acknowledges a polled batch so that the provider drops it.
func (c *Client) Ack(ctx context.Context, reportID string) error {
	if reportID == "" {
		return herald.Invalid("reportID", "is required")
	}
	var resp AckResponse
	if err := c.call(ctx, http.MethodDelete, PathPolling+"/"+url.PathEscape(reportID), &resp); err != nil {
		return fmt.Errorf("ack reports %s: %w", reportID, err)
	}
	return nil
}

// envelope is any *Envelope[T].
type envelope interface {
	result() (common Common, code, text string)
}

// call runs a request whose 200 answer carries data.code A000 and decodes
// it into out.
func (c *Client) call(ctx context.Context, method, path string, out envelope) error {
	x := c.do(ctx, method, path, nil)
	if x.err != nil {
		return fmt.Errorf("%s %s: %s", method, path, errorText(x.err))
	}
	if x.bodyErr != nil {
		return fmt.Errorf("%s %s: read answer: %s", method, path, errorText(x.bodyErr))
	}
	decodeErr := json.Unmarshal(x.body, out)
	common, code, text := out.result()
	if x.status != http.StatusOK || code != CodeSuccess {
		if code == "" {
			code, text = common.AuthCode, common.AuthResult
		}
		return fmt.Errorf("%s %s: HTTP %d, code %q: %s", method, path, x.status, code, text)
	}
	if decodeErr != nil {
		return fmt.Errorf("%s %s: unreadable answer: %w", method, path, decodeErr)
	}
	return nil
}

// result exposes the codes of any envelope to call.
func (e *Envelope[T]) result() (Common, string, string) {
	if e.Data == nil {
		return e.Common, "", ""
	}
	return e.Common, e.Data.Code, e.Data.Result
}

// reportsFromBodies converts wire reports; Raw is each report re-encoded.
func reportsFromBodies(bodies []ReportBody) ([]herald.Report, error) {
	out := make([]herald.Report, 0, len(bodies))
	for i, b := range bodies {
		r, err := ReportFromBody(b)
		if err != nil {
			return nil, fmt.Errorf("report %d: %w", i, err)
		}
		r.Raw, _ = json.Marshal(b)
		out = append(out, r)
	}
	return out, nil
}
