package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	herald "github.com/heraldhq/herald"
)

const templateColumns = `code, sender_key, text, title, buttons, status, created_at, provider_status, provider_hash, synced_at`

// CreateTemplate stores a template; the code must be new.
func (s *Store) CreateTemplate(ctx context.Context, t herald.Template) (herald.Template, error) {
	t.ProviderStatus, t.ProviderHash, t.SyncedAt = "", "", time.Time{} // registered by hand: never synced
	got, err := scanTemplate(s.pool.QueryRow(ctx, `INSERT INTO templates (`+templateColumns+`)
		VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9, $10) RETURNING `+templateColumns,
		t.Code, t.SenderKey, t.Text, t.Title, buttonsJSON(t.Buttons), string(t.Status), t.CreatedAt, t.ProviderStatus, t.ProviderHash, nullTime(t.SyncedAt)))
	return got, translate(err, fmt.Sprintf("template %q", t.Code))
}

// SaveTemplate inserts or replaces a template, keeping created_at.
func (s *Store) SaveTemplate(ctx context.Context, t herald.Template) (herald.Template, error) {
	got, err := scanTemplate(s.pool.QueryRow(ctx, `INSERT INTO templates (`+templateColumns+`)
		VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9, $10)
		ON CONFLICT (code) DO UPDATE SET sender_key = EXCLUDED.sender_key, text = EXCLUDED.text, title = EXCLUDED.title,
			buttons = EXCLUDED.buttons, status = EXCLUDED.status, provider_status = EXCLUDED.provider_status,
			provider_hash = EXCLUDED.provider_hash, synced_at = EXCLUDED.synced_at
		RETURNING `+templateColumns,
		t.Code, t.SenderKey, t.Text, t.Title, buttonsJSON(t.Buttons), string(t.Status), t.CreatedAt, t.ProviderStatus, t.ProviderHash, nullTime(t.SyncedAt)))
	return got, translate(err, fmt.Sprintf("template %q", t.Code))
}

// GetTemplate reads one template.
func (s *Store) GetTemplate(ctx context.Context, code string) (herald.Template, error) {
	t, err := scanTemplate(s.pool.QueryRow(ctx, `SELECT `+templateColumns+` FROM templates WHERE code = $1`, code))
	return t, translate(err, fmt.Sprintf("template %q", code))
}

// ListTemplates lists all templates by code.
func (s *Store) ListTemplates(ctx context.Context) ([]herald.Template, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+templateColumns+` FROM templates ORDER BY code`)
	if err != nil {
		return nil, translate(err, "list templates")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (herald.Template, error) { return scanTemplate(r) })
	if out == nil {
		out = []herald.Template{}
	}
	return out, translate(err, "list templates")
}

func scanTemplate(row pgx.Row) (herald.Template, error) {
	var t herald.Template
	var synced *time.Time
	err := row.Scan(&t.Code, &t.SenderKey, &t.Text, &t.Title, &t.Buttons, &t.Status, &t.CreatedAt, &t.ProviderStatus, &t.ProviderHash, &synced)
	if len(t.Buttons) == 0 {
		t.Buttons = nil
	}
	t.CreatedAt = t.CreatedAt.UTC()
	if synced != nil {
		t.SyncedAt = synced.UTC()
	}
	return t, err
}

// buttonsJSON stores no buttons as [] rather than null.
func buttonsJSON(b []herald.Button) string {
	if b == nil {
		b = []herald.Button{}
	}
	return jsonb(b)
}
