package http

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	herald "github.com/heraldhq/herald"
)

// Client timeouts. A call gets defaultCallTimeout unless its context has a
// deadline already; an import is bounded only by the caller's context,
// because it streams for as long as the file takes.
const (
	defaultCallTimeout    = 30 * time.Second
	importResponseTimeout = 5 * time.Minute // from the end of the upload to the answer
	maxErrorBody          = 64 << 10
)

// Client is a typed client of the admin API. Its errors are *Error values
// that unwrap to herald.ErrNotFound, herald.ErrConflict or a
// *herald.InvalidError naming the field, like the store's own errors.
type Client struct {
	base  string
	token string
	hc    *http.Client
}

// ClientOption configures a Client.
type ClientOption func(*Client)

// WithHTTPClient replaces the default HTTP client. It should have timeouts.
func WithHTTPClient(hc *http.Client) ClientOption {
	return func(c *Client) { c.hc = hc }
}

// NewClient returns a client of the API at baseURL (such as
// http://127.0.0.1:8080) that authenticates with the admin token.
func NewClient(baseURL, token string, opts ...ClientOption) *Client {
	c := &Client{base: strings.TrimRight(baseURL, "/"), token: token, hc: newHTTPClient()}
	for _, o := range opts {
		o(c)
	}
	return c
}

func newHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: importResponseTimeout,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   4,
		MaxConnsPerHost:       16,
	}}
}

// ImportMembers streams r (CSV or NDJSON, as contentType says) to the import.
func (c *Client) ImportMembers(ctx context.Context, r io.Reader, contentType string) (ImportResult, error) {
	var res ImportResult
	err := c.do(ctx, call{method: http.MethodPost, path: "/v1/members/import", body: r, contentType: contentType, stream: true}, &res)
	return res, err
}

// GetMember returns one member.
func (c *Client) GetMember(ctx context.Context, id string) (herald.Member, error) {
	var m herald.Member
	return m, c.get(ctx, "/v1/members/"+url.PathEscape(id), &m)
}

// PutMember creates or replaces the member with m.ID and returns it as stored.
func (c *Client) PutMember(ctx context.Context, m herald.Member) (herald.Member, error) {
	var out herald.Member
	in := memberInput{ID: m.ID, Phone: m.Phone, Name: m.Name, Status: m.Status, Attributes: m.Attributes}
	return out, c.send(ctx, http.MethodPut, "/v1/members/"+url.PathEscape(m.ID), in, &out)
}

// WithdrawMember marks a member withdrawn.
func (c *Client) WithdrawMember(ctx context.Context, id string) (herald.Member, error) {
	var m herald.Member
	return m, c.send(ctx, http.MethodPost, "/v1/members/"+url.PathEscape(id)+"/withdraw", nil, &m)
}

// CreateTemplate registers a template (status approved when empty).
func (c *Client) CreateTemplate(ctx context.Context, t herald.Template) (herald.Template, error) {
	var out herald.Template
	t.CreatedAt = time.Time{} // the server sets it
	return out, c.send(ctx, http.MethodPost, "/v1/templates", t, &out)
}

// ListTemplates lists every template by code.
func (c *Client) ListTemplates(ctx context.Context) ([]herald.Template, error) {
	var out templateList
	return out.Templates, c.get(ctx, "/v1/templates", &out)
}

// GetTemplate returns one template.
func (c *Client) GetTemplate(ctx context.Context, code string) (herald.Template, error) {
	var t herald.Template
	return t, c.get(ctx, "/v1/templates/"+url.PathEscape(code), &t)
}

// CreateCampaign creates a campaign from the fields a caller sets: Name,
// TemplateCode, Audience, Variables, StartAt (zero for now) and TPS.
func (c *Client) CreateCampaign(ctx context.Context, camp herald.Campaign) (herald.Campaign, error) {
	var out herald.Campaign
	return out, c.send(ctx, http.MethodPost, "/v1/campaigns", newCampaignRequest(camp), &out)
}

// ListCampaigns lists campaigns, newest first, with their counts.
func (c *Client) ListCampaigns(ctx context.Context) ([]herald.Campaign, error) {
	var out campaignList
	return out.Campaigns, c.get(ctx, "/v1/campaigns", &out)
}

// GetCampaign returns a campaign with its recipient counts.
func (c *Client) GetCampaign(ctx context.Context, id int64) (herald.Campaign, error) {
	var out herald.Campaign
	return out, c.get(ctx, campaignPath(id, ""), &out)
}

// PatchCampaign changes the start time or the rate of a campaign.
func (c *Client) PatchCampaign(ctx context.Context, id int64, p herald.CampaignPatch) (herald.Campaign, error) {
	var out herald.Campaign
	return out, c.send(ctx, http.MethodPatch, campaignPath(id, ""), newPatchRequest(p), &out)
}

