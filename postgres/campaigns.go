package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	herald "github.com/heraldhq/herald"
)

const campaignColumns = `id, name, template_code, audience, variables, start_at, tps, send_window, state, reason, created_by, approved_by, kind, COALESCE(retry_of, 0), created_at, updated_at`

// CreateCampaign stores a validated campaign.
func (s *Store) CreateCampaign(ctx context.Context, c herald.Campaign) (herald.Campaign, error) {
	err := s.pool.QueryRow(ctx, `INSERT INTO campaigns (name, template_code, audience, variables, start_at, tps, state, created_at, updated_at,
			send_window, created_by)
		VALUES ($1, $2, $3::jsonb, $4::jsonb, $5, $6, $7, $8, $8, $9, $10) RETURNING id`,
		c.Name, c.TemplateCode, jsonb(c.Audience), jsonb(nonNil(c.Variables)), c.StartAt, c.TPS, string(c.State), c.CreatedAt,
		c.SendWindow, c.CreatedBy).Scan(&c.ID)
	if err != nil {
		return herald.Campaign{}, translate(err, "create campaign")
	}
	return s.GetCampaign(ctx, c.ID)
}

// GetCampaign reads a campaign with its recipient counts.
func (s *Store) GetCampaign(ctx context.Context, id int64) (herald.Campaign, error) {
	c, err := scanCampaign(s.pool.QueryRow(ctx, `SELECT `+campaignColumns+` FROM campaigns WHERE id = $1`, id))
	if err != nil {
		return herald.Campaign{}, translate(err, fmt.Sprintf("campaign %d", id))
	}
	counts, err := s.counts(ctx, id)
	if err != nil {
		return herald.Campaign{}, err
	}
	c.SetCounts(counts[id])
	return c, nil
}

// ListCampaigns lists campaigns, newest first, with their counts.
func (s *Store) ListCampaigns(ctx context.Context) ([]herald.Campaign, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+campaignColumns+` FROM campaigns ORDER BY id DESC`)
	if err != nil {
		return nil, translate(err, "list campaigns")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (herald.Campaign, error) { return scanCampaign(r) })
	if err != nil {
		return nil, translate(err, "list campaigns")
	}
	counts, err := s.counts(ctx, 0)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].SetCounts(counts[out[i].ID])
	}
	if out == nil {
		out = []herald.Campaign{}
	}
	return out, nil
}

