package http

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	herald "github.com/heraldhq/herald"
)

// FindRecipients returns a page of a campaign's recipients that match f
// (f.Channel as ParseChannel gives it, or a short name), and the AfterID of
// the next page (0 after the last).
func (c *Client) FindRecipients(ctx context.Context, f herald.RecipientFilter) ([]herald.Recipient, int64, error) {
	q := url.Values{}
	q.Set("after", strconv.FormatInt(f.AfterID, 10))
	q.Set("limit", strconv.Itoa(f.Limit))
	if len(f.States) > 0 {
		states := make([]string, len(f.States))
		for i, s := range f.States {
			states[i] = string(s)
		}
		q.Set("state", strings.Join(states, ","))
	}
	for k, v := range map[string]string{"code": f.Code, "channel": f.Channel, "phone": f.Phone, "member": f.MemberID} {
		if v != "" {
			q.Set(k, v)
		}
	}
	var page recipientPage
	err := c.get(ctx, campaignPath(f.CampaignID, "/recipients")+"?"+q.Encode(), &page)
	return page.Recipients, page.Next, err
}

// GetRecipient returns one recipient with the message as sent and its
// history.
func (c *Client) GetRecipient(ctx context.Context, campaignID, id int64) (herald.RecipientDetail, error) {
	var d herald.RecipientDetail
	return d, c.get(ctx, campaignPath(campaignID, "/recipients/"+strconv.FormatInt(id, 10)), &d)
}

// ExportRecipients streams the campaign's recipients as CSV (with a UTF-8
// byte order mark for Excel when bom is set). The caller reads and closes
// it; a read error means the export broke off and the data is incomplete.
// It is bounded only by ctx, like an import.
func (c *Client) ExportRecipients(ctx context.Context, campaignID int64, bom bool) (io.ReadCloser, error) {
	path := campaignPath(campaignID, "/recipients.csv")
	if bom {
		path += "?bom=1"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "text/csv")
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		return nil, responseError(resp)
	}
	return resp.Body, nil
}
