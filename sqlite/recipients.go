package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/sqlrows"
)

const recipientColumns = `id, campaign_id, member_id, phone, message_id, state, attempts, lease_owner, lease_until,
	next_attempt_at, claim_token, resends, in_doubt, batch_key, sent_at, msg_key, result_code, result_text, channel,
	created_at, updated_at`

// ClaimRecipients leases up to p.Limit sendable recipients of a running
// campaign. The single writer connection makes the select-and-update atomic.
// A row with a batch key is in doubt: its claim counts a resend, not an
// attempt, and keeps the key.
func (s *Store) ClaimRecipients(ctx context.Context, p herald.ClaimParams) ([]herald.Recipient, error) {
	rows, err := s.w.QueryContext(ctx, `UPDATE recipients SET state = 'SENDING', lease_owner = ?, lease_until = ?,
			claim_token = claim_token + 1,
			attempts = attempts + (batch_key IS NULL), resends = resends + (batch_key IS NOT NULL),
			message_id = COALESCE(message_id, 'h' || ? || '-' || campaign_id || '-' || id), updated_at = ?
		WHERE id IN (SELECT r.id FROM recipients r JOIN campaigns c ON c.id = r.campaign_id
			WHERE r.campaign_id = ? AND c.state = 'running'
			  AND (r.state = 'PENDING' OR (r.state = 'RETRY_WAIT' AND r.next_attempt_at <= ?))
			ORDER BY r.id LIMIT ?)
		RETURNING `+recipientColumns,
		p.Owner, ms(p.LeaseUntil), s.instanceID, ms(p.Now), p.CampaignID, ms(p.Now), p.Limit)
	if err != nil {
		return nil, translate(err, "claim recipients")
	}
	out, err := sqlrows.All(rows, scanRecipient)
	if err != nil {
		return nil, err
	}
	// RETURNING gives no order; callers get id order, as they always did.
	slices.SortFunc(out, func(a, b herald.Recipient) int { return cmpInt64(a.ID, b.ID) })
	return out, nil
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// fencedRow is what a fenced write reads of its row before deciding.
type fencedRow struct {
	inDoubt  bool
	campaign herald.CampaignState
	reason   string
}

// readFenced reads the row id while it is SENDING under owner and token;
// ok is false for a stale writer.
func readFenced(ctx context.Context, tx *sql.Tx, id int64, owner string, token int64) (f fencedRow, ok bool, err error) {
	err = tx.QueryRowContext(ctx, `SELECT r.in_doubt, c.state, c.reason FROM recipients r JOIN campaigns c ON c.id = r.campaign_id
		WHERE r.id = ? AND r.state = 'SENDING' AND r.lease_owner = ? AND r.claim_token = ?`, id, owner, token).
		Scan(&f.inDoubt, &f.campaign, &f.reason)
	if errors.Is(err, sql.ErrNoRows) {
		return f, false, nil
	}
	return f, err == nil, err
}

// rowWrite is one fenced write of a SENDING row, which also ends its lease.
type rowWrite struct {
	state             herald.RecipientState
	attempts, resends int  // added to the counters
	inDoubt           bool // sets in_doubt (it is never cleared)
	clearKey          bool // clears batch_key and sent_at
	msgKey            string
	code, text        any // nil keeps the row's
	next              any
	at                time.Time
}

const writeFenced = `UPDATE recipients SET state = ?, attempts = attempts + ?, resends = resends + ?, in_doubt = MAX(in_doubt, ?),
		batch_key = CASE WHEN ? THEN NULL ELSE batch_key END, sent_at = CASE WHEN ? THEN NULL ELSE sent_at END,
		msg_key = COALESCE(NULLIF(?, ''), msg_key), result_code = COALESCE(?, result_code), result_text = COALESCE(?, result_text),
		next_attempt_at = ?, lease_owner = NULL, lease_until = NULL, updated_at = ?
	WHERE id = ? AND state = 'SENDING' AND lease_owner = ? AND claim_token = ?`

func (w rowWrite) exec(ctx context.Context, stmt *sql.Stmt, id int64, owner string, token int64) error {
	_, err := stmt.ExecContext(ctx, string(w.state), w.attempts, w.resends, w.inDoubt, w.clearKey, w.clearKey,
		w.msgKey, w.code, w.text, w.next, ms(w.at), id, owner, token)
	return err
}

// settle says what a row that would wait for a send becomes on a campaign
// that can no longer run (cancelled or failed); ok is false when the
// campaign may still run. text is the caller's explanation, kept for an
// in-doubt row when not empty.
func settle(f fencedRow, inDoubt bool, code, text any) (w rowWrite, ok bool) {
	switch f.campaign {
	case herald.CampaignCancelled:
		if inDoubt {
			return rowWrite{state: herald.RecipientUnknown, code: herald.CodeInDoubt,
				text: textOr(text, cancelledInDoubt)}, true
		}
		return rowWrite{state: herald.RecipientCancelled, code: code, text: text, clearKey: true}, true
	case herald.CampaignFailed:
		if inDoubt {
			return rowWrite{state: herald.RecipientUnknown, code: herald.CodeInDoubt,
				text: textOr(text, failedInDoubt+f.reason)}, true
		}
		return rowWrite{state: herald.RecipientFailed, code: herald.CodeCampaignFailed, text: f.reason, clearKey: true}, true
	}
	return rowWrite{}, false
}

// What an in-doubt row settled by a halted campaign says (settle, and
// ReleaseRecipients in SQL).
const (
	cancelledInDoubt = "campaign cancelled while a send was in doubt"
	failedInDoubt    = "campaign failed while a send was in doubt: "
)

func textOr(text any, def string) string {
	if s, ok := text.(string); ok && s != "" {
		return s
	}
	return def
}

// RecordOutcomes applies a batch of send results in one transaction, each
// fenced by owner and claim token.
func (s *Store) RecordOutcomes(ctx context.Context, updates []herald.RecipientUpdate) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, writeFenced)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, u := range updates {
			w := rowWrite{state: u.State, msgKey: u.MsgKey, code: u.ResultCode, text: u.ResultText, next: nullMs(u.NextAttempt)}
			if u.State == herald.RecipientRetryWait {
				f, ok, err := readFenced(ctx, tx, u.ID, u.Owner, u.Token)
				if err != nil {
					return err
				}
				if !ok {
					continue // a stale writer
				}
				// In doubt for good: a refused resend proves nothing about
				// the first send under the key.
				doubt := u.InDoubt || f.inDoubt
				if settled, ok := settle(f, doubt, u.ResultCode, u.ResultText); ok {
					settled.msgKey = u.MsgKey
					w = settled
				} else if doubt {
					w.inDoubt = true
				} else {
					w.clearKey = true
				}
			}
			w.at = u.At
			if err := w.exec(ctx, stmt, u.ID, u.Owner, u.Token); err != nil {
				return err
			}
		}
		return nil
	})
	return translate(err, "record outcomes")
}

