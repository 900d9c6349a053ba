package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	herald "github.com/heraldhq/herald"
)

const recipientColumns = `id, campaign_id, member_id, phone, message_id, state, attempts, lease_owner, lease_until,
	next_attempt_at, batch_key, sent_at, msg_key, result_code, result_text, channel, created_at, updated_at`

// ClaimRecipients leases up to p.Limit sendable recipients of a running
// campaign; SKIP LOCKED lets concurrent claimers take disjoint rows.
func (s *Store) ClaimRecipients(ctx context.Context, p herald.ClaimParams) ([]herald.Recipient, error) {
	rows, err := s.pool.Query(ctx, `WITH picked AS (
			SELECT r.id FROM recipients r
			WHERE r.campaign_id = $1
			  AND EXISTS (SELECT 1 FROM campaigns c WHERE c.id = r.campaign_id AND c.state = 'running')
			  AND (r.state = 'PENDING' OR (r.state = 'RETRY_WAIT' AND r.next_attempt_at <= $2))
			ORDER BY r.id LIMIT $3
			FOR UPDATE SKIP LOCKED)
		UPDATE recipients r SET state = 'SENDING', lease_owner = $4, lease_until = $5, attempts = r.attempts + 1,
			batch_key = NULL, sent_at = NULL, message_id = COALESCE(r.message_id, 'h' || r.campaign_id || '-' || r.id), updated_at = $2
		FROM picked WHERE r.id = picked.id
		RETURNING r.`+recipientColumns, /* only id is ambiguous with picked.id */
		p.CampaignID, p.Now, p.Limit, p.Owner, p.LeaseUntil)
	if err != nil {
		return nil, translate(err, "claim recipients")
	}
	return collectRecipients(rows)
}

// RecordOutcomes applies a batch of send results with one statement.
func (s *Store) RecordOutcomes(ctx context.Context, updates []herald.RecipientUpdate) error {
	n := len(updates)
	ids := make([]int64, n)
	owners, states, keys, codes, texts := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	next, at := make([]*time.Time, n), make([]time.Time, n)
	for i, u := range updates {
		ids[i], owners[i], states[i], keys[i], codes[i], texts[i] = u.ID, u.Owner, string(u.State), u.MsgKey, u.ResultCode, u.ResultText
		next[i], at[i] = nullTime(u.NextAttempt), u.At
	}
	_, err := s.pool.Exec(ctx, `UPDATE recipients r SET state = u.state, msg_key = COALESCE(NULLIF(u.msg_key, ''), r.msg_key),
			result_code = u.code, result_text = u.text, next_attempt_at = u.next, lease_owner = NULL, lease_until = NULL,
			updated_at = u.at
		FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[], $8::timestamptz[])
			AS u(id, owner, state, msg_key, code, text, next, at)
		WHERE r.id = u.id AND r.state = 'SENDING' AND r.lease_owner = u.owner`,
		ids, owners, states, keys, codes, texts, next, at)
	return translate(err, "record outcomes")
}

// MarkBatches records each row's request key before it is sent.
func (s *Store) MarkBatches(ctx context.Context, owner string, keys map[int64]string, at time.Time) error {
	ids, batch := make([]int64, 0, len(keys)), make([]string, 0, len(keys))
	for id, k := range keys {
		ids, batch = append(ids, id), append(batch, k)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE recipients r SET batch_key = u.key, sent_at = $3
		FROM unnest($1::bigint[], $2::text[]) AS u(id, key)
		WHERE r.id = u.id AND r.state = 'SENDING' AND r.lease_owner = $4`, ids, batch, at, owner)
	if err == nil && tag.RowsAffected() != int64(len(keys)) {
		err = herald.Conflict("%d of %d recipients are no longer leased by %s", int64(len(keys))-tag.RowsAffected(), len(keys), owner)
	}
	return translate(err, "mark batches")
}

// ReleaseRecipients returns unsent leased rows to PENDING.
func (s *Store) ReleaseRecipients(ctx context.Context, owner string, ids []int64, at time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE recipients SET state = 'PENDING', attempts = attempts - 1, batch_key = NULL,
			sent_at = NULL, lease_owner = NULL, lease_until = NULL, updated_at = $1
		WHERE id = ANY($2) AND state = 'SENDING' AND lease_owner = $3`, at, ids, owner)
	return translate(err, "release recipients")
}

// ReclaimExpired re-leases whole expired batches to a new owner.
func (s *Store) ReclaimExpired(ctx context.Context, p herald.ClaimParams) ([]herald.Recipient, error) {
	rows, err := s.pool.Query(ctx, `WITH batches AS (
			SELECT DISTINCT COALESCE(batch_key, '#' || id) AS k FROM recipients
			WHERE state = 'SENDING' AND lease_until < $1 AND (campaign_id = $2 OR $2 = 0)
			ORDER BY 1 LIMIT $3),
		picked AS (
			SELECT id FROM recipients
			WHERE state = 'SENDING' AND lease_until < $1 AND COALESCE(batch_key, '#' || id) IN (SELECT k FROM batches)
			FOR UPDATE SKIP LOCKED)
		UPDATE recipients r SET lease_owner = $4, lease_until = $5, updated_at = $1
		FROM picked WHERE r.id = picked.id
		RETURNING r.`+recipientColumns, p.Now, p.CampaignID, p.Limit, p.Owner, p.LeaseUntil)
	if err != nil {
		return nil, translate(err, "reclaim expired")
	}
	return collectRecipients(rows)
}

// AcceptedWithoutReport lists overdue accepted rows.
func (s *Store) AcceptedWithoutReport(ctx context.Context, before time.Time, afterID int64, limit int) ([]herald.Recipient, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+recipientColumns+` FROM recipients
		WHERE state = 'ACCEPTED' AND updated_at < $1 AND id > $2 ORDER BY id LIMIT $3`, before, afterID, limit)
	if err != nil {
		return nil, translate(err, "accepted without report")
	}
	return collectRecipients(rows)
}

// ListRecipients pages through a campaign's recipients in id order.
func (s *Store) ListRecipients(ctx context.Context, campaignID, afterID int64, limit int) ([]herald.Recipient, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+recipientColumns+` FROM recipients
		WHERE campaign_id = $1 AND id > $2 ORDER BY id LIMIT $3`, campaignID, afterID, limit)
	if err != nil {
		return nil, translate(err, fmt.Sprintf("recipients of campaign %d", campaignID))
	}
	return collectRecipients(rows)
}

func collectRecipients(rows pgx.Rows) ([]herald.Recipient, error) {
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (herald.Recipient, error) {
		var r herald.Recipient
		var msgID, owner, batchKey, msgKey *string
		var leaseUntil, next, sentAt *time.Time
		err := row.Scan(&r.ID, &r.CampaignID, &r.MemberID, &r.Phone, &msgID, &r.State, &r.Attempts, &owner,
			&leaseUntil, &next, &batchKey, &sentAt, &msgKey, &r.ResultCode, &r.ResultText, &r.Channel, &r.CreatedAt, &r.UpdatedAt)
		r.MessageID, r.LeaseOwner, r.BatchKey, r.MsgKey = deref(msgID), deref(owner), deref(batchKey), deref(msgKey)
		r.LeaseUntil, r.NextAttempt, r.SentAt = fromNull(leaseUntil), fromNull(next), fromNull(sentAt)
		r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
		return r, err
	})
	if out == nil {
		out = []herald.Recipient{}
	}
	return out, translate(err, "scan recipients")
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
