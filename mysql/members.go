package mysql

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

// memberChunk rows go in one INSERT: 7 values each, well under the
// driver's and the server's packet limits.
const memberChunk = 2000

// UpsertMembers writes the batch in one transaction, a multi-row
// INSERT … ON DUPLICATE KEY UPDATE per chunk. Every update increments the
// version, so MySQL reports 1 affected row per insert and 2 per update:
// the split follows from the count.
func (s *Store) UpsertMembers(ctx context.Context, members []herald.Member) (herald.UpsertResult, error) {
	members = herald.LastByID(members)
	var res herald.UpsertResult
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res = herald.UpsertResult{}
		for start := 0; start < len(members); start += memberChunk {
			chunk := members[start:min(start+memberChunk, len(members))]
			args := make([]any, 0, 6*len(chunk))
			for _, m := range chunk {
				a, _ := json.Marshal(nonNil(m.Attributes))
				args = append(args, m.ID, m.Phone, m.Name, string(a), string(m.Status), m.UpdatedAt.UTC())
			}
			r, err := tx.ExecContext(ctx, `INSERT INTO members (id, phone, name, attributes, status, updated_at) VALUES `+
				strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?), ", len(chunk)), ", ")+`
				ON DUPLICATE KEY UPDATE phone = VALUES(phone), name = VALUES(name), attributes = VALUES(attributes),
					status = VALUES(status), version = version + 1, updated_at = VALUES(updated_at)`, args...)
			if err != nil {
				return err
			}
			n, err := r.RowsAffected()
			if err != nil {
				return err
			}
			updated := int(n) - len(chunk)
			res.Updated += updated
			res.Inserted += len(chunk) - updated
		}
		return nil
	})
	if err != nil {
		return herald.UpsertResult{}, translate(err, "upsert members")
	}
	return res, nil
}

const memberColumns = `id, phone, name, attributes, status, updated_at`

type scanner = sqlrows.Scanner

func scanMember(row scanner) (herald.Member, error) {
	var m herald.Member
	var attrs []byte
	if err := row.Scan(&m.ID, &m.Phone, &m.Name, &attrs, &m.Status, &m.UpdatedAt); err != nil {
		return herald.Member{}, err
	}
	if err := json.Unmarshal(attrs, &m.Attributes); err != nil {
		return herald.Member{}, fmt.Errorf("member %q attributes: %w", m.ID, err)
	}
	m.UpdatedAt = m.UpdatedAt.UTC()
	return m, nil
}

// GetMember reads one member.
func (s *Store) GetMember(ctx context.Context, id string) (herald.Member, error) {
	m, err := scanMember(s.db.QueryRowContext(ctx, `SELECT `+memberColumns+` FROM members WHERE id = ?`, id))
	return m, translate(err, fmt.Sprintf("member %q", id))
}

// WithdrawMember marks the member withdrawn.
func (s *Store) WithdrawMember(ctx context.Context, id string, at time.Time) (herald.Member, error) {
	var m herald.Member
	err := s.tx(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, `UPDATE members SET status = ?, version = version + 1, updated_at = ? WHERE id = ?`,
			string(herald.MemberWithdrawn), at.UTC(), id)
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return sql.ErrNoRows
		}
		m, err = scanMember(tx.QueryRowContext(ctx, `SELECT `+memberColumns+` FROM members WHERE id = ?`, id))
		return err
	})
	return m, translate(err, fmt.Sprintf("member %q", id))
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// idChunk ids go in one IN list.
const idChunk = 5000

// GetMembers reads many members, one query per few thousand ids.
func (s *Store) GetMembers(ctx context.Context, ids []string) (map[string]herald.Member, error) {
	out := make(map[string]herald.Member, len(ids))
	for start := 0; start < len(ids); start += idChunk {
		chunk := ids[start:min(start+idChunk, len(ids))]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		err := sqlrows.Each(ctx, s.db, func(row sqlrows.Scanner) error {
			m, err := scanMember(row)
			if err == nil {
				out[m.ID] = m
			}
			return err
		}, `SELECT `+memberColumns+` FROM members WHERE id IN (`+sqlrows.Placeholders(len(chunk))+`)`, args...)
		if err != nil {
			return nil, translate(err, "get members")
		}
	}
	return out, nil
}

// HasMemberAttribute reports whether any member has the attribute, so that a
// campaign needing it can be refused at creation when none does.
func (s *Store) HasMemberAttribute(ctx context.Context, key string) (bool, error) {
	k, _ := json.Marshal(key)
	var has bool
	err := s.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM members WHERE JSON_CONTAINS(JSON_KEYS(attributes), ?))`,
		string(k)).Scan(&has)
	return has, translate(err, "member attribute")
}