// counts reads recipient counts per state from the counters the triggers
// keep (migration 5), in one statement, so they add up to a total taken at
// one moment. id 0 means every campaign. A campaign whose counter rows
// have grown past compactAfter is compacted for the next reader.
func (s *Store) counts(ctx context.Context, id int64) (map[int64]map[herald.RecipientState]int, error) {
	q, args := `SELECT campaign_id, state, sum(n), count(*) FROM recipient_counts GROUP BY campaign_id, state`, []any{}
	if id != 0 { // by the index, not a scan of every campaign's counters
		q, args = `SELECT campaign_id, state, sum(n), count(*) FROM recipient_counts WHERE campaign_id = $1 GROUP BY campaign_id, state`, []any{id}
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, translate(err, "count recipients")
	}
	out := map[int64]map[herald.RecipientState]int{}
	grown := map[int64]int{}
	var cid int64
	var state herald.RecipientState
	var n, parts int
	_, err = pgx.ForEachRow(rows, []any{&cid, &state, &n, &parts}, func() error {
		if out[cid] == nil {
			out[cid] = map[herald.RecipientState]int{}
		}
		out[cid][state] = n
		grown[cid] += parts
		return nil
	})
	if err != nil {
		return nil, translate(err, "count recipients")
	}
	for cid, parts := range grown {
		if parts > compactAfter {
			if err := s.compactCounts(ctx, cid); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// compactAfter is how many counter rows a campaign may have before a
// reader folds them into one per state: a claim, a record or a report
// batch adds one or two per statement.
const compactAfter = 64

// compactCounts folds a campaign's counter rows into one per state, in one
// statement. It takes only rows no other compaction holds (SKIP LOCKED), so
// two compactions never wait for each other, and each sums exactly the
// rows it deleted; the triggers only insert, so nothing else locks them.
func (s *Store) compactCounts(ctx context.Context, id int64) error {
	_, err := s.pool.Exec(ctx, `WITH gone AS (
			DELETE FROM recipient_counts WHERE id IN (
				SELECT id FROM recipient_counts WHERE campaign_id = $1 FOR UPDATE SKIP LOCKED)
			RETURNING state, n)
		INSERT INTO recipient_counts (campaign_id, state, n)
		SELECT $1, state, sum(n) FROM gone GROUP BY state HAVING sum(n) <> 0`, id)
	return translate(err, fmt.Sprintf("compact counts of campaign %d", id))
}

func scanCampaign(row pgx.Row) (herald.Campaign, error) {
	var c herald.Campaign
	err := row.Scan(&c.ID, &c.Name, &c.TemplateCode, &c.Audience, &c.Variables, &c.StartAt, &c.TPS, &c.SendWindow, &c.State, &c.Reason,
		&c.CreatedBy, &c.ApprovedBy, &c.Kind, &c.RetryOf, &c.CreatedAt, &c.UpdatedAt)
	c.StartAt, c.CreatedAt, c.UpdatedAt = c.StartAt.UTC(), c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return c, err
}

// lockCampaign reads state and preparation under a row lock.
func lockCampaign(ctx context.Context, tx pgx.Tx, id int64) (herald.CampaignState, bool, error) {
	var state herald.CampaignState
	var prepared *time.Time
	err := tx.QueryRow(ctx, `SELECT state, prepared_at FROM campaigns WHERE id = $1 FOR UPDATE`, id).Scan(&state, &prepared)
	return state, prepared != nil, err
}

// UpdateCampaign changes start time or rate.
func (s *Store) UpdateCampaign(ctx context.Context, id int64, p herald.CampaignPatch) (herald.Campaign, error) {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		state, prepared, err := lockCampaign(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := herald.CheckPatch(state, prepared, p); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE campaigns SET start_at = COALESCE($1, start_at), tps = COALESCE($2, tps), updated_at = now()
			WHERE id = $3`, p.StartAt, p.TPS, id)
		return err
	})
	if err != nil {
		return herald.Campaign{}, translate(err, fmt.Sprintf("campaign %d", id))
	}
	return s.GetCampaign(ctx, id)
}

// TransitionCampaign moves the campaign to a new state if allowed and
// clears its reason.
func (s *Store) TransitionCampaign(ctx context.Context, id int64, to herald.CampaignState, at time.Time) (herald.Campaign, error) {
	return s.transition(ctx, id, to, "", at)
}

// HaltCampaign pauses or fails the campaign with a reason.
func (s *Store) HaltCampaign(ctx context.Context, id int64, to herald.CampaignState, reason string, at time.Time) (herald.Campaign, error) {
	if err := herald.CheckHalt(to); err != nil {
		return herald.Campaign{}, err
	}
	return s.transition(ctx, id, to, reason, at)
}

// transition moves the campaign, under its row lock, and settles the rows
// still waiting to be claimed when it ends without sending them: cancelled
// or failed (see settle). Rows being sent stay as they are; their outcome
// settles them (RecordOutcomes).
func (s *Store) transition(ctx context.Context, id int64, to herald.CampaignState, reason string, at time.Time) (herald.Campaign, error) {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		state, prepared, err := lockCampaign(ctx, tx, id)
		if err != nil {
			return err
		}
		to, err := herald.NextState(state, to, prepared)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE campaigns SET state = $1, reason = $2, updated_at = $3 WHERE id = $4`,
			string(to), reason, at, id); err != nil {
			return err
		}
		if to == herald.CampaignCancelled || to == herald.CampaignFailed {
			x := settle{doubt: `(in_doubt OR batch_key IS NOT NULL)`, campaign: `$3::text`, reason: `$4::text`}
			_, err = tx.Exec(ctx, `UPDATE recipients SET state = `+x.state()+`,
					result_code = `+x.code(`result_code`)+`, result_text = `+x.text(`result_text`, `NULL`)+`,
					batch_key = CASE WHEN `+x.doubt+` THEN batch_key END,
					sent_at = CASE WHEN `+x.doubt+` THEN sent_at END,
					updated_at = $1
				WHERE campaign_id = $2 AND state IN ('PENDING', 'RETRY_WAIT')`, at, id, string(to), reason)
		}
		return err
	})
	if err != nil {
		return herald.Campaign{}, translate(err, fmt.Sprintf("campaign %d", id))
	}
	return s.GetCampaign(ctx, id)
}

// ApproveCampaign schedules a draft and stores its approver.
func (s *Store) ApproveCampaign(ctx context.Context, id int64, approvedBy string, at time.Time) (herald.Campaign, error) {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		state, _, err := lockCampaign(ctx, tx, id)
		if err != nil {
			return err
		}
		if state != herald.CampaignDraft {
			return herald.Conflict("campaign is %s; only a draft can be approved", state)
		}
		_, err = tx.Exec(ctx, `UPDATE campaigns SET state = 'scheduled', approved_by = $1, reason = '', updated_at = $2 WHERE id = $3`,
			approvedBy, at, id)
		return err
	})
	if err != nil {
		return herald.Campaign{}, translate(err, fmt.Sprintf("campaign %d", id))
	}
	return s.GetCampaign(ctx, id)
}

