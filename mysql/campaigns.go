package mysql

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
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
	r, err := s.db.ExecContext(ctx, `INSERT INTO campaigns (name, template_code, audience, variables, start_at, tps, send_window, state, reason,
			created_by, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, '', ?, ?, ?)`,
		c.Name, c.TemplateCode, string(audience), string(vars), c.StartAt.UTC(), c.TPS, c.SendWindow, string(c.State),
		c.CreatedBy, c.CreatedAt.UTC(), c.CreatedAt.UTC())
	if err != nil {
		return herald.Campaign{}, translate(err, "create campaign")
	}
	if c.ID, err = r.LastInsertId(); err != nil {
		return herald.Campaign{}, translate(err, "create campaign")
	}
	return s.GetCampaign(ctx, c.ID)
}

// counts reads recipient counts per state from the counters the triggers
// keep (migration 5), in one statement (one consistent snapshot), so they
// add up to a total taken at one moment. id 0 means every campaign. A
// campaign whose counter rows have grown past compactAfter is compacted
// for the next reader.
func (s *Store) counts(ctx context.Context, id int64) (map[int64]map[herald.RecipientState]int, error) {
	where, args := ``, []any{}
	if id != 0 {
		where, args = ` WHERE campaign_id = ?`, []any{id, id}
	}
	q := `SELECT campaign_id, state, SUM(n), COUNT(*) FROM (
		SELECT campaign_id, state, n FROM recipient_counts` + where + `
		UNION ALL SELECT campaign_id, state, n FROM recipient_count_totals` + where + `) x
		GROUP BY campaign_id, state`
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, translate(err, "count recipients")
	}
	defer rows.Close()
	out := map[int64]map[herald.RecipientState]int{}
	grown := map[int64]int{}
	for rows.Next() {
		var cid int64
		var state herald.RecipientState
		var n, parts int
		if err := rows.Scan(&cid, &state, &n, &parts); err != nil {
			return nil, translate(err, "count recipients")
		}
		if out[cid] == nil {
			out[cid] = map[herald.RecipientState]int{}
		}
		out[cid][state] = n
		grown[cid] += parts
	}
	if err := rows.Err(); err != nil {
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

// compactAfter is how many counter rows (states × connections that wrote
// to the campaign) a campaign may have before a reader folds them.
const compactAfter = 64

// compactCounts folds a campaign's counter shards into its totals. It
// locks the shards it reads, skipping those a transaction is writing (SKIP
// LOCKED: it never waits for one, so it cannot deadlock with one), and
// deletes exactly the rows it summed, each by its key; the rest wait for
// the next compaction. Only compactions write the totals (state by state
// in order), so no writer waits for one there.
func (s *Store) compactCounts(ctx context.Context, id int64) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT state, shard, n FROM recipient_counts WHERE campaign_id = ?
				ORDER BY state, shard FOR UPDATE SKIP LOCKED`, id)
		if err != nil {
			return err
		}
		sums := map[string]int64{}
		type key struct {
			state string
			shard uint64
		}
		var keys []key
		for rows.Next() {
			var state string
			var shard uint64
			var n int64
			if err := rows.Scan(&state, &shard, &n); err != nil {
				rows.Close()
				return err
			}
			sums[state] += n
			keys = append(keys, key{state, shard})
		}
		rows.Close()
		if err := rows.Err(); err != nil || len(keys) == 0 {
			return err
		}
		for _, state := range slices.Sorted(maps.Keys(sums)) {
			n := sums[state]
			if _, err := tx.ExecContext(ctx, `INSERT INTO recipient_count_totals (campaign_id, state, n) VALUES (?, ?, ?)
					ON DUPLICATE KEY UPDATE n = n + VALUES(n)`, id, state, n); err != nil {
				return err
			}
		}
		// One delete per key: a scan over the campaign (what the
		// optimizer makes of a long OR) would wait for the shards it
		// skipped.
		for _, k := range keys {
			if _, err := tx.ExecContext(ctx, `DELETE FROM recipient_counts WHERE campaign_id = ? AND state = ? AND shard = ?`,
				id, k.state, k.shard); err != nil {
				return err
			}
		}
		return nil
	})
	return translate(err, fmt.Sprintf("compact counts of campaign %d", id))
}

func scanCampaign(row scanner) (herald.Campaign, error) {
	var c herald.Campaign
	var audience, vars []byte
	err := row.Scan(&c.ID, &c.Name, &c.TemplateCode, &audience, &vars, &c.StartAt, &c.TPS, &c.SendWindow, &c.State, &c.Reason,
		&c.CreatedBy, &c.ApprovedBy, &c.Kind, &c.RetryOf, &c.CreatedAt, &c.UpdatedAt)
	if err != nil {
		return herald.Campaign{}, err
	}
	if err := json.Unmarshal(audience, &c.Audience); err != nil {
		return herald.Campaign{}, fmt.Errorf("campaign %d audience: %w", c.ID, err)
	}
	if err := json.Unmarshal(vars, &c.Variables); err != nil {
		return herald.Campaign{}, fmt.Errorf("campaign %d variables: %w", c.ID, err)
	}
	c.StartAt, c.CreatedAt, c.UpdatedAt = c.StartAt.UTC(), c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return c, nil
}

func (s *Store) queryCampaigns(ctx context.Context, what, query string) ([]herald.Campaign, error) {
	out, err := sqlrows.Collect(ctx, s.db, scanCampaign, query)
	return out, translate(err, what)
}

// lockCampaign reads state and preparation under a row lock.
func lockCampaign(ctx context.Context, tx *sql.Tx, id int64) (herald.CampaignState, bool, error) {
	var state herald.CampaignState
	var prepared sql.NullTime
	err := tx.QueryRowContext(ctx, `SELECT state, prepared_at FROM campaigns WHERE id = ? FOR UPDATE`, id).Scan(&state, &prepared)
	return state, prepared.Valid, err
}

// UpdateCampaign changes start time or rate.
func (s *Store) UpdateCampaign(ctx context.Context, id int64, p herald.CampaignPatch) (herald.Campaign, error) {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		state, prepared, err := lockCampaign(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := herald.CheckPatch(state, prepared, p); err != nil {
			return err
		}
		var start, tps any
		if p.StartAt != nil {
			start = p.StartAt.UTC()
		}
		if p.TPS != nil {
			tps = *p.TPS
		}
		_, err = tx.ExecContext(ctx, `UPDATE campaigns SET start_at = COALESCE(?, start_at), tps = COALESCE(?, tps), updated_at = ?
			WHERE id = ?`, start, tps, time.Now().UTC(), id)
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
// settles them (RecordOutcomes). A claim holding rows makes the UPDATE
// wait for it and then skip them (they are SENDING by then).
func (s *Store) transition(ctx context.Context, id int64, to herald.CampaignState, reason string, at time.Time) (herald.Campaign, error) {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		state, prepared, err := lockCampaign(ctx, tx, id)
		if err != nil {
			return err
		}
		to, err := herald.NextState(state, to, prepared)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE campaigns SET state = ?, reason = ?, updated_at = ? WHERE id = ?`,
			string(to), reason, at.UTC(), id); err != nil {
			return err
		}
		if to != herald.CampaignCancelled && to != herald.CampaignFailed {
			return nil
		}
		// Single-table UPDATE assigns left to right: every expression
		// reads only columns not yet assigned, or its own.
		const doubt = `(in_doubt OR batch_key IS NOT NULL)`
		c := settleSQL{doubt: doubt, campaign: "?", reason: "?"}
		_, err = tx.ExecContext(ctx, `UPDATE recipients SET
				result_code = `+c.code("result_code")+`,
				result_text = `+c.text("result_text")+`,
				sent_at = CASE WHEN `+doubt+` THEN sent_at END,
				state = `+c.state()+`,
				updated_at = ?
			WHERE campaign_id = ? AND state IN ('PENDING', 'RETRY_WAIT')`,
			// code: doubt, campaign; text: doubt, campaign, reason, reason, campaign, reason; state: doubt, campaign
			string(to),
			string(to), reason, reason, string(to), reason,
			string(to),
			at.UTC(), id)
		return err
	})
	if err != nil {
		return herald.Campaign{}, translate(err, fmt.Sprintf("campaign %d", id))
	}
	return s.GetCampaign(ctx, id)
}

