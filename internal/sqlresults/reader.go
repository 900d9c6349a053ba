// Package sqlresults reads campaigns with their counts, a message with its
// outbox row and a campaign's results — its recipients by filter or page
// by page, one recipient, a recipient's reports, the reports of a msgKey —
// for the stores whose
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
	// CampaignColumns is what ScanCampaign reads. Counts reads the
	// recipient counts per state of campaign id, or of every campaign for 0.
	CampaignColumns string
	ScanCampaign    func(sqlrows.Scanner) (herald.Campaign, error)
	Counts          func(ctx context.Context, id int64) (map[int64]map[herald.RecipientState]int, error)
	// MessageColumns is what ScanMessage reads: a message and the id of its
	// outbox row.
	MessageColumns string
	ScanMessage    func(sqlrows.Scanner) (herald.Message, int64, error)
	// Translate maps the database's errors to herald's, naming what failed.
	Translate func(err error, what string) error
}

// GetCampaign reads a campaign with its recipient counts.
func (r Reader) GetCampaign(ctx context.Context, id int64) (herald.Campaign, error) {
	c, err := sqlrows.One(ctx, r.DB, r.ScanCampaign, `SELECT `+r.CampaignColumns+` FROM campaigns WHERE id = ?`, id)
	if err != nil {
		return herald.Campaign{}, r.Translate(err, fmt.Sprintf("campaign %d", id))
	}
	counts, err := r.Counts(ctx, id)
	if err != nil {
		return herald.Campaign{}, err
	}
	c.SetCounts(counts[id])
	return c, nil
}

// ListCampaigns lists campaigns, newest first, with their counts.
func (r Reader) ListCampaigns(ctx context.Context) ([]herald.Campaign, error) {
	out, err := sqlrows.Collect(ctx, r.DB, r.ScanCampaign, `SELECT `+r.CampaignColumns+` FROM campaigns ORDER BY id DESC`)
	if err != nil {
		return nil, r.Translate(err, "list campaigns")
	}
	counts, err := r.Counts(ctx, 0)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].SetCounts(counts[out[i].ID])
	}
	return out, nil
}

// GetMessage reads a message with its outbox row.
func (r Reader) GetMessage(ctx context.Context, id int64) (herald.Message, error) {
	var rid int64
	m, err := sqlrows.One(ctx, r.DB, func(row sqlrows.Scanner) (m herald.Message, err error) {
		m, rid, err = r.ScanMessage(row)
		return m, err
	}, `SELECT `+r.MessageColumns+` FROM messages WHERE id = ?`, id)
	if err != nil {
		return herald.Message{}, r.Translate(err, fmt.Sprintf("message %d", id))
	}
	rows, err := r.ListRecipients(ctx, m.CampaignID, rid-1, 1)
	if err != nil {
		return herald.Message{}, err
	}
	if len(rows) == 1 && rows[0].ID == rid {
		m.Result = rows[0]
	}
	return m, nil
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
	rec, err := sqlrows.One(ctx, r.DB, r.ScanRecipient,
		`SELECT `+r.RecipientColumns+` FROM recipients WHERE id = ? AND campaign_id = ?`, id, campaignID)
	return rec, r.Translate(err, fmt.Sprintf("recipient %d of campaign %d", id, campaignID))
}

// CampaignFailures counts FAILED and UNKNOWN rows per state and code.
func (r Reader) CampaignFailures(ctx context.Context, campaignID int64) ([]herald.FailureCount, error) {
	out, err := sqlrows.Collect(ctx, r.DB, func(row sqlrows.Scanner) (herald.FailureCount, error) {
		var f herald.FailureCount
		return f, row.Scan(&f.State, &f.Code, &f.Count)
	}, `SELECT state, result_code, COUNT(*) FROM recipients
		WHERE campaign_id = ? AND state IN ('FAILED', 'UNKNOWN')
		GROUP BY state, result_code ORDER BY COUNT(*) DESC, state, result_code`, campaignID)
	return out, r.Translate(err, fmt.Sprintf("failures of campaign %d", campaignID))
}
