package mysql

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/sqlrows"
)

const templateColumns = `code, sender_key, text, title, buttons, status, created_at, provider_status, provider_hash, synced_at`

// CreateTemplate stores a template; the code must be new.
func (s *Store) CreateTemplate(ctx context.Context, t herald.Template) (herald.Template, error) {
	t.ProviderStatus, t.ProviderHash, t.SyncedAt = "", "", time.Time{} // registered by hand: never synced
	buttons := t.Buttons
	if buttons == nil {
		buttons = []herald.Button{}
	}
	b, err := json.Marshal(buttons)
	if err != nil {
		return herald.Template{}, fmt.Errorf("template buttons: %w", err)
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO templates (`+templateColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.Code, t.SenderKey, t.Text, t.Title, string(b), string(t.Status), t.CreatedAt.UTC(), t.ProviderStatus, t.ProviderHash, nullUTC(t.SyncedAt))
	if err != nil {
		return herald.Template{}, translate(err, fmt.Sprintf("template %q", t.Code))
	}
	return s.GetTemplate(ctx, t.Code)
}

// SaveTemplate inserts or replaces a template, keeping created_at.
func (s *Store) SaveTemplate(ctx context.Context, t herald.Template) (herald.Template, error) {
	buttons := t.Buttons
	if buttons == nil {
		buttons = []herald.Button{}
	}
	b, err := json.Marshal(buttons)
	if err != nil {
		return herald.Template{}, fmt.Errorf("template buttons: %w", err)
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO templates (`+templateColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON DUPLICATE KEY UPDATE sender_key = VALUES(sender_key), text = VALUES(text), title = VALUES(title),
			buttons = VALUES(buttons), status = VALUES(status), provider_status = VALUES(provider_status),
			provider_hash = VALUES(provider_hash), synced_at = VALUES(synced_at)`,
		t.Code, t.SenderKey, t.Text, t.Title, string(b), string(t.Status), t.CreatedAt.UTC(), t.ProviderStatus, t.ProviderHash, nullUTC(t.SyncedAt))
	if err != nil {
		return herald.Template{}, translate(err, fmt.Sprintf("template %q", t.Code))
	}
	return s.GetTemplate(ctx, t.Code)
}

// nullUTC stores the zero time as NULL, others in UTC.
func nullUTC(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC()
}

// GetTemplate reads one template.
func (s *Store) GetTemplate(ctx context.Context, code string) (herald.Template, error) {
	t, err := scanTemplate(s.db.QueryRowContext(ctx, `SELECT `+templateColumns+` FROM templates WHERE code = ?`, code))
	return t, translate(err, fmt.Sprintf("template %q", code))
}

// ListTemplates lists all templates by code.
func (s *Store) ListTemplates(ctx context.Context) ([]herald.Template, error) {
	out, err := sqlrows.Collect(ctx, s.db, scanTemplate, `SELECT `+templateColumns+` FROM templates ORDER BY code`)
	return out, translate(err, "list templates")
}

func scanTemplate(row scanner) (herald.Template, error) {
	var t herald.Template
	var buttons []byte
	var synced sql.NullTime
	if err := row.Scan(&t.Code, &t.SenderKey, &t.Text, &t.Title, &buttons, &t.Status, &t.CreatedAt, &t.ProviderStatus, &t.ProviderHash, &synced); err != nil {
		return herald.Template{}, err
	}
	if synced.Valid {
		t.SyncedAt = synced.Time.UTC()
	}
	if err := json.Unmarshal(buttons, &t.Buttons); err != nil {
		return herald.Template{}, fmt.Errorf("template %q buttons: %w", t.Code, err)
	}
	if len(t.Buttons) == 0 {
		t.Buttons = nil
	}
	t.CreatedAt = t.CreatedAt.UTC()
	return t, nil
}
