package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	herald "github.com/heraldhq/herald"
)

// UpsertMembers writes the whole batch with one statement over arrays.
func (s *Store) UpsertMembers(ctx context.Context, members []herald.Member) (herald.UpsertResult, error) {
	members = herald.LastByID(members)
	n := len(members)
	ids, phones, names, attrs, statuses := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	updated := make([]time.Time, n)
	for i, m := range members {
		ids[i], phones[i], names[i], attrs[i], statuses[i], updated[i] = m.ID, m.Phone, m.Name, jsonb(nonNil(m.Attributes)),
			string(m.Status), m.UpdatedAt
	}
	rows, err := s.pool.Query(ctx, `INSERT INTO members (id, phone, name, attributes, status, version, updated_at)
		SELECT id, phone, name, attributes::jsonb, status, 1, updated_at
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[])
			AS t(id, phone, name, attributes, status, updated_at)
		ON CONFLICT (id) DO UPDATE SET
			phone = excluded.phone, name = excluded.name, attributes = excluded.attributes,
			status = excluded.status, version = members.version + 1, updated_at = excluded.updated_at
		RETURNING version`, ids, phones, names, attrs, statuses, updated)
	if err != nil {
		return herald.UpsertResult{}, translate(err, "upsert members")
	}
	var res herald.UpsertResult
	var version int64
	_, err = pgx.ForEachRow(rows, []any{&version}, func() error {
		if version == 1 {
			res.Inserted++
		} else {
			res.Updated++
		}
		return nil
	})
	if err != nil {
		return herald.UpsertResult{}, translate(err, "upsert members")
	}
	return res, nil
}

const memberColumns = `id, phone, name, attributes, status, updated_at`

// GetMember reads one member.
func (s *Store) GetMember(ctx context.Context, id string) (herald.Member, error) {
	m, err := scanMember(s.pool.QueryRow(ctx, `SELECT `+memberColumns+` FROM members WHERE id = $1`, id))
	return m, translate(err, fmt.Sprintf("member %q", id))
}

// WithdrawMember marks the member withdrawn.
func (s *Store) WithdrawMember(ctx context.Context, id string, at time.Time) (herald.Member, error) {
	m, err := scanMember(s.pool.QueryRow(ctx, `UPDATE members SET status = $1, version = version + 1, updated_at = $2
		WHERE id = $3 RETURNING `+memberColumns, string(herald.MemberWithdrawn), at, id))
	return m, translate(err, fmt.Sprintf("member %q", id))
}

func scanMember(row pgx.Row) (herald.Member, error) {
	var m herald.Member
	err := row.Scan(&m.ID, &m.Phone, &m.Name, &m.Attributes, &m.Status, &m.UpdatedAt)
	m.UpdatedAt = m.UpdatedAt.UTC()
	return m, err
}

// jsonb is v as JSON text, for a parameter the SQL casts to jsonb: then
// no part of the encoding depends on the parameter types the server
// describes, which the simple protocol (default_query_exec_mode
// simple_protocol or exec, as behind a pooler in transaction mode) never
// asks for.
func jsonb(v any) string {
	b, _ := json.Marshal(v) // maps of strings and plain structs: it cannot fail
	return string(b)
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// GetMembers reads many members with one query.
func (s *Store) GetMembers(ctx context.Context, ids []string) (map[string]herald.Member, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+memberColumns+` FROM members WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, translate(err, "get members")
	}
	out := make(map[string]herald.Member, len(ids))
	_, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (struct{}, error) {
		m, err := scanMember(row)
		out[m.ID] = m
		return struct{}{}, err
	})
	return out, translate(err, "get members")
}

// HasMemberAttribute reports whether any member has the attribute, so that a
// campaign needing it can be refused at creation when none does.
func (s *Store) HasMemberAttribute(ctx context.Context, key string) (bool, error) {
	var has bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM members WHERE attributes ? $1)`, key).Scan(&has)
	return has, translate(err, "member attribute")
}
