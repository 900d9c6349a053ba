package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	herald "github.com/heraldhq/herald"
)

const messageColumns = `id, idempotency_key, request_hash, template_code, member_id, phone, variables, campaign_id,
	coalesce(recipient_id, 0), created_by, created_at`

// CreateMessage stores a message and its outbox row, or returns the
// message already stored under the key. Two first uses of one key at once:
// the unique key makes one of them fail, and it then reads the other's.
func (s *Store) CreateMessage(ctx context.Context, m herald.Message, at time.Time) (herald.Message, bool, error) {
	for attempt := 0; ; attempt++ {
		id, created, err := s.createMessage(ctx, m, at)
		if errors.Is(err, herald.ErrConflict) && attempt == 0 {
			continue // lost the race for the key: read the winner's
		}
		if err != nil {
			return herald.Message{}, false, translate(err, "create message")
		}
		got, err := s.GetMessage(ctx, id)
		if err == nil && !created && got.RequestHash != m.RequestHash {
			return got, false, herald.Conflict("Idempotency-Key %q was used for another request (message %d)", m.IdempotencyKey, got.ID)
		}
		return got, created, err
	}
}

func (s *Store) createMessage(ctx context.Context, m herald.Message, at time.Time) (id int64, created bool, err error) {
	err = s.tx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT id FROM messages WHERE idempotency_key = $1`, m.IdempotencyKey).Scan(&id)
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		phone := m.Phone
		if m.MemberID != "" {
			err := tx.QueryRow(ctx, `SELECT phone FROM members WHERE id = $1`, m.MemberID).Scan(&phone)
			if errors.Is(err, pgx.ErrNoRows) {
				return herald.Invalid("memberId", "there is no member %q", m.MemberID)
			}
			if err != nil {
				return err
			}
		}
		var cid int64
		err = tx.QueryRow(ctx, `SELECT id FROM campaigns WHERE kind = 'messages' AND template_code = $1
			AND state IN ('running', 'paused') ORDER BY id LIMIT 1`, m.TemplateCode).Scan(&cid)
		if errors.Is(err, pgx.ErrNoRows) {
			err = tx.QueryRow(ctx, `INSERT INTO campaigns (name, template_code, audience, variables, start_at, tps, state, kind,
					prepared_at, created_at, updated_at)
				VALUES ($1, $2, $3::jsonb, '{}', $4, $5, 'running', 'messages', $4, $4, $4) RETURNING id`,
				"one-off messages "+m.TemplateCode, m.TemplateCode, jsonb(herald.Audience{MemberIDs: []string{"~messages"}}), at, herald.MaxTPS).Scan(&cid)
		}
		if err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `INSERT INTO messages (idempotency_key, request_hash, template_code, member_id, phone,
				variables, campaign_id, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9) RETURNING id`,
			m.IdempotencyKey, m.RequestHash, m.TemplateCode, m.MemberID, m.Phone, jsonb(nonNil(m.Variables)), cid, m.CreatedBy, at).Scan(&id); err != nil {
			return err
		}
		var rid int64
		if err := tx.QueryRow(ctx, `INSERT INTO recipients (campaign_id, member_id, phone, state, created_at, updated_at)
				VALUES ($1, $2, $3, 'PENDING', $4, $4) RETURNING id`, cid, herald.MessageMemberID(id), phone, at).Scan(&rid); err != nil {
			return err
		}
		created = true
		_, err = tx.Exec(ctx, `UPDATE messages SET recipient_id = $1 WHERE id = $2`, rid, id)
		return err
	})
	return id, created, translate(err, "create message")
}

// GetMessage reads a message with its outbox row.
func (s *Store) GetMessage(ctx context.Context, id int64) (herald.Message, error) {
	m, rid, err := scanMessage(s.pool.QueryRow(ctx, `SELECT `+messageColumns+` FROM messages WHERE id = $1`, id))
	if err != nil {
		return herald.Message{}, translate(err, fmt.Sprintf("message %d", id))
	}
	rows, err := s.ListRecipients(ctx, m.CampaignID, rid-1, 1)
	if err != nil {
		return herald.Message{}, err
	}
	if len(rows) == 1 && rows[0].ID == rid {
		m.Result = rows[0]
	}
	return m, nil
}

// MessagesOf reads the messages of outbox rows.
func (s *Store) MessagesOf(ctx context.Context, recipientIDs []int64) (map[int64]herald.Message, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+messageColumns+` FROM messages WHERE recipient_id = ANY($1)`, recipientIDs)
	if err != nil {
		return nil, translate(err, "messages of recipients")
	}
	defer rows.Close()
	out := make(map[int64]herald.Message, len(recipientIDs))
	for rows.Next() {
		m, rid, err := scanMessage(rows)
		if err != nil {
			return nil, translate(err, "messages of recipients")
		}
		out[rid] = m
	}
	return out, translate(rows.Err(), "messages of recipients")
}

func scanMessage(row pgx.Row) (herald.Message, int64, error) {
	var m herald.Message
	var rid int64
	err := row.Scan(&m.ID, &m.IdempotencyKey, &m.RequestHash, &m.TemplateCode, &m.MemberID, &m.Phone, &m.Variables, &m.CampaignID,
		&rid, &m.CreatedBy, &m.CreatedAt)
	m.CreatedAt = m.CreatedAt.UTC()
	return m, rid, err
}