// PauseCampaign pauses a campaign; herald.ErrConflict when it cannot be paused.
func (c *Client) PauseCampaign(ctx context.Context, id int64) (herald.Campaign, error) {
	return c.act(ctx, id, "pause")
}

// ResumeCampaign resumes a paused campaign; herald.ErrConflict otherwise.
func (c *Client) ResumeCampaign(ctx context.Context, id int64) (herald.Campaign, error) {
	return c.act(ctx, id, "resume")
}

// CancelCampaign cancels a campaign and every recipient not yet sent to.
func (c *Client) CancelCampaign(ctx context.Context, id int64) (herald.Campaign, error) {
	return c.act(ctx, id, "cancel")
}

func (c *Client) act(ctx context.Context, id int64, action string) (herald.Campaign, error) {
	var out herald.Campaign
	return out, c.send(ctx, http.MethodPost, campaignPath(id, "/"+action), nil, &out)
}

// ListRecipients returns up to limit recipients of a campaign with ids
// above afterID, and the afterID of the next page (0 after the last).
func (c *Client) ListRecipients(ctx context.Context, campaignID, afterID int64, limit int) ([]herald.Recipient, int64, error) {
	return c.FindRecipients(ctx, herald.RecipientFilter{CampaignID: campaignID, AfterID: afterID, Limit: limit})
}

// CampaignFailures returns a campaign's FAILED and UNKNOWN recipients
// counted per state and result code, with what each code means.
func (c *Client) CampaignFailures(ctx context.Context, id int64) ([]Failure, error) {
	var out failureList
	return out.Failures, c.get(ctx, campaignPath(id, "/failures"), &out)
}

// RetryCampaign creates the follow-up campaign of a retry of campaign id:
// its recipients in states (default FAILED) with codes (default: the
// retryable ones).
func (c *Client) RetryCampaign(ctx context.Context, id int64, states []herald.RecipientState, codes []string) (herald.Campaign, error) {
	var out herald.Campaign
	return out, c.send(ctx, http.MethodPost, campaignPath(id, "/retry"), retryRequest{States: states, Codes: codes}, &out)
}

func campaignPath(id int64, suffix string) string {
	return "/v1/campaigns/" + strconv.FormatInt(id, 10) + suffix
}

// call is one request of the client.
type call struct {
	method, path string
	body         io.Reader
	contentType  string
	stream       bool // no default deadline
	header       http.Header
	answered     func(*http.Response) // sees a successful answer's headers
}

func (c *Client) get(ctx context.Context, path string, out any) error {
	return c.do(ctx, call{method: http.MethodGet, path: path}, out)
}

// send encodes in (when not nil) as the JSON body.
func (c *Client) send(ctx context.Context, method, path string, in, out any) error {
	cl := call{method: method, path: path}
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		cl.body, cl.contentType = bytes.NewReader(b), "application/json"
	}
	return c.do(ctx, cl, out)
}

func (c *Client) do(ctx context.Context, cl call, out any) error {
	if _, ok := ctx.Deadline(); !ok && !cl.stream {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultCallTimeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, c.base+cl.path, cl.body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", cl.method, cl.path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if cl.contentType != "" {
		req.Header.Set("Content-Type", cl.contentType)
	}
	for k, v := range cl.header {
		req.Header[k] = v
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", cl.method, cl.path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return responseError(resp)
	}
	if cl.answered != nil {
		cl.answered(resp)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode the answer: %w", cl.method, cl.path, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body) // so the connection is reused
	return nil
}

// responseError turns an error answer back into an *Error. An answer that is
// not the API's JSON (a proxy's page, the mux's 404) still gets a code from
// its status, so errors.Is works on it too.
func responseError(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var eb errorBody
	if json.Unmarshal(body, &eb) == nil && eb.Error != nil && eb.Error.Code != "" {
		eb.Error.Status = resp.StatusCode
		return eb.Error
	}
	msg := strings.TrimSpace(string(body))
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	return &Error{Status: resp.StatusCode, Code: codeForStatus(resp.StatusCode), Message: strings.TrimSpace(resp.Status + ": " + msg)}
}

func codeForStatus(status int) string {
	switch status {
	case http.StatusBadRequest:
		return CodeInvalid
	case http.StatusUnauthorized, http.StatusForbidden:
		return CodeUnauthorized
	case http.StatusNotFound:
		return CodeNotFound
	case http.StatusConflict:
		return CodeConflict
	case http.StatusRequestEntityTooLarge:
		return CodeTooLarge
	case http.StatusUnsupportedMediaType:
		return CodeUnsupportedMediaType
	case http.StatusServiceUnavailable:
		return CodeUnavailable
	}
	return CodeInternal
}
