package mysql

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/sqlresults"
)

// retryMembers fixes the audience of a follow-up (first ?) from the rows
// of its source (second ?) in the given states and codes, less those who
// may have the message: see postgres/retry.go, which this mirrors.
// %s is the selection of states and codes (sqlresults.Retry).
const retryMembers = `INSERT IGNORE INTO campaign_members (campaign_id, member_id)
	SELECT ?, r.member_id FROM recipients r
	WHERE r.campaign_id = ? AND %s
	  AND (NOT EXISTS (SELECT 1 FROM requests q WHERE q.` + "`key`" + ` = r.batch_key
	          AND (q.body LIKE '%%"FallbackKind":"SMS"%%' OR q.body LIKE '%%"FallbackKind":"LMS"%%'))
	       OR EXISTS (SELECT 1 FROM reports p WHERE p.recipient_id = r.id AND p.service_type IN ('SMS', 'LMS', 'MMS')))
	  AND NOT EXISTS (SELECT 1 FROM campaigns f JOIN campaign_members m ON m.campaign_id = f.id
	          WHERE f.retry_of = r.campaign_id AND m.member_id = r.member_id)`

// RetryCampaign creates a retry's follow-up campaign with its members, in
// one transaction under the source's row lock, so that two retries of one
// source run one after the other and the second sees what the first took.
func (s *Store) RetryCampaign(ctx context.Context, c herald.Campaign) (herald.Campaign, error) {
	ra := c.Audience.Retry
	if ra == nil {
		return herald.Campaign{}, herald.Invalid("audience", "a retry needs audience.retry")
	}
	if err := ra.Validate(); err != nil {
		return herald.Campaign{}, err
	}
	c.RetryOf = ra.Campaign
	err := s.tx(ctx, func(tx *sql.Tx) error {
		state, _, err := lockCampaign(ctx, tx, ra.Campaign)
		if err != nil {
			return err
		}
		if err := herald.CheckRetrySource(state); err != nil {
			return err
		}
		vars, _ := json.Marshal(nonNil(c.Variables))
		res, err := tx.ExecContext(ctx, `INSERT INTO campaigns (name, template_code, audience, variables, start_at, tps, state, reason, retry_of, created_at, updated_at)
			VALUES (?, ?, '{}', ?, ?, ?, ?, '', ?, ?, ?)`,
			c.Name, c.TemplateCode, string(vars), c.StartAt.UTC(), c.TPS, string(c.State), c.RetryOf, c.CreatedAt.UTC(), c.CreatedAt.UTC())
		if err != nil {
			return err
		}
		if c.ID, err = res.LastInsertId(); err != nil {
			return err
		}
		cond, args := sqlresults.Retry(*ra)
		res, err = tx.ExecContext(ctx, fmt.Sprintf(retryMembers, cond), append([]any{c.ID, ra.Campaign}, args...)...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if err := ra.Took(n); err != nil {
			return err
		}
		audience, err := json.Marshal(c.Audience)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE campaigns SET audience = ? WHERE id = ?`, string(audience), c.ID)
		return err
	})
	if err != nil {
		return herald.Campaign{}, translate(err, fmt.Sprintf("retry campaign %d", ra.Campaign))
	}
	return s.GetCampaign(ctx, c.ID)
}
