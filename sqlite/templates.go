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

// CreateTemplate stores a template; the code must be new.
func (s *Store) CreateTemplate(ctx context.Context, t herald.Template) (herald.Template, error) {
	t.ProviderStatus, t.ProviderHash, t.SyncedAt = "", "", time.Time{} // registered by hand: never synced
	buttons, err := json.Marshal(t.Buttons)
	if err != nil {
		return herald.Template{}, fmt.Errorf("template buttons: %w", err)
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO templates (`+templateColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.Code, t.SenderKey, t.Text, t.Title, string(buttons), string(t.Status), ms(t.CreatedAt),
		t.ProviderStatus, t.ProviderHash, nullMs(t.SyncedAt))
	if err != nil {
		return herald.Template{}, translate(err, fmt.Sprintf("template %q", t.Code))
	}
	return s.GetTemplate(ctx, t.Code)
}

// SaveTemplate inserts or replaces a template, keeping created_at.
func (s *Store) SaveTemplate(ctx context.Context, t herald.Template) (herald.Template, error) {
	buttons, err := json.Marshal(nonNilButtons(t.Buttons))
	if err != nil {
		return herald.Template{}, fmt.Errorf("template buttons: %w", err)
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO templates (`+templateColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (code) DO UPDATE SET sender_key = excluded.sender_key, text = excluded.text, title = excluded.title,
			buttons = excluded.buttons, status = excluded.status, provider_status = excluded.provider_status,
			provider_hash = excluded.provider_hash, synced_at = excluded.synced_at`,
		t.Code, t.SenderKey, t.Text, t.Title, string(buttons), string(t.Status), ms(t.CreatedAt),
		t.ProviderStatus, t.ProviderHash, nullMs(t.SyncedAt))
	if err != nil {
		return herald.Template{}, translate(err, fmt.Sprintf("template %q", t.Code))
	}
	return s.GetTemplate(ctx, t.Code)
}

func nonNilButtons(bs []herald.Button) []herald.Button {
	if bs == nil {
		return []herald.Button{}
	}
	return bs
}

const templateColumns = `code, sender_key, text, title, buttons, status, created_at, provider_status, provider_hash, synced_at`

// GetTemplate reads one template.
func (s *Store) GetTemplate(ctx context.Context, code string) (herald.Template, error) {
	t, err := scanTemplate(s.r.QueryRowContext(ctx, `SELECT `+templateColumns+` FROM templates WHERE code = ?`, code))
	return t, translate(err, fmt.Sprintf("template %q", code))
}

// ListTemplates lists all templates by code.
func (s *Store) ListTemplates(ctx context.Context) ([]herald.Template, error) {
	out, err := sqlrows.Collect(ctx, s.r, scanTemplate, `SELECT `+templateColumns+` FROM templates ORDER BY code`)
	return out, translate(err, "list templates")
}

type scanner = sqlrows.Scanner

func scanTemplate(row scanner) (herald.Template, error) {
	var t herald.Template
	var buttons string
	var created int64
	var synced sql.NullInt64
	if err := row.Scan(&t.Code, &t.SenderKey, &t.Text, &t.Title, &buttons, &t.Status, &created,
		&t.ProviderStatus, &t.ProviderHash, &synced); err != nil {
		return herald.Template{}, err
	}
	t.SyncedAt = fromMs(synced)
	if err := json.Unmarshal([]byte(buttons), &t.Buttons); err != nil {
		return herald.Template{}, fmt.Errorf("template %q buttons: %w", t.Code, err)
	}
	if len(t.Buttons) == 0 {
		t.Buttons = nil // as the other stores read it
	}
	t.CreatedAt = fromMs(sql.NullInt64{Int64: created, Valid: true})
	return t, nil
}
