// Package sqlresults reads a campaign's results — its recipients by
// filter or page by page, one recipient, a recipient's reports, the
// reports of a msgKey — for the stores whose
// placeholders are ? (SQLite and MySQL/MariaDB; PostgreSQL numbers its own
// and matches states with ANY). Each of the two embeds a Reader set up with
// its own row scanners and error translation, which is where they differ.
package sqlresults

import (
	"context"
	"fmt"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/sqlrows"
)

// Reader implements the results reads of herald.Store.
type Reader struct {
	DB sqlrows.Querier
	// RecipientColumns is what ScanRecipient reads, ReportColumns what
	// ScanReport reads.
	RecipientColumns string
	ScanRecipient    func(sqlrows.Scanner) (herald.Recipient, error)
	ReportColumns    string
	ScanReport       func(sqlrows.Scanner) (herald.Report, error)
	// ScanReportRaw reads ReportColumns and after them the raw body.
	ScanReportRaw func(sqlrows.Scanner) (herald.Report, error)
	// Translate maps the database's errors to herald's, naming what failed.
	Translate func(err error, what string) error
}

// FindRecipients pages through a campaign's recipients that match f.
func (r Reader) FindRecipients(ctx context.Context, f herald.RecipientFilter) ([]herald.Recipient, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	where, args := Recipients(f)
	out, err := sqlrows.Collect(ctx, r.DB, r.ScanRecipient,
		`SELECT `+r.RecipientColumns+` FROM recipients WHERE `+where+` ORDER BY id LIMIT ?`, append(args, f.Limit)...)
	return out, r.Translate(err, fmt.Sprintf("recipients of campaign %d", f.CampaignID))
}

// RecipientReports lists the reports matched to a recipient, oldest first.
func (r Reader) RecipientReports(ctx context.Context, recipientID int64) ([]herald.Report, error) {
	out, err := sqlrows.Collect(ctx, r.DB, r.ScanReport,
		`SELECT `+r.ReportColumns+` FROM reports WHERE recipient_id = ? ORDER BY id`, recipientID)
	return out, r.Translate(err, "reports of a recipient")
}

// ListRecipients pages through a campaign's recipients in id order.
func (r Reader) ListRecipients(ctx context.Context, campaignID, afterID int64, limit int) ([]herald.Recipient, error) {
	out, err := sqlrows.Collect(ctx, r.DB, r.ScanRecipient, `SELECT `+r.RecipientColumns+` FROM recipients
		WHERE campaign_id = ? AND id > ? ORDER BY id LIMIT ?`, campaignID, afterID, limit)
	return out, r.Translate(err, fmt.Sprintf("recipients of campaign %d", campaignID))
}

// ReportsByMsgKey lists the stored reports of one msgKey in arrival order,
// with their raw bodies, for audit. MsgType and SendTime are only in Raw.
func (r Reader) ReportsByMsgKey(ctx context.Context, msgKey string) ([]herald.Report, error) {
	out, err := sqlrows.Collect(ctx, r.DB, r.ScanReportRaw,
		`SELECT `+r.ReportColumns+`, raw FROM reports WHERE msg_key = ? ORDER BY id`, msgKey)
	return out, r.Translate(err, "reports")
}

// GetRecipient reads one recipient of a campaign.
func (r Reader) GetRecipient(ctx context.Context, campaignID, id int64) (herald.Recipient, error) {
	what := fmt.Sprintf("recipient %d of campaign %d", id, campaignID)
	rs, err := sqlrows.Collect(ctx, r.DB, r.ScanRecipient,
		`SELECT `+r.RecipientColumns+` FROM recipients WHERE id = ? AND campaign_id = ?`, id, campaignID)
	if err != nil {
		return herald.Recipient{}, r.Translate(err, what)
	}
	if len(rs) == 0 {
		return herald.Recipient{}, fmt.Errorf("%s: %w", what, herald.ErrNotFound)
	}
	return rs[0], nil
}
