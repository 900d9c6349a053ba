package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/sqlrows"
)

const messageColumns = `id, idempotency_key, request_hash, template_code, member_id, phone, variables, campaign_id,
	coalesce(recipient_id, 0), created_by, created_at`

// messagesAudience is the stored audience of a messages campaign: its rows
// are made by CreateMessage, never by PrepareRecipients.
var messagesAudience = `{"memberIds":["~messages"]}`

// CreateMessage stores a message and its outbox row, or returns the
// message already stored under the key.
func (s *Store) CreateMessage(ctx context.Context, m herald.Message, at time.Time) (herald.Message, bool, error) {
	var id int64
	created := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT id FROM messages WHERE idempotency_key = ?`, m.IdempotencyKey).Scan(&id)
		if !errors.Is(err, sql.ErrNoRows) {
			return err // found (nil) or failed
		}
		phone := m.Phone
		if m.MemberID != "" {
			err := tx.QueryRowContext(ctx, `SELECT phone FROM members WHERE id = ?`, m.MemberID).Scan(&phone)
			if errors.Is(err, sql.ErrNoRows) {
				return herald.Invalid("memberId", "there is no member %q", m.MemberID)
			}
			if err != nil {
				return err
			}
		}
		var cid int64
		err = tx.QueryRowContext(ctx, `SELECT id FROM campaigns WHERE kind = 'messages' AND template_code = ?
			AND state IN ('running', 'paused') ORDER BY id LIMIT 1`, m.TemplateCode).Scan(&cid)
		if errors.Is(err, sql.ErrNoRows) {
			err = tx.QueryRowContext(ctx, `INSERT INTO campaigns (name, template_code, audience, variables, start_at, tps, state, kind,
					prepared_at, created_at, updated_at)
				VALUES (?, ?, ?, '{}', ?, ?, 'running', 'messages', ?, ?, ?) RETURNING id`,
				"one-off messages "+m.TemplateCode, m.TemplateCode, messagesAudience, ms(at), herald.MaxTPS, ms(at), ms(at), ms(at)).Scan(&cid)
		}
		if err != nil {
			return err
		}
		vars, _ := json.Marshal(nonNil(m.Variables))
		if err := tx.QueryRowContext(ctx, `INSERT INTO messages (idempotency_key, request_hash, template_code, member_id, phone,
				variables, campaign_id, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			m.IdempotencyKey, m.RequestHash, m.TemplateCode, m.MemberID, m.Phone, string(vars), cid, m.CreatedBy, ms(at)).Scan(&id); err != nil {
			return err
		}
		var rid int64
		if err := tx.QueryRowContext(ctx, `INSERT INTO recipients (campaign_id, member_id, phone, state, created_at, updated_at)
				VALUES (?, ?, ?, 'PENDING', ?, ?) RETURNING id`, cid, herald.MessageMemberID(id), phone, ms(at), ms(at)).Scan(&rid); err != nil {
			return err
		}
		created = true
		_, err = tx.ExecContext(ctx, `UPDATE messages SET recipient_id = ? WHERE id = ?`, rid, id)
		return err
	})
	if err != nil {
		return herald.Message{}, false, translate(err, "create message")
	}
	got, err := s.GetMessage(ctx, id)
	if err == nil && !created && got.RequestHash != m.RequestHash {
		return got, false, herald.Conflict("Idempotency-Key %q was used for another request (message %d)", m.IdempotencyKey, got.ID)
	}
	return got, created, err
}

// MessagesOf reads the messages of outbox rows.
func (s *Store) MessagesOf(ctx context.Context, recipientIDs []int64) (map[int64]herald.Message, error) {
	ids, _ := json.Marshal(recipientIDs)
	out := make(map[int64]herald.Message, len(recipientIDs))
	err := sqlrows.Each(ctx, s.r, func(row sqlrows.Scanner) error {
		m, rid, err := scanMessage(row)
		if err == nil {
			out[rid] = m
		}
		return err
	}, `SELECT `+messageColumns+` FROM messages WHERE recipient_id IN (SELECT value FROM json_each(?))`, string(ids))
	if err != nil {
		return nil, translate(err, "messages of recipients")
	}
	return out, nil
}

func scanMessage(row scanner) (herald.Message, int64, error) {
	var m herald.Message
	var vars string
	var rid, created int64
	if err := row.Scan(&m.ID, &m.IdempotencyKey, &m.RequestHash, &m.TemplateCode, &m.MemberID, &m.Phone, &vars, &m.CampaignID,
		&rid, &m.CreatedBy, &created); err != nil {
		return m, 0, err
	}
	if err := json.Unmarshal([]byte(vars), &m.Variables); err != nil {
		return m, 0, fmt.Errorf("message %d variables: %w", m.ID, err)
	}
	m.CreatedAt = time.UnixMilli(created).UTC()
	return m, rid, nil
}
