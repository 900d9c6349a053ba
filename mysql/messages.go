package mysql

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
			return herald.Message{}, false, err
		}
		got, err := s.GetMessage(ctx, id)
		if err == nil && !created && got.RequestHash != m.RequestHash {
			return got, false, herald.Conflict("Idempotency-Key %q was used for another request (message %d)", m.IdempotencyKey, got.ID)
		}
		return got, created, err
	}
}

func (s *Store) createMessage(ctx context.Context, m herald.Message, at time.Time) (id int64, created bool, err error) {
	at = at.UTC()
	err = s.tx(ctx, func(tx *sql.Tx) error {
		created = false
		err := tx.QueryRowContext(ctx, `SELECT id FROM messages WHERE idempotency_key = ?`, m.IdempotencyKey).Scan(&id)
		if !errors.Is(err, sql.ErrNoRows) {
			return err
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
			var r sql.Result
			r, err = tx.ExecContext(ctx, `INSERT INTO campaigns (name, template_code, audience, variables, start_at, tps, state, reason, kind,
					prepared_at, created_at, updated_at)
				VALUES (?, ?, ?, '{}', ?, ?, 'running', '', 'messages', ?, ?, ?)`,
				"one-off messages "+m.TemplateCode, m.TemplateCode, `{"memberIds":["~messages"]}`, at, herald.MaxTPS, at, at, at)
			if err == nil {
				cid, err = r.LastInsertId()
			}
		}
		if err != nil {
			return err
		}
		vars, _ := json.Marshal(nonNil(m.Variables))
		r, err := tx.ExecContext(ctx, `INSERT INTO messages (idempotency_key, request_hash, template_code, member_id, phone,
				variables, campaign_id, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			m.IdempotencyKey, m.RequestHash, m.TemplateCode, m.MemberID, m.Phone, string(vars), cid, m.CreatedBy, at)
		if err != nil {
			return err
		}
		if id, err = r.LastInsertId(); err != nil {
			return err
		}
		r, err = tx.ExecContext(ctx, `INSERT INTO recipients (campaign_id, member_id, phone, state, result_text, created_at, updated_at)
				VALUES (?, ?, ?, 'PENDING', '', ?, ?)`, cid, herald.MessageMemberID(id), phone, at, at)
		if err != nil {
			return err
		}
		rid, err := r.LastInsertId()
		if err != nil {
			return err
		}
		created = true
		_, err = tx.ExecContext(ctx, `UPDATE messages SET recipient_id = ? WHERE id = ?`, rid, id)
		return err
	})
	return id, created, translate(err, "create message")
}

// MessagesOf reads the messages of outbox rows.
func (s *Store) MessagesOf(ctx context.Context, recipientIDs []int64) (map[int64]herald.Message, error) {
	out := make(map[int64]herald.Message, len(recipientIDs))
	for len(recipientIDs) > 0 {
		chunk := recipientIDs[:min(len(recipientIDs), 1000)]
		recipientIDs = recipientIDs[len(chunk):]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		err := sqlrows.Each(ctx, s.db, func(row sqlrows.Scanner) error {
			m, rid, err := scanMessage(row)
			if err == nil {
				out[rid] = m
			}
			return err
		}, `SELECT `+messageColumns+` FROM messages WHERE recipient_id IN (`+sqlrows.Placeholders(len(chunk))+`)`, args...)
		if err != nil {
			return nil, translate(err, "messages of recipients")
		}
	}
	return out, nil
}

func scanMessage(row scanner) (herald.Message, int64, error) {
	var m herald.Message
	var vars []byte
	var rid int64
	if err := row.Scan(&m.ID, &m.IdempotencyKey, &m.RequestHash, &m.TemplateCode, &m.MemberID, &m.Phone, &vars, &m.CampaignID,
		&rid, &m.CreatedBy, &m.CreatedAt); err != nil {
		return m, 0, err
	}
	if err := json.Unmarshal(vars, &m.Variables); err != nil {
		return m, 0, fmt.Errorf("message %d variables: %w", m.ID, err)
	}
	m.CreatedAt = m.CreatedAt.UTC()
	return m, rid, nil
}
