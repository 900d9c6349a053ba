package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// LeadSenderKey makes owner the sender of senderKey unless another owner
// with a heartbeat since deadBefore leads it, and returns the leader. One
// upsert decides: ON CONFLICT locks the key's row and evaluates its WHERE
// on the newest version, so of concurrent callers one inserts or takes
// over and the others, waiting on the lock, see that leader as alive (a
// caller heartbeats before it calls). When the update did not apply, the
// leader is read back in a new statement, which sees the winner's commit;
// should the row be gone by then (the leader resigned), it tries again.
func (s *Store) LeadSenderKey(ctx context.Context, senderKey, owner string, deadBefore time.Time) (string, error) {
	for attempt := 1; ; attempt++ {
		var leader string
		err := s.retry(ctx, func() error {
			return s.pool.QueryRow(ctx, `INSERT INTO sender_leaders AS l (sender_key, owner, since) VALUES ($1, $2, now())
				ON CONFLICT (sender_key) DO UPDATE SET
					owner = excluded.owner,
					since = CASE WHEN l.owner = excluded.owner THEN l.since ELSE excluded.since END
				WHERE l.owner = excluded.owner
				   OR NOT EXISTS (SELECT 1 FROM processes p WHERE p.owner = l.owner AND p.heartbeat_at >= $3)
				RETURNING owner`, senderKey, owner, deadBefore).Scan(&leader)
		})
		if err == nil {
			return leader, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return "", translate(err, "lead sender key")
		}
		// A live leader other than owner holds the key.
		err = s.pool.QueryRow(ctx, `SELECT owner FROM sender_leaders WHERE sender_key = $1`, senderKey).Scan(&leader)
		if err == nil {
			return leader, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) || attempt == 3 {
			return "", translate(err, "lead sender key")
		}
	}
}

// ResignSenderKey drops owner's leadership of senderKey, if it holds it.
func (s *Store) ResignSenderKey(ctx context.Context, senderKey, owner string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM sender_leaders WHERE sender_key = $1 AND owner = $2`, senderKey, owner)
	return translate(err, "resign sender key")
}
