package infobank

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

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

// Polled is one batch of polled reports. An empty ReportID means there
// was nothing to fetch. Invalid counts the reports of the batch that could
// not be read (a required field missing, a bad time): they are left out,
// since no store could keep them and the batch must still be acknowledged.
type Polled struct {
	ReportID string
	Reports  []herald.Report
	Invalid  int
}

// Poll fetches the next batch of reports (at most 1,000) for accounts set
// to polling. The same batch comes back until it is acknowledged with Ack.
// An account set to the webhook answers A801 (an *APIError).
func (c *Client) Poll(ctx context.Context) (Polled, error) {
	var resp PollingResponse
	if err := c.call(ctx, http.MethodGet, PathPolling, &resp); err != nil {
		return Polled{}, fmt.Errorf("poll reports: %w", err)
	}
	if resp.Data.Data == nil {
		return Polled{}, nil
	}
	b := Polled{ReportID: resp.Data.Data.ReportID, Reports: make([]herald.Report, 0, len(resp.Data.Data.Report))}
	for _, body := range resp.Data.Data.Report {
		r, err := ReportFromBody(body)
		if err != nil {
			b.Invalid++
			continue
		}
		r.Raw, _ = json.Marshal(body)
		b.Reports = append(b.Reports, r)
	}
	return b, nil
}

// Ack acknowledges a polled batch so that the provider drops it. An
// unknown or already acknowledged reportId answers 403 A802.
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
	if l := c.cfg.APILimiter; l != nil {
		release, err := l.Acquire(ctx)
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
		defer release()
	}
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
		if code == "" {
			code = "HTTP_" + strconv.Itoa(x.status)
		}
		return &APIError{Method: method, Path: path, Status: x.status, Code: code, Text: text}
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

// APIError is a refusal of a non-send API (inquiry, polling, ack,
// templates): the HTTP status and the most specific code of the answer
// (data.code, else common.authCode, else HTTP_<status>). A020 is a rate
// refusal whether it came as HTTP 429 or inside a 200.
type APIError struct {
	Method, Path string
	Status       int
	Code, Text   string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s %s: HTTP %d, code %q: %s", e.Method, e.Path, e.Status, e.Code, e.Text)
}

// ErrorCode returns the provider's code of err when it is (or wraps) an
// *APIError, else "".
func ErrorCode(err error) string {
	var e *APIError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// RateLimited reports whether err is the provider's rate refusal (A020 or
// HTTP 429): the caller should slow down, not give up.
func RateLimited(err error) bool {
	var e *APIError
	return errors.As(err, &e) && (e.Code == CodeRateLimited || e.Status == http.StatusTooManyRequests)
}