// AudienceMembers pages through the members an audience selects, any status.
func (s *Store) AudienceMembers(ctx context.Context, campaignID int64, a herald.Audience, afterID string, limit int) ([]herald.Member, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+memberColumns+` FROM members
		WHERE id > $1
		  AND ($2::boolean OR attributes @> $3::jsonb)
		  AND ($4::text[] IS NULL OR id = ANY($4::text[]))
		  AND (NOT $6::boolean OR id IN (SELECT member_id FROM campaign_members WHERE campaign_id = $7))
		ORDER BY id LIMIT $5`, afterID, a.All || len(a.Attributes) == 0, jsonb(nonNil(a.Attributes)), a.MemberIDs, limit,
		a.Retry != nil, campaignID)
	if err != nil {
		return nil, translate(err, "audience members")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (herald.Member, error) { return scanMember(r) })
	if out == nil {
		out = []herald.Member{}
	}
	return out, translate(err, "audience members")
}

// FallbackHistory counts past final results of a sender key's campaigns.
func (s *Store) FallbackHistory(ctx context.Context, senderKey string) (herald.FallbackHistory, error) {
	var h herald.FallbackHistory
	err := s.pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE r.result_code IN ('63019', '63020') OR r.channel IN ('SMS', 'LMS', 'MMS'))
		FROM recipients r JOIN campaigns c ON c.id = r.campaign_id JOIN templates t ON t.code = c.template_code
		WHERE t.sender_key = $1 AND r.state IN ('DELIVERED', 'FAILED') AND r.msg_key IS NOT NULL`, senderKey).Scan(&h.Reported, &h.NotKakao)
	return h, translate(err, "fallback history")
}

// AcquireCampaignLease takes the preparation lease of one due campaign.
func (s *Store) AcquireCampaignLease(ctx context.Context, owner string, now time.Time, ttl time.Duration) (herald.Campaign, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `UPDATE campaigns SET state = 'preparing', lease_owner = $1, lease_until = $2, updated_at = $3
		WHERE id = (SELECT id FROM campaigns
			WHERE (state = 'scheduled' AND start_at <= $3) OR (state = 'preparing' AND lease_until < $3)
			ORDER BY start_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
		RETURNING id`, owner, now.Add(ttl), now).Scan(&id)
	if err != nil {
		return herald.Campaign{}, translate(err, "no campaign due")
	}
	return s.GetCampaign(ctx, id)
}

// PrepareRecipients materialises the audience with one INSERT…SELECT. A
// plain INSERT, not ON CONFLICT DO NOTHING (a fifth of the CPU of a
// million rows): only the holder of the preparing lease inserts, once,
// under the campaign's row lock, and the unique (campaign, member)
// constraint still refuses a second row for anyone.
func (s *Store) PrepareRecipients(ctx context.Context, campaignID int64, owner string, now time.Time) (int, error) {
	var n int64
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var a herald.Audience
		err := tx.QueryRow(ctx, `SELECT audience FROM campaigns WHERE id = $1 AND state = 'preparing' AND lease_owner = $2 FOR UPDATE`,
			campaignID, owner).Scan(&a)
		if err == pgx.ErrNoRows {
			return herald.Conflict("campaign %d is not being prepared by %s", campaignID, owner)
		}
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO recipients (campaign_id, member_id, phone, state, created_at, updated_at)
			SELECT $1, id, phone, 'PENDING', $2, $2 FROM members
			WHERE status = 'active'
			  AND ($3::boolean OR attributes @> $4::jsonb)
			  AND ($5::text[] IS NULL OR id = ANY($5::text[]))
			  AND (NOT $6::boolean OR id IN (SELECT member_id FROM campaign_members WHERE campaign_id = $1))
			ORDER BY id`,
			campaignID, now, a.All || len(a.Attributes) == 0, jsonb(nonNil(a.Attributes)), a.MemberIDs, a.Retry != nil)
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		_, err = tx.Exec(ctx, `UPDATE campaigns SET state = 'running', prepared_at = $1, lease_owner = NULL, lease_until = NULL, updated_at = $1
			WHERE id = $2`, now, campaignID)
		return err
	})
	return int(n), translate(err, fmt.Sprintf("prepare campaign %d", campaignID))
}

// RunningCampaigns lists running campaigns without counting recipients.
func (s *Store) RunningCampaigns(ctx context.Context) ([]herald.Campaign, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+campaignColumns+` FROM campaigns WHERE state = 'running' ORDER BY id`)
	if err != nil {
		return nil, translate(err, "running campaigns")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (herald.Campaign, error) { return scanCampaign(r) })
	return out, translate(err, "running campaigns")
}

// CompleteCampaign completes a running campaign with nothing left to send,
// as its counters say (one snapshot, like a count of the rows).
func (s *Store) CompleteCampaign(ctx context.Context, id int64, at time.Time) (bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE campaigns SET state = 'completed', updated_at = $1
		WHERE id = $2 AND state = 'running' AND kind = '' AND NOT EXISTS (SELECT 1 FROM recipient_counts
			WHERE campaign_id = $2 AND state IN ('PENDING', 'SENDING', 'RETRY_WAIT') GROUP BY state HAVING sum(n) <> 0)`, at, id)
	if err != nil {
		return false, translate(err, fmt.Sprintf("complete campaign %d", id))
	}
	return tag.RowsAffected() == 1, nil
}
