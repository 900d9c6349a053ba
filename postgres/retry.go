package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	herald "github.com/heraldhq/herald"
)

// retryMembers fixes the audience of follow-up $1 of source $2: the
// members of the source's rows in states $3 with codes $4 (none: any),
// less those who may have the message (see herald.Store.RetryCampaign):
// a failure of the Kakao leg whose request carried an SMS/LMS fallback
// counts only once the fallback's own report came (failed, or the row
// would be DELIVERED), and a member an earlier follow-up took is left to
// that follow-up.
const retryMembers = `INSERT INTO campaign_members (campaign_id, member_id)
	SELECT $1, r.member_id FROM recipients r
	WHERE r.campaign_id = $2 AND r.state = ANY($3::text[])
	  AND (cardinality($4::text[]) = 0 OR r.result_code = ANY($4::text[]))
	  AND (NOT EXISTS (SELECT 1 FROM requests q WHERE q.key = r.batch_key
	          AND q.body LIKE ANY (ARRAY['%"FallbackKind":"SMS"%', '%"FallbackKind":"LMS"%']))
	       OR EXISTS (SELECT 1 FROM reports p WHERE p.recipient_id = r.id AND p.service_type IN ('SMS', 'LMS', 'MMS')))
	  AND NOT EXISTS (SELECT 1 FROM campaigns f JOIN campaign_members m ON m.campaign_id = f.id
	          WHERE f.retry_of = $2 AND m.member_id = r.member_id)
	ON CONFLICT DO NOTHING`

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
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var state herald.CampaignState
		err := tx.QueryRow(ctx, `SELECT state FROM campaigns WHERE id = $1 FOR UPDATE`, ra.Campaign).Scan(&state)
		if err != nil {
			return err
		}
		if err := herald.CheckRetrySource(state); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `INSERT INTO campaigns (name, template_code, audience, variables, start_at, tps, state, retry_of, created_at, updated_at)
			VALUES ($1, $2, $3::jsonb, $4::jsonb, $5, $6, $7, $8, $9, $9) RETURNING id`,
			c.Name, c.TemplateCode, jsonb(c.Audience), jsonb(nonNil(c.Variables)), c.StartAt, c.TPS, string(c.State), c.RetryOf, c.CreatedAt).Scan(&c.ID); err != nil {
			return err
		}
		states := make([]string, len(ra.States))
		for i, st := range ra.States {
			states[i] = string(st)
		}
		tag, err := tx.Exec(ctx, retryMembers, c.ID, ra.Campaign, states, nonNilSlice(ra.Codes))
		if err != nil {
			return err
		}
		if err := ra.Took(tag.RowsAffected()); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE campaigns SET audience = $1::jsonb WHERE id = $2`, jsonb(c.Audience), c.ID)
		return err
	})
	if err != nil {
		return herald.Campaign{}, translate(err, fmt.Sprintf("retry campaign %d", ra.Campaign))
	}
	return s.GetCampaign(ctx, c.ID)
}

// CampaignFailures counts FAILED and UNKNOWN rows per state and code.
func (s *Store) CampaignFailures(ctx context.Context, campaignID int64) ([]herald.FailureCount, error) {
	rows, err := s.pool.Query(ctx, `SELECT state, result_code, count(*) FROM recipients
		WHERE campaign_id = $1 AND state IN ('FAILED', 'UNKNOWN')
		GROUP BY state, result_code ORDER BY count(*) DESC, state, result_code`, campaignID)
	if err != nil {
		return nil, translate(err, fmt.Sprintf("failures of campaign %d", campaignID))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (herald.FailureCount, error) {
		var f herald.FailureCount
		err := r.Scan(&f.State, &f.Code, &f.Count)
		return f, err
	})
	if out == nil {
		out = []herald.FailureCount{}
	}
	return out, translate(err, fmt.Sprintf("failures of campaign %d", campaignID))
}

func nonNilSlice(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
