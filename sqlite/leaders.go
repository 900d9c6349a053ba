package sqlite

import (
	"context"
	"database/sql"
	"time"
)

// LeadSenderKey makes owner the sender of senderKey unless another owner
// with a heartbeat since deadBefore leads it, and returns the leader. The
// upsert and the read back run in one transaction on the single writer,
// which BEGIN IMMEDIATE also serialises against other processes on the
// file, so the check and the take-over are one step.
func (s *Store) LeadSenderKey(ctx context.Context, senderKey, owner string, deadBefore time.Time) (string, error) {
	var leader string
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO sender_leaders (sender_key, owner, since) VALUES (?, ?, ?)
			ON CONFLICT (sender_key) DO UPDATE SET owner = excluded.owner, since = excluded.since
			WHERE sender_leaders.owner <> excluded.owner
			  AND NOT EXISTS (SELECT 1 FROM processes p WHERE p.owner = sender_leaders.owner AND p.heartbeat_at >= ?)`,
			senderKey, owner, ms(time.Now()), ms(deadBefore)); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT owner FROM sender_leaders WHERE sender_key = ?`, senderKey).Scan(&leader)
	})
	if err != nil {
		return "", translate(err, "lead sender key")
	}
	return leader, nil
}

// ResignSenderKey drops owner's leadership of senderKey, if it holds it.
func (s *Store) ResignSenderKey(ctx context.Context, senderKey, owner string) error {
	_, err := s.w.ExecContext(ctx, `DELETE FROM sender_leaders WHERE sender_key = ? AND owner = ?`, senderKey, owner)
	return translate(err, "resign sender key")
}
