package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/sqlrows"
)

const upsertMember = `
INSERT INTO members (id, phone, name, attributes, status, version, updated_at)
VALUES (?, ?, ?, ?, ?, 1, ?)
ON CONFLICT (id) DO UPDATE SET
    phone = excluded.phone, name = excluded.name, attributes = excluded.attributes,
    status = excluded.status, version = members.version + 1, updated_at = excluded.updated_at
RETURNING version`

// UpsertMembers writes the batch in one transaction with one prepared statement.
func (s *Store) UpsertMembers(ctx context.Context, members []herald.Member) (herald.UpsertResult, error) {
	var res herald.UpsertResult
	members = herald.LastByID(members)
	err := s.tx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, upsertMember)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, m := range members {
			attrs, _ := json.Marshal(nonNil(m.Attributes))
			var version int64
			if err := stmt.QueryRowContext(ctx, m.ID, m.Phone, m.Name, string(attrs), string(m.Status), ms(m.UpdatedAt)).Scan(&version); err != nil {
				return err
			}
			if version == 1 {
				res.Inserted++
			} else {
				res.Updated++
			}
		}
		return nil
	})
	if err != nil {
		return herald.UpsertResult{}, translate(err, "upsert members")
	}
	return res, nil
}

// GetMember reads one member.
func (s *Store) GetMember(ctx context.Context, id string) (herald.Member, error) {
	return s.getMember(ctx, s.r, id)
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (s *Store) getMember(ctx context.Context, q queryer, id string) (herald.Member, error) {
	m, err := scanMember(q.QueryRowContext(ctx, `SELECT `+memberColumns+` FROM members WHERE id = ?`, id))
	return m, translate(err, fmt.Sprintf("member %q", id))
}

const memberColumns = `id, phone, name, attributes, status, updated_at`

func scanMember(row scanner) (herald.Member, error) {
	var m herald.Member
	var attrs string
	var updated int64
	if err := row.Scan(&m.ID, &m.Phone, &m.Name, &attrs, &m.Status, &updated); err != nil {
		return herald.Member{}, err
	}
	if err := json.Unmarshal([]byte(attrs), &m.Attributes); err != nil {
		return herald.Member{}, fmt.Errorf("member %q attributes: %w", m.ID, err)
	}
	m.UpdatedAt = time.UnixMilli(updated).UTC()
	return m, nil
}

// WithdrawMember marks the member withdrawn.
func (s *Store) WithdrawMember(ctx context.Context, id string, at time.Time) (herald.Member, error) {
	var m herald.Member
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE members SET status = ?, version = version + 1, updated_at = ? WHERE id = ?`,
			string(herald.MemberWithdrawn), ms(at), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return sql.ErrNoRows
		}
		m, err = s.getMember(ctx, tx, id)
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

// GetMembers reads many members with one query.
func (s *Store) GetMembers(ctx context.Context, ids []string) (map[string]herald.Member, error) {
	list, _ := json.Marshal(ids)
	out := make(map[string]herald.Member, len(ids))
	err := sqlrows.Each(ctx, s.r, func(row sqlrows.Scanner) error {
		m, err := scanMember(row)
		if err == nil {
			out[m.ID] = m
		}
		return err
	}, `SELECT `+memberColumns+` FROM members WHERE id IN (SELECT value FROM json_each(?))`, string(list))
	if err != nil {
		return nil, translate(err, "get members")
	}
	return out, nil
}

// HasMemberAttribute reports whether any member has the attribute, so that a
// campaign needing it can be refused at creation when none does.
func (s *Store) HasMemberAttribute(ctx context.Context, key string) (bool, error) {
	var has bool
	err := s.r.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM members, json_each(members.attributes) WHERE json_each.key = ?)`, key).Scan(&has)
	return has, translate(err, "member attribute")
}