// MarkBatches freezes each request and writes its key on its rows, all in
// one transaction; any row no longer claimed as given rolls all back.
func (s *Store) MarkBatches(ctx context.Context, owner string, reqs []herald.SentRequest) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		mark, err := tx.PrepareContext(ctx, `UPDATE recipients SET batch_key = ?, sent_at = ?
			WHERE id = ? AND state = 'SENDING' AND lease_owner = ? AND claim_token = ?
			RETURNING campaign_id`)
		if err != nil {
			return err
		}
		defer mark.Close()
		freeze, err := tx.PrepareContext(ctx, `INSERT INTO requests (key, campaign_id, body, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (key) DO NOTHING`)
		if err != nil {
			return err
		}
		defer freeze.Close()
		for _, req := range reqs {
			key := req.Batch.IdempotencyKey
			if key == "" {
				return herald.Invalid("batch.idempotencyKey", "is empty")
			}
			if len(req.Claims) == 0 || len(req.Claims) != len(req.Batch.Destinations) {
				return herald.Invalid("batch", "request %s has %d claims for %d destinations", key, len(req.Claims), len(req.Batch.Destinations))
			}
			var campaignID int64
			for _, c := range req.Claims {
				err := mark.QueryRowContext(ctx, key, ms(req.At), c.ID, owner, c.Token).Scan(&campaignID)
				if errors.Is(err, sql.ErrNoRows) {
					return herald.Conflict("recipient %d is no longer claimed by %s with token %d", c.ID, owner, c.Token)
				}
				if err != nil {
					return err
				}
			}
			body, err := json.Marshal(req.Batch)
			if err != nil {
				return fmt.Errorf("request %s: %w", key, err)
			}
			if _, err := freeze.ExecContext(ctx, key, campaignID, string(body), ms(req.At)); err != nil {
				return err
			}
		}
		return nil
	})
	return translate(err, "mark batches")
}