// settleSQL is settle (recipients.go) as SQL, for the one statement that
// settles many rows at once (a cancel or failure). Its fields are SQL
// expressions: doubt (boolean), campaign (its state) and reason.
type settleSQL struct{ doubt, campaign, reason string }

func (x settleSQL) state() string {
	return `CASE WHEN ` + x.doubt + ` THEN 'UNKNOWN' WHEN ` + x.campaign + ` = 'cancelled' THEN 'CANCELLED' ELSE 'FAILED' END`
}

func (x settleSQL) code(cancelled string) string {
	return `CASE WHEN ` + x.doubt + ` THEN '` + herald.CodeInDoubt + `' WHEN ` + x.campaign + ` = 'cancelled' THEN ` + cancelled +
		` ELSE '` + herald.CodeCampaignFailed + `' END`
}

func (x settleSQL) text(cancelled string) string {
	return `CASE WHEN ` + x.doubt + ` THEN CONCAT('campaign ', ` + x.campaign + `, ' while a send was in doubt',
			CASE WHEN ` + x.reason + ` <> '' THEN CONCAT(': ', ` + x.reason + `) ELSE '' END)
		WHEN ` + x.campaign + ` = 'cancelled' THEN ` + cancelled + ` ELSE ` + x.reason + ` END`
}

