package scenario

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	herald "github.com/heraldhq/herald"
)

// recipientPage is how many recipients CampaignIDs asks for at once.
const recipientPage = 1000

// ReadIDs reads message ids, one per line; blank lines and lines starting
// with # are skipped.
func ReadIDs(r io.Reader) ([]string, error) {
	var ids []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if s := strings.TrimSpace(sc.Text()); s != "" && !strings.HasPrefix(s, "#") {
			ids = append(ids, s)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read ids: %w", err)
	}
	if len(ids) == 0 {
		return nil, errors.New("read ids: the file has no ids")
	}
	return ids, nil
}

// RecipientLister pages through a campaign's recipients; the admin API
// client implements it.
type RecipientLister interface {
	ListRecipients(ctx context.Context, campaignID, afterID int64, limit int) ([]herald.Recipient, int64, error)
}

// CampaignIDs returns the message id of every recipient of a campaign that
// has one (its msgKey when it has no message id), so that reports match.
func CampaignIDs(ctx context.Context, l RecipientLister, campaignID int64) ([]string, error) {
	var ids []string
	for after := int64(0); ; {
		rs, next, err := l.ListRecipients(ctx, campaignID, after, recipientPage)
		if err != nil {
			return nil, fmt.Errorf("campaign %d recipients: %w", campaignID, err)
		}
		for _, r := range rs {
			if id := cmp.Or(r.MessageID, r.MsgKey); id != "" {
				ids = append(ids, id)
			}
		}
		if next == 0 || len(rs) == 0 {
			break
		}
		after = next
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("campaign %d has no recipient with a message id yet: ids are given when sending starts", campaignID)
	}
	return ids, nil
}