// Requests reads frozen requests by key.
func (s *Store) Requests(ctx context.Context, keys []string) (map[string]herald.SendBatch, error) {
	out := make(map[string]herald.SendBatch, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	list, _ := json.Marshal(keys)
	rows, err := s.r.QueryContext(ctx, `SELECT key, body FROM requests WHERE key IN (SELECT value FROM json_each(?))`, string(list))
	if err != nil {
		return nil, translate(err, "requests")
	}
	defer rows.Close()
	for rows.Next() {
		var key, body string
		if err := rows.Scan(&key, &body); err != nil {
			return nil, translate(err, "requests")
		}
		var b herald.SendBatch
		if err := json.Unmarshal([]byte(body), &b); err != nil {
			return nil, fmt.Errorf("request %s: %w", key, err)
		}
		out[key] = b
	}
	return out, translate(rows.Err(), "requests")
}

// ReleaseRecipients gives back claimed rows that were not sent in this
// claim: to PENDING, or, in doubt, to RETRY_WAIT due at once; settled
// instead on a campaign that can no longer run (as settle does). One
// statement for all the claims: a release of a whole claim (1,000 rows,
// when a campaign pauses) would otherwise hold the single writer, and the
// heartbeats queued behind it, for seconds. The unary + keeps the
// planner from walking the owner's SENDING rows and scanning the list for
// each: the list leads, each row found by its id.
func (s *Store) ReleaseRecipients(ctx context.Context, owner string, claims []herald.Claim, at time.Time) error {
	if len(claims) == 0 {
		return nil
	}
	pairs := make([][2]int64, len(claims))
	for i, c := range claims {
		pairs[i] = [2]int64{c.ID, c.Token}
	}
	list, _ := json.Marshal(pairs)
	const halted = `c.state IN ('cancelled', 'failed')`
	_, err := s.w.ExecContext(ctx, `UPDATE recipients AS r SET
			state = CASE WHEN `+halted+` AND r.in_doubt THEN 'UNKNOWN'
				WHEN c.state = 'cancelled' THEN 'CANCELLED'
				WHEN c.state = 'failed' THEN 'FAILED'
				WHEN r.in_doubt THEN 'RETRY_WAIT' ELSE 'PENDING' END,
			result_code = CASE WHEN `+halted+` AND r.in_doubt THEN ?
				WHEN c.state = 'failed' THEN ? ELSE r.result_code END,
			result_text = CASE WHEN c.state = 'cancelled' AND r.in_doubt THEN ?
				WHEN c.state = 'failed' AND r.in_doubt THEN ? || c.reason
				WHEN c.state = 'failed' THEN c.reason ELSE r.result_text END,
			attempts = r.attempts - (NOT r.in_doubt), resends = r.resends - r.in_doubt,
			next_attempt_at = CASE WHEN r.in_doubt AND NOT `+halted+` THEN ? END,
			batch_key = CASE WHEN r.in_doubt THEN r.batch_key END,
			sent_at = CASE WHEN r.in_doubt THEN r.sent_at END,
			lease_owner = NULL, lease_until = NULL, updated_at = ?
		FROM (SELECT value ->> 0 AS id, value ->> 1 AS token FROM json_each(?)) AS u, campaigns AS c
		WHERE r.id = u.id AND c.id = r.campaign_id
		  AND +r.state = 'SENDING' AND +r.lease_owner = ? AND r.claim_token = u.token`,
		herald.CodeInDoubt, herald.CodeCampaignFailed, cancelledInDoubt, failedInDoubt, ms(at), ms(at), string(list), owner)
	return translate(err, "release recipients")
}

// Heartbeat records that owner is alive and forgets owners silent for an hour.
func (s *Store) Heartbeat(ctx context.Context, owner string, now time.Time) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO processes (owner, heartbeat_at) VALUES (?, ?)
			ON CONFLICT (owner) DO UPDATE SET heartbeat_at = excluded.heartbeat_at`, owner, ms(now)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM processes WHERE heartbeat_at < ?`, ms(now.Add(-time.Hour)))
		return err
	})
	return translate(err, "heartbeat")
}