// AcquireCampaignLease takes the preparation lease of one due campaign.
func (s *Store) AcquireCampaignLease(ctx context.Context, owner string, now time.Time, ttl time.Duration) (herald.Campaign, error) {
	var id int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT id FROM campaigns
			WHERE (state = 'scheduled' AND start_at <= ?) OR (state = 'preparing' AND lease_until < ?)
			ORDER BY start_at, id LIMIT 1 FOR UPDATE SKIP LOCKED`, now.UTC(), now.UTC()).Scan(&id)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE campaigns SET state = 'preparing', lease_owner = ?, lease_until = ?, updated_at = ?
			WHERE id = ?`, owner, now.Add(ttl).UTC(), now.UTC(), id)
		return err
	})
	if err != nil {
		return herald.Campaign{}, translate(err, "no campaign due")
	}
	return s.GetCampaign(ctx, id)
}

// ApproveCampaign schedules a draft and stores its approver.
func (s *Store) ApproveCampaign(ctx context.Context, id int64, approvedBy string, at time.Time) (herald.Campaign, error) {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		state, _, err := lockCampaign(ctx, tx, id)
		if err != nil {
			return err
		}
		if state != herald.CampaignDraft {
			return herald.Conflict("campaign is %s; only a draft can be approved", state)
		}
		_, err = tx.ExecContext(ctx, `UPDATE campaigns SET state = 'scheduled', approved_by = ?, reason = '', updated_at = ? WHERE id = ?`,
			approvedBy, at.UTC(), id)
		return err
	})
	if err != nil {
		return herald.Campaign{}, translate(err, fmt.Sprintf("campaign %d", id))
	}
	return s.GetCampaign(ctx, id)
}

// audienceFrom is the FROM and WHERE of the members an audience selects
// (alias m), with their arguments, in order.
func audienceFrom(a herald.Audience) (from, filter string, args []any) {
	from, filter = `members m`, `1 = 1`
	if a.MemberIDs != nil {
		ids, _ := json.Marshal(a.MemberIDs)
		from = `(SELECT DISTINCT j.id FROM JSON_TABLE(?, '$[*]' COLUMNS (id VARCHAR(128) PATH '$')) j) l
				JOIN members m ON m.id = CONVERT(l.id USING utf8mb4) COLLATE utf8mb4_bin`
		args = append(args, string(ids))
	}
	if !a.All && len(a.Attributes) > 0 {
		attrs, _ := json.Marshal(a.Attributes)
		filter += ` AND JSON_CONTAINS(m.attributes, ?)`
		args = append(args, string(attrs))
	}
	return from, filter, args
}

// AudienceMembers pages through the members an audience selects, any status.
func (s *Store) AudienceMembers(ctx context.Context, campaignID int64, a herald.Audience, afterID string, limit int) ([]herald.Member, error) {
	from, filter, args := audienceFrom(a)
	if a.Retry != nil { // a fixed member set, stored with the campaign
		from, filter, args = `campaign_members l JOIN members m ON m.id = l.member_id AND l.campaign_id = ?`, `1 = 1`, []any{campaignID}
	}
	out, err := sqlrows.Collect(ctx, s.db, scanMember, `SELECT m.id, m.phone, m.name, m.attributes, m.status, m.updated_at FROM `+from+`
		WHERE `+filter+` AND m.id > ? ORDER BY m.id LIMIT ?`, append(args, afterID, limit)...)
	return out, translate(err, "audience members")
}

