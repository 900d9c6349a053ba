package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	herald "github.com/heraldhq/herald"
)

const recipientColumns = `id, campaign_id, member_id, phone, message_id, state, attempts, lease_owner, lease_until,
	next_attempt_at, batch_key, sent_at, msg_key, result_code, result_text, channel, created_at, updated_at`

// ClaimRecipients leases up to p.Limit sendable recipients of a running
// campaign. The single writer connection makes the select-and-update atomic.
func (s *Store) ClaimRecipients(ctx context.Context, p herald.ClaimParams) ([]herald.Recipient, error) {
	rows, err := s.w.QueryContext(ctx, `UPDATE recipients SET state = 'SENDING', lease_owner = ?, lease_until = ?,
			attempts = attempts + 1, batch_key = NULL, sent_at = NULL, message_id = COALESCE(message_id, 'h' || campaign_id || '-' || id), updated_at = ?
		WHERE id IN (SELECT r.id FROM recipients r JOIN campaigns c ON c.id = r.campaign_id
			WHERE r.campaign_id = ? AND c.state = 'running'
			  AND (r.state = 'PENDING' OR (r.state = 'RETRY_WAIT' AND r.next_attempt_at <= ?))
			ORDER BY r.id LIMIT ?)
		RETURNING `+recipientColumns,
		p.Owner, ms(p.LeaseUntil), ms(p.Now), p.CampaignID, ms(p.Now), p.Limit)
	if err != nil {
		return nil, translate(err, "claim recipients")
	}
	return scanRecipients(rows)
}

// RecordOutcomes applies a batch of send results in one transaction.
func (s *Store) RecordOutcomes(ctx context.Context, updates []herald.RecipientUpdate) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `UPDATE recipients SET state = ?, msg_key = COALESCE(NULLIF(?, ''), msg_key),
				result_code = ?, result_text = ?, next_attempt_at = ?, lease_owner = NULL, lease_until = NULL, updated_at = ?
			WHERE id = ? AND state = 'SENDING' AND lease_owner = ?`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, u := range updates {
			if _, err := stmt.ExecContext(ctx, string(u.State), u.MsgKey, u.ResultCode, u.ResultText,
				nullMs(u.NextAttempt), ms(u.At), u.ID, u.Owner); err != nil {
				return err
			}
		}
		return nil
	})
	return translate(err, "record outcomes")
}

// MarkBatches records each row's request key before it is sent.
func (s *Store) MarkBatches(ctx context.Context, owner string, keys map[int64]string, at time.Time) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `UPDATE recipients SET batch_key = ?, sent_at = ?
			WHERE id = ? AND state = 'SENDING' AND lease_owner = ?`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for id, key := range keys {
			res, err := stmt.ExecContext(ctx, key, ms(at), id, owner)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return herald.Conflict("recipient %d is no longer leased by %s", id, owner)
			}
		}
		return nil
	})
	return translate(err, "mark batches")
}

// ReleaseRecipients returns unsent leased rows to PENDING.
func (s *Store) ReleaseRecipients(ctx context.Context, owner string, ids []int64, at time.Time) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `UPDATE recipients SET state = 'PENDING', attempts = attempts - 1, batch_key = NULL,
				sent_at = NULL, lease_owner = NULL, lease_until = NULL, updated_at = ?
			WHERE id = ? AND state = 'SENDING' AND lease_owner = ?`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, id := range ids {
			if _, err := stmt.ExecContext(ctx, ms(at), id, owner); err != nil {
				return err
			}
		}
		return nil
	})
	return translate(err, "release recipients")
}

// ReclaimExpired re-leases whole expired batches to a new owner.
func (s *Store) ReclaimExpired(ctx context.Context, p herald.ClaimParams) ([]herald.Recipient, error) {
	rows, err := s.w.QueryContext(ctx, `UPDATE recipients SET lease_owner = ?, lease_until = ?, updated_at = ?
		WHERE state = 'SENDING' AND lease_until < ? AND (campaign_id = ? OR ? = 0)
		  AND COALESCE(batch_key, '#' || id) IN (
			SELECT DISTINCT COALESCE(batch_key, '#' || id) FROM recipients
			WHERE state = 'SENDING' AND lease_until < ? AND (campaign_id = ? OR ? = 0)
			ORDER BY 1 LIMIT ?)
		RETURNING `+recipientColumns,
		p.Owner, ms(p.LeaseUntil), ms(p.Now), ms(p.Now), p.CampaignID, p.CampaignID, ms(p.Now), p.CampaignID, p.CampaignID, p.Limit)
	if err != nil {
		return nil, translate(err, "reclaim expired")
	}
	return scanRecipients(rows)
}

// AcceptedWithoutReport lists overdue accepted rows.
func (s *Store) AcceptedWithoutReport(ctx context.Context, before time.Time, afterID int64, limit int) ([]herald.Recipient, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+recipientColumns+` FROM recipients
		WHERE state = 'ACCEPTED' AND updated_at < ? AND id > ? ORDER BY id LIMIT ?`, ms(before), afterID, limit)
	if err != nil {
		return nil, translate(err, "accepted without report")
	}
	return scanRecipients(rows)
}

// ListRecipients pages through a campaign's recipients in id order.
func (s *Store) ListRecipients(ctx context.Context, campaignID, afterID int64, limit int) ([]herald.Recipient, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+recipientColumns+` FROM recipients
		WHERE campaign_id = ? AND id > ? ORDER BY id LIMIT ?`, campaignID, afterID, limit)
	if err != nil {
		return nil, translate(err, fmt.Sprintf("recipients of campaign %d", campaignID))
	}
	return scanRecipients(rows)
}

func scanRecipients(rows *sql.Rows) ([]herald.Recipient, error) {
	defer rows.Close()
	out := []herald.Recipient{}
	for rows.Next() {
		var r herald.Recipient
		var msgID, owner, batchKey, msgKey sql.NullString
		var leaseUntil, next, sentAt sql.NullInt64
		var created, updated int64
		if err := rows.Scan(&r.ID, &r.CampaignID, &r.MemberID, &r.Phone, &msgID, &r.State, &r.Attempts, &owner,
			&leaseUntil, &next, &batchKey, &sentAt, &msgKey, &r.ResultCode, &r.ResultText, &r.Channel, &created, &updated); err != nil {
			return nil, fmt.Errorf("scan recipient: %w", err)
		}
		r.MessageID, r.LeaseOwner, r.BatchKey, r.MsgKey = msgID.String, owner.String, batchKey.String, msgKey.String
		r.LeaseUntil, r.NextAttempt, r.SentAt = fromMs(leaseUntil), fromMs(next), fromMs(sentAt)
		r.CreatedAt, r.UpdatedAt = time.UnixMilli(created).UTC(), time.UnixMilli(updated).UTC()
		out = append(out, r)
	}
	return out, translate(rows.Err(), "scan recipients")
}
