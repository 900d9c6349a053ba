package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/sqlrows"
)

const campaignColumns = `id, name, template_code, audience, variables, start_at, tps, send_window, state, reason, created_by, approved_by, kind, COALESCE(retry_of, 0), created_at, updated_at`

// CreateCampaign stores a validated campaign.
func (s *Store) CreateCampaign(ctx context.Context, c herald.Campaign) (herald.Campaign, error) {
	audience, err := json.Marshal(c.Audience)
	if err != nil {
		return herald.Campaign{}, fmt.Errorf("campaign audience: %w", err)
	}
	vars, _ := json.Marshal(nonNil(c.Variables))
	err = s.w.QueryRowContext(ctx, `INSERT INTO campaigns (name, template_code, audience, variables, start_at, tps, send_window, state, created_by, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		c.Name, c.TemplateCode, string(audience), string(vars), ms(c.StartAt), c.TPS, c.SendWindow, string(c.State), c.CreatedBy,
		ms(c.CreatedAt), ms(c.CreatedAt)).Scan(&c.ID)
	if err != nil {
		return herald.Campaign{}, translate(err, "create campaign")
	}
	return s.GetCampaign(ctx, c.ID)
}

// counts reads recipient counts per state from the counters the triggers
// keep (migration 5), in one statement, so they add up to a total taken at
// one moment. id 0 means every campaign.
func (s *Store) counts(ctx context.Context, id int64) (map[int64]map[herald.RecipientState]int, error) {
	q, args := `SELECT campaign_id, state, n FROM recipient_counts WHERE n <> 0`, []any{}
	if id != 0 { // by the primary key, not a scan of every campaign's counters
		q, args = `SELECT campaign_id, state, n FROM recipient_counts WHERE campaign_id = ? AND n <> 0`, []any{id}
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, translate(err, "count recipients")
	}
	defer rows.Close()
	out := map[int64]map[herald.RecipientState]int{}
	for rows.Next() {
		var cid int64
		var state herald.RecipientState
		var n int
		if err := rows.Scan(&cid, &state, &n); err != nil {
			return nil, err
		}
		if out[cid] == nil {
			out[cid] = map[herald.RecipientState]int{}
		}
		out[cid][state] = n
	}
	return out, translate(rows.Err(), "count recipients")
}

func scanCampaign(row scanner) (herald.Campaign, error) {
	var c herald.Campaign
	var audience, vars string
	var start, created, updated int64
	err := row.Scan(&c.ID, &c.Name, &c.TemplateCode, &audience, &vars, &start, &c.TPS, &c.SendWindow, &c.State, &c.Reason,
		&c.CreatedBy, &c.ApprovedBy, &c.Kind, &c.RetryOf, &created, &updated)
	if err != nil {
		return herald.Campaign{}, err
	}
	if err := json.Unmarshal([]byte(audience), &c.Audience); err != nil {
		return herald.Campaign{}, fmt.Errorf("campaign %d audience: %w", c.ID, err)
	}
	if err := json.Unmarshal([]byte(vars), &c.Variables); err != nil {
		return herald.Campaign{}, fmt.Errorf("campaign %d variables: %w", c.ID, err)
	}
	c.StartAt = time.UnixMilli(start).UTC()
	c.CreatedAt = time.UnixMilli(created).UTC()
	c.UpdatedAt = time.UnixMilli(updated).UTC()
	return c, nil
}

// UpdateCampaign changes start time or rate.
func (s *Store) UpdateCampaign(ctx context.Context, id int64, p herald.CampaignPatch) (herald.Campaign, error) {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var state herald.CampaignState
		var prepared sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT state, prepared_at FROM campaigns WHERE id = ?`, id).Scan(&state, &prepared); err != nil {
			return err
		}
		if err := herald.CheckPatch(state, prepared.Valid, p); err != nil {
			return err
		}
		now := ms(time.Now())
		if p.StartAt != nil {
			if _, err := tx.ExecContext(ctx, `UPDATE campaigns SET start_at = ?, updated_at = ? WHERE id = ?`, ms(*p.StartAt), now, id); err != nil {
				return err
			}
		}
		if p.TPS != nil {
			if _, err := tx.ExecContext(ctx, `UPDATE campaigns SET tps = ?, updated_at = ? WHERE id = ?`, *p.TPS, now, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return herald.Campaign{}, translate(err, fmt.Sprintf("campaign %d", id))
	}
	return s.GetCampaign(ctx, id)
}

// TransitionCampaign moves the campaign to a new state if allowed.
func (s *Store) TransitionCampaign(ctx context.Context, id int64, to herald.CampaignState, at time.Time) (herald.Campaign, error) {
	return s.moveCampaign(ctx, id, to, "", at)
}

// HaltCampaign pauses or fails a campaign with a reason.
func (s *Store) HaltCampaign(ctx context.Context, id int64, to herald.CampaignState, reason string, at time.Time) (herald.Campaign, error) {
	if err := herald.CheckHalt(to); err != nil {
		return herald.Campaign{}, err
	}
	return s.moveCampaign(ctx, id, to, reason, at)
}

// moveCampaign applies an allowed transition, stores the reason (cleared
// by an empty one) and settles the recipients not yet claimed when the
// campaign can no longer run.
func (s *Store) moveCampaign(ctx context.Context, id int64, to herald.CampaignState, reason string, at time.Time) (herald.Campaign, error) {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var state herald.CampaignState
		var prepared sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT state, prepared_at FROM campaigns WHERE id = ?`, id).Scan(&state, &prepared); err != nil {
			return err
		}
		to, err := herald.NextState(state, to, prepared.Valid)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE campaigns SET state = ?, reason = ?, updated_at = ? WHERE id = ?`,
			string(to), reason, ms(at), id); err != nil {
			return err
		}
		// A row waiting is in doubt when a request under its key may have
		// been taken: it can only become UNKNOWN, never "not sent".
		const inDoubt = `(in_doubt = 1 OR batch_key IS NOT NULL)`
		switch to {
		case herald.CampaignCancelled:
			_, err = tx.ExecContext(ctx, `UPDATE recipients SET
					state = CASE WHEN `+inDoubt+` THEN 'UNKNOWN' ELSE 'CANCELLED' END,
					result_code = CASE WHEN `+inDoubt+` THEN ? ELSE result_code END,
					result_text = CASE WHEN `+inDoubt+` THEN 'campaign cancelled while a send was in doubt' ELSE result_text END,
					next_attempt_at = NULL, updated_at = ?
				WHERE campaign_id = ? AND state IN ('PENDING', 'RETRY_WAIT')`, herald.CodeInDoubt, ms(at), id)
		case herald.CampaignFailed:
			_, err = tx.ExecContext(ctx, `UPDATE recipients SET
					state = CASE WHEN `+inDoubt+` THEN 'UNKNOWN' ELSE 'FAILED' END,
					result_code = CASE WHEN `+inDoubt+` THEN ? ELSE ? END,
					result_text = CASE WHEN `+inDoubt+` THEN 'campaign failed while a send was in doubt: ' || ? ELSE ? END,
					next_attempt_at = NULL, updated_at = ?
				WHERE campaign_id = ? AND state IN ('PENDING', 'RETRY_WAIT')`,
				herald.CodeInDoubt, herald.CodeCampaignFailed, reason, reason, ms(at), id)
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
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var state herald.CampaignState
		if err := tx.QueryRowContext(ctx, `SELECT state FROM campaigns WHERE id = ?`, id).Scan(&state); err != nil {
			return err
		}
		if state != herald.CampaignDraft {
			return herald.Conflict("campaign is %s; only a draft can be approved", state)
		}
		_, err := tx.ExecContext(ctx, `UPDATE campaigns SET state = 'scheduled', approved_by = ?, reason = '', updated_at = ? WHERE id = ?`,
			approvedBy, ms(at), id)
		return err
	})
	if err != nil {
		return herald.Campaign{}, translate(err, fmt.Sprintf("campaign %d", id))
	}
	return s.GetCampaign(ctx, id)
}

