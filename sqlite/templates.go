package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	herald "github.com/heraldhq/herald"
)

// CreateTemplate stores a template; the code must be new.
func (s *Store) CreateTemplate(ctx context.Context, t herald.Template) (herald.Template, error) {
	buttons, err := json.Marshal(t.Buttons)
	if err != nil {
		return herald.Template{}, fmt.Errorf("template buttons: %w", err)
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO templates (code, sender_key, text, title, buttons, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		t.Code, t.SenderKey, t.Text, t.Title, string(buttons), string(t.Status), ms(t.CreatedAt))
	if err != nil {
		return herald.Template{}, translate(err, fmt.Sprintf("template %q", t.Code))
	}
	return s.GetTemplate(ctx, t.Code)
}

const templateColumns = `code, sender_key, text, title, buttons, status, created_at`

// GetTemplate reads one template.
func (s *Store) GetTemplate(ctx context.Context, code string) (herald.Template, error) {
	t, err := scanTemplate(s.r.QueryRowContext(ctx, `SELECT `+templateColumns+` FROM templates WHERE code = ?`, code))
	return t, translate(err, fmt.Sprintf("template %q", code))
}

// ListTemplates lists all templates by code.
func (s *Store) ListTemplates(ctx context.Context) ([]herald.Template, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+templateColumns+` FROM templates ORDER BY code`)
	if err != nil {
		return nil, translate(err, "list templates")
	}
	defer rows.Close()
	out := []herald.Template{}
	for rows.Next() {
		t, err := scanTemplate(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, translate(rows.Err(), "list templates")
}

type scanner interface{ Scan(dest ...any) error }

func scanTemplate(row scanner) (herald.Template, error) {
	var t herald.Template
	var buttons string
	var created int64
	if err := row.Scan(&t.Code, &t.SenderKey, &t.Text, &t.Title, &buttons, &t.Status, &created); err != nil {
		return herald.Template{}, err
	}
	if err := json.Unmarshal([]byte(buttons), &t.Buttons); err != nil {
		return herald.Template{}, fmt.Errorf("template %q buttons: %w", t.Code, err)
	}
	t.CreatedAt = fromMs(sql.NullInt64{Int64: created, Valid: true})
	return t, nil
}
