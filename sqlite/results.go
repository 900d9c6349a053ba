package sqlite

import (
	"context"
	"fmt"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/sqlfilter"
	"github.com/heraldhq/herald/internal/sqlrows"
)

// FindRecipients pages through a campaign's recipients that match f.
func (s *Store) FindRecipients(ctx context.Context, f herald.RecipientFilter) ([]herald.Recipient, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	what := fmt.Sprintf("recipients of campaign %d", f.CampaignID)
	where, args := sqlfilter.Recipients(f)
	rows, err := s.r.QueryContext(ctx, `SELECT `+recipientColumns+` FROM recipients WHERE `+where+` ORDER BY id LIMIT ?`,
		append(args, f.Limit)...)
	if err != nil {
		return nil, translate(err, what)
	}
	out, err := sqlrows.All(rows, scanRecipient)
	return out, translate(err, what)
}

// RecipientReports lists the reports matched to a recipient, oldest first.
func (s *Store) RecipientReports(ctx context.Context, recipientID int64) ([]herald.Report, error) {
	out, err := sqlrows.Collect(ctx, s.r, scanReport(false),
		`SELECT `+reportColumns+` FROM reports WHERE recipient_id = ? ORDER BY id`, recipientID)
	return out, translate(err, "reports of a recipient")
}

// GetRecipient reads one recipient of a campaign.
func (s *Store) GetRecipient(ctx context.Context, campaignID, id int64) (herald.Recipient, error) {
	what := fmt.Sprintf("recipient %d of campaign %d", id, campaignID)
	rows, err := s.r.QueryContext(ctx, `SELECT `+recipientColumns+` FROM recipients WHERE id = ? AND campaign_id = ?`, id, campaignID)
	if err != nil {
		return herald.Recipient{}, translate(err, what)
	}
	rs, err := sqlrows.All(rows, scanRecipient)
	if err != nil {
		return herald.Recipient{}, translate(err, what)
	}
	if len(rs) == 0 {
		return herald.Recipient{}, fmt.Errorf("%s: %w", what, herald.ErrNotFound)
	}
	return rs[0], nil
}