// AudienceMembers pages through the members an audience selects, any status.
func (s *Store) AudienceMembers(ctx context.Context, campaignID int64, a herald.Audience, afterID string, limit int) ([]herald.Member, error) {
	filter, args := audienceFilter(campaignID, a)
	out, err := sqlrows.Collect(ctx, s.r, scanMember, `SELECT `+memberColumns+` FROM members
		WHERE id > ? AND `+filter+` ORDER BY id LIMIT ?`, append(append([]any{afterID}, args...), limit)...)
	return out, translate(err, "audience members")
}

// FallbackHistory counts past final results of a sender key's campaigns.
func (s *Store) FallbackHistory(ctx context.Context, senderKey string) (herald.FallbackHistory, error) {
	var h herald.FallbackHistory
	err := s.r.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(CASE WHEN `+notKakao+` THEN 1 ELSE 0 END), 0)
		FROM recipients r JOIN campaigns c ON c.id = r.campaign_id JOIN templates t ON t.code = c.template_code
		WHERE t.sender_key = ? AND r.state IN ('DELIVERED', 'FAILED') AND r.msg_key IS NOT NULL`, senderKey).Scan(&h.Reported, &h.NotKakao)
	return h, translate(err, "fallback history")
}

// notKakao says a recipient with a final result was not reached by
// KakaoTalk: not a user, blocked the sender, or delivered by the fallback.
const notKakao = `(r.result_code IN ('63019', '63020') OR r.channel IN ('SMS', 'LMS', 'MMS'))`

// AcquireCampaignLease takes the preparation lease of one due campaign.
func (s *Store) AcquireCampaignLease(ctx context.Context, owner string, now time.Time, ttl time.Duration) (herald.Campaign, error) {
	var id int64
	err := s.w.QueryRowContext(ctx, `UPDATE campaigns SET state = 'preparing', lease_owner = ?, lease_until = ?, updated_at = ?
		WHERE id = (SELECT id FROM campaigns
			WHERE (state = 'scheduled' AND start_at <= ?) OR (state = 'preparing' AND lease_until < ?)
			ORDER BY start_at, id LIMIT 1)
		RETURNING id`, owner, ms(now.Add(ttl)), ms(now), ms(now), ms(now)).Scan(&id)
	if err != nil {
		return herald.Campaign{}, translate(err, "no campaign due")
	}
	return s.GetCampaign(ctx, id)
}

// PrepareRecipients materialises the audience with one INSERT…SELECT.
func (s *Store) PrepareRecipients(ctx context.Context, campaignID int64, owner string, now time.Time) (int, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var audienceJSON string
		err := tx.QueryRowContext(ctx, `SELECT audience FROM campaigns WHERE id = ? AND state = 'preparing' AND lease_owner = ?`,
			campaignID, owner).Scan(&audienceJSON)
		if err == sql.ErrNoRows {
			return herald.Conflict("campaign %d is not being prepared by %s", campaignID, owner)
		}
		if err != nil {
			return err
		}
		var a herald.Audience
		if err := json.Unmarshal([]byte(audienceJSON), &a); err != nil {
			return fmt.Errorf("audience: %w", err)
		}
		filter, args := audienceFilter(campaignID, a)
		res, err := tx.ExecContext(ctx, `INSERT INTO recipients (campaign_id, member_id, phone, state, created_at, updated_at)
			SELECT ?, id, phone, 'PENDING', ?, ? FROM members WHERE status = 'active' AND `+filter+`
			ON CONFLICT (campaign_id, member_id) DO NOTHING`,
			append([]any{campaignID, ms(now), ms(now)}, args...)...)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		_, err = tx.ExecContext(ctx, `UPDATE campaigns SET state = 'running', prepared_at = ?, lease_owner = NULL, lease_until = NULL, updated_at = ?
			WHERE id = ?`, ms(now), ms(now), campaignID)
		return err
	})
	return int(n), translate(err, fmt.Sprintf("prepare campaign %d", campaignID))
}

// audienceFilter is the WHERE fragment that selects the audience; values are
// always bound, never spliced.
func audienceFilter(campaignID int64, a herald.Audience) (string, []any) {
	switch {
	case a.Retry != nil:
		return `id IN (SELECT member_id FROM campaign_members WHERE campaign_id = ?)`, []any{campaignID}
	case len(a.MemberIDs) > 0:
		ids, _ := json.Marshal(a.MemberIDs)
		return `id IN (SELECT value FROM json_each(?))`, []any{string(ids)}
	case len(a.Attributes) > 0:
		var parts []string
		var args []any
		for k, v := range a.Attributes {
			parts = append(parts, `EXISTS (SELECT 1 FROM json_each(members.attributes) WHERE key = ? AND value = ?)`)
			args = append(args, k, v)
		}
		return strings.Join(parts, " AND "), args
	default:
		return `1 = 1`, nil
	}
}

// RunningCampaigns lists running campaigns without counting recipients.
func (s *Store) RunningCampaigns(ctx context.Context) ([]herald.Campaign, error) {
	return s.queryCampaigns(ctx, "running campaigns", `SELECT `+campaignColumns+` FROM campaigns WHERE state = 'running' ORDER BY id`)
}

func (s *Store) queryCampaigns(ctx context.Context, what, query string) ([]herald.Campaign, error) {
	out, err := sqlrows.Collect(ctx, s.r, scanCampaign, query)
	return out, translate(err, what)
}

// CompleteCampaign completes a running campaign with nothing left to send.
func (s *Store) CompleteCampaign(ctx context.Context, id int64, at time.Time) (bool, error) {
	res, err := s.w.ExecContext(ctx, `UPDATE campaigns SET state = 'completed', updated_at = ?
		WHERE id = ? AND state = 'running' AND kind = '' AND NOT EXISTS (SELECT 1 FROM recipients
			WHERE campaign_id = ? AND state IN ('PENDING', 'SENDING', 'RETRY_WAIT'))`, ms(at), id, id)
	if err != nil {
		return false, translate(err, fmt.Sprintf("complete campaign %d", id))
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}
