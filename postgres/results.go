package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	herald "github.com/heraldhq/herald"
)

// FindRecipients pages through a campaign's recipients that match f.
func (s *Store) FindRecipients(ctx context.Context, f herald.RecipientFilter) ([]herald.Recipient, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	where, args := recipientWhere(f)
	args = append(args, f.Limit)
	rows, err := s.pool.Query(ctx, fmt.Sprintf(`SELECT `+recipientColumns+` FROM recipients WHERE %s ORDER BY id LIMIT $%d`,
		where, len(args)), args...)
	if err != nil {
		return nil, translate(err, fmt.Sprintf("recipients of campaign %d", f.CampaignID))
	}
	return collectRecipients(rows)
}

// recipientWhere is the filter as a WHERE clause with $n placeholders.
func recipientWhere(f herald.RecipientFilter) (string, []any) {
	conds := []string{"campaign_id = $1", "id > $2"}
	args := []any{f.CampaignID, f.AfterID}
	if len(f.States) > 0 {
		states := make([]string, len(f.States))
		for i, st := range f.States {
			states[i] = string(st)
		}
		args = append(args, states)
		conds = append(conds, fmt.Sprintf("state = ANY($%d)", len(args)))
	}
	for _, c := range []struct{ col, v string }{{"result_code", f.Code}, {"channel", f.Channel}, {"phone", f.Phone}, {"member_id", f.MemberID}} {
		if c.v != "" {
			args = append(args, c.v)
			conds = append(conds, fmt.Sprintf("%s = $%d", c.col, len(args)))
		}
	}
	return strings.Join(conds, " AND "), args
}

// RecipientReports lists the reports matched to a recipient, oldest first.
func (s *Store) RecipientReports(ctx context.Context, recipientID int64) ([]herald.Report, error) {
	rows, err := s.pool.Query(ctx, `SELECT msg_key, ref, service_type, report_type, report_code, report_text,
			report_time FROM reports WHERE recipient_id = $1 ORDER BY id`, recipientID)
	if err != nil {
		return nil, translate(err, "reports of a recipient")
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (herald.Report, error) {
		var r herald.Report
		err := row.Scan(&r.MsgKey, &r.Ref, &r.ServiceType, &r.ReportType, &r.Code, &r.Text, &r.ReportTime)
		r.ReportTime = r.ReportTime.UTC()
		return r, err
	})
	if out == nil {
		out = []herald.Report{}
	}
	return out, translate(err, "reports of a recipient")
}

// GetRecipient reads one recipient of a campaign.
func (s *Store) GetRecipient(ctx context.Context, campaignID, id int64) (herald.Recipient, error) {
	what := fmt.Sprintf("recipient %d of campaign %d", id, campaignID)
	rows, err := s.pool.Query(ctx, `SELECT `+recipientColumns+` FROM recipients WHERE id = $1 AND campaign_id = $2`, id, campaignID)
	if err != nil {
		return herald.Recipient{}, translate(err, what)
	}
	rs, err := collectRecipients(rows)
	if err != nil {
		return herald.Recipient{}, translate(err, what)
	}
	if len(rs) == 0 {
		return herald.Recipient{}, fmt.Errorf("%s: %w", what, herald.ErrNotFound)
	}
	return rs[0], nil
}
