package mysql

import (
	"context"
	"database/sql"
	"time"
)

// LeadSenderKey makes owner the sender of senderKey unless another owner
// with a heartbeat since deadBefore leads it, and returns the leader. One
// transaction decides: an INSERT … ON DUPLICATE KEY UPDATE that changes
// nothing either creates the key's row (owner leads) or takes the
// existing row's exclusive lock, under which the leader is read, checked
// for life and, when dead, replaced. Concurrent callers queue on that
// lock, so of callers racing on a key at most one gets itself back.
func (s *Store) LeadSenderKey(ctx context.Context, senderKey, owner string, deadBefore time.Time) (string, error) {
	var leader string
	err := s.tx(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, `INSERT INTO sender_leaders (sender_key, owner, since) VALUES (?, ?, UTC_TIMESTAMP(6))
			ON DUPLICATE KEY UPDATE sender_key = sender_key`, senderKey, owner)
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n == 1 {
			leader = owner
			return nil
		}
		if err := tx.QueryRowContext(ctx, `SELECT owner FROM sender_leaders WHERE sender_key = ? FOR UPDATE`,
			senderKey).Scan(&leader); err != nil {
			return err
		}
		if leader == owner {
			return nil // leading again keeps since
		}
		var alive bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM processes WHERE owner = ? AND heartbeat_at >= ?)`,
			leader, deadBefore.UTC()).Scan(&alive); err != nil {
			return err
		}
		if alive {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sender_leaders SET owner = ?, since = UTC_TIMESTAMP(6) WHERE sender_key = ?`,
			owner, senderKey); err != nil {
			return err
		}
		leader = owner
		return nil
	})
	if err != nil {
		return "", translate(err, "lead sender key")
	}
	return leader, nil
}

// ResignSenderKey drops owner's leadership of senderKey, if it holds it.
func (s *Store) ResignSenderKey(ctx context.Context, senderKey, owner string) error {
	err := s.retry(ctx, func() error {
		_, err := s.db.ExecContext(ctx, `DELETE FROM sender_leaders WHERE sender_key = ? AND owner = ?`, senderKey, owner)
		return err
	})
	return translate(err, "resign sender key")
}