// abandoned is a SENDING row r whose owner has written no heartbeat since
// its parameter, deadBefore (RequeueAbandoned).
const abandoned = `r.state = 'SENDING'
	AND NOT EXISTS (SELECT 1 FROM processes p WHERE p.owner = r.lease_owner AND p.heartbeat_at >= ?)`

// RequeueAbandoned hands back SENDING rows of owners without a heartbeat
// since deadBefore. It looks on a reader first: the recovery runs every
// second in every process, and almost always finds nothing, which need
// not wait for the single writer (nor hold it from the heartbeats).
func (s *Store) RequeueAbandoned(ctx context.Context, now, deadBefore time.Time, limit int) (int, error) {
	var found int
	err := s.r.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM recipients r WHERE `+abandoned+`)`,
		ms(deadBefore)).Scan(&found)
	if err != nil || found == 0 {
		return 0, translate(err, "requeue abandoned")
	}
	res, err := s.w.ExecContext(ctx, `UPDATE recipients SET
			state = CASE WHEN batch_key IS NULL THEN 'PENDING' ELSE 'RETRY_WAIT' END,
			attempts = attempts - (batch_key IS NULL),
			in_doubt = CASE WHEN batch_key IS NULL THEN in_doubt ELSE 1 END,
			next_attempt_at = CASE WHEN batch_key IS NULL THEN next_attempt_at ELSE ? END,
			claim_token = claim_token + 1, lease_owner = NULL, lease_until = NULL, updated_at = ?
		WHERE id IN (SELECT r.id FROM recipients r WHERE `+abandoned+` ORDER BY r.id LIMIT ?)`,
		ms(now), ms(now), ms(deadBefore), limit)
	if err != nil {
		return 0, translate(err, "requeue abandoned")
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// AcceptedWithoutReport lists overdue accepted rows that have a msgKey.
func (s *Store) AcceptedWithoutReport(ctx context.Context, before time.Time, afterID int64, limit int) ([]herald.Recipient, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+recipientColumns+` FROM recipients
		WHERE state = 'ACCEPTED' AND updated_at < ? AND id > ? AND msg_key IS NOT NULL AND msg_key <> ''
		ORDER BY id LIMIT ?`, ms(before), afterID, limit)
	if err != nil {
		return nil, translate(err, "accepted without report")
	}
	out, err := sqlrows.All(rows, scanRecipient)
	return out, translate(err, "accepted without report")
}

// ExpireAccepted settles accepted rows whose report can no longer come.
func (s *Store) ExpireAccepted(ctx context.Context, before, now time.Time, limit int) (int, error) {
	res, err := s.w.ExecContext(ctx, `UPDATE recipients SET state = 'UNKNOWN', result_code = ?,
			result_text = ?, updated_at = ?
		WHERE id IN (SELECT id FROM recipients WHERE state = 'ACCEPTED' AND updated_at < ? ORDER BY id LIMIT ?)`,
		herald.CodeNoReport, herald.NoReportText, ms(now), ms(before), limit)
	if err != nil {
		return 0, translate(err, "expire accepted")
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// scanRecipient reads one row of recipientColumns.
func scanRecipient(row scanner) (herald.Recipient, error) {
	var r herald.Recipient
	var msgID, owner, batchKey, msgKey sql.NullString
	var leaseUntil, next, sentAt sql.NullInt64
	var created, updated int64
	if err := row.Scan(&r.ID, &r.CampaignID, &r.MemberID, &r.Phone, &msgID, &r.State, &r.Attempts, &owner,
		&leaseUntil, &next, &r.ClaimToken, &r.Resends, &r.InDoubt, &batchKey, &sentAt, &msgKey,
		&r.ResultCode, &r.ResultText, &r.Channel, &created, &updated); err != nil {
		return herald.Recipient{}, fmt.Errorf("scan recipient: %w", err)
	}
	r.MessageID, r.LeaseOwner, r.BatchKey, r.MsgKey = msgID.String, owner.String, batchKey.String, msgKey.String
	r.LeaseUntil, r.NextAttempt, r.SentAt = fromMs(leaseUntil), fromMs(next), fromMs(sentAt)
	r.CreatedAt, r.UpdatedAt = time.UnixMilli(created).UTC(), time.UnixMilli(updated).UTC()
	return r, nil
}