// FallbackHistory counts past final results of a sender key's campaigns.
func (s *Store) FallbackHistory(ctx context.Context, senderKey string) (herald.FallbackHistory, error) {
	var h herald.FallbackHistory
	err := s.db.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(r.result_code IN ('63019', '63020') OR r.channel IN ('SMS', 'LMS', 'MMS')), 0)
		FROM recipients r JOIN campaigns c ON c.id = r.campaign_id JOIN templates t ON t.code = c.template_code
		WHERE t.sender_key = ? AND r.state IN ('DELIVERED', 'FAILED') AND r.msg_key IS NOT NULL`, senderKey).Scan(&h.Reported, &h.NotKakao)
	return h, translate(err, "fallback history")
}

// PrepareRecipients materialises the audience with one INSERT…SELECT. An
// explicit member list goes in as one JSON array, read by JSON_TABLE, and
// an attribute filter as one JSON object (JSON_CONTAINS is PostgreSQL's @>).
func (s *Store) PrepareRecipients(ctx context.Context, campaignID int64, owner string, now time.Time) (int, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var raw []byte
		err := tx.QueryRowContext(ctx, `SELECT audience FROM campaigns WHERE id = ? AND state = 'preparing' AND lease_owner = ? FOR UPDATE`,
			campaignID, owner).Scan(&raw)
		if errors.Is(err, sql.ErrNoRows) {
			return herald.Conflict("campaign %d is not being prepared by %s", campaignID, owner)
		}
		if err != nil {
			return err
		}
		var a herald.Audience
		if err := json.Unmarshal(raw, &a); err != nil {
			return fmt.Errorf("audience: %w", err)
		}
		from, filter := `members m`, `m.status = 'active'`
		args := []any{campaignID, now.UTC(), now.UTC()}
		if a.Retry != nil {
			from = `campaign_members l JOIN members m ON m.id = l.member_id AND l.campaign_id = ?`
			args = append(args, campaignID)
		}
		if a.MemberIDs != nil {
			ids, _ := json.Marshal(a.MemberIDs)
			from = `(SELECT DISTINCT j.id FROM JSON_TABLE(?, '$[*]' COLUMNS (id VARCHAR(128) PATH '$')) j) l
				JOIN members m ON m.id = CONVERT(l.id USING utf8mb4) COLLATE utf8mb4_bin`
			args = append(args, string(ids))
		}
		if !a.All && len(a.Attributes) > 0 {
			attrs, _ := json.Marshal(a.Attributes)
			filter += ` AND JSON_CONTAINS(m.attributes, ?)`
			args = append(args, string(attrs))
		}
		if n, err = insertCounted(ctx, tx, campaignID, `INSERT INTO recipients (campaign_id, member_id, phone, state, result_text, created_at, updated_at)
			SELECT ?, m.id, m.phone, 'PENDING', '', ?, ? FROM `+from+`
			WHERE `+filter+`
			ORDER BY m.id`, args...); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE campaigns SET state = 'running', prepared_at = ?, lease_owner = NULL, lease_until = NULL, updated_at = ?
			WHERE id = ?`, now.UTC(), now.UTC(), campaignID)
		return err
	})
	return int(n), translate(err, fmt.Sprintf("prepare campaign %d", campaignID))
}

// insertCounted runs the INSERT…SELECT of campaign's PENDING recipients (a
// plain INSERT, so that RowsAffected is what was inserted: only the holder
// of the preparing lease inserts, once, under the campaign's row lock, and
// the unique (campaign, member) key refuses a second row for anyone)
// with the counter trigger skipping its rows (@herald_counted_campaign,
// migration 5) and adds their number to the counters itself, in the
// transaction: one upsert instead of one per row. The variable is cleared
// before the transaction ends; should the clearing fail with the
// transaction, the connection's trigger skips only inserts into this
// campaign, which only a later preparation of it makes, and that sets the
// variable again and counts itself.
func insertCounted(ctx context.Context, tx *sql.Tx, campaignID int64, insert string, args ...any) (int64, error) {
	if _, err := tx.ExecContext(ctx, `SET @herald_counted_campaign = ?`, campaignID); err != nil {
		return 0, err
	}
	r, err := tx.ExecContext(ctx, insert, args...)
	if err != nil {
		return 0, err
	}
	n, err := r.RowsAffected()
	if err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, `SET @herald_counted_campaign = NULL`); err != nil {
		return 0, err
	}
	if n > 0 {
		_, err = tx.ExecContext(ctx, `INSERT INTO recipient_counts (campaign_id, state, shard, n) VALUES (?, 'PENDING', CONNECTION_ID(), ?)
			ON DUPLICATE KEY UPDATE n = n + VALUES(n)`, campaignID, n)
	}
	return n, err
}

// RunningCampaigns lists running campaigns without counting recipients.
func (s *Store) RunningCampaigns(ctx context.Context) ([]herald.Campaign, error) {
	return s.queryCampaigns(ctx, "running campaigns", `SELECT `+campaignColumns+` FROM campaigns WHERE state = 'running' ORDER BY id`)
}

// CompleteCampaign completes a running campaign with nothing left to send.
func (s *Store) CompleteCampaign(ctx context.Context, id int64, at time.Time) (bool, error) {
	var n int64
	err := s.retry(ctx, func() error {
		r, err := s.db.ExecContext(ctx, `UPDATE campaigns SET state = 'completed', updated_at = ?
			WHERE id = ? AND state = 'running' AND kind = '' AND NOT EXISTS (SELECT 1 FROM recipients
				WHERE campaign_id = ? AND state IN ('PENDING', 'SENDING', 'RETRY_WAIT'))`, at.UTC(), id, id)
		if err != nil {
			return err
		}
		n, err = r.RowsAffected()
		return err
	})
	if err != nil {
		return false, translate(err, fmt.Sprintf("complete campaign %d", id))
	}
	return n == 1, nil
}
