package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	herald "github.com/heraldhq/herald"
)

// matchRecipient finds a report's recipient: by herald's message id (the
// report's ref) first, by the provider's msgKey second.
func matchRecipient(ref, msgKey string) string {
	return `COALESCE((SELECT r.id FROM recipients r WHERE r.message_id = ` + ref + `),
		(SELECT r.id FROM recipients r WHERE r.msg_key = ` + msgKey + ` ORDER BY r.id LIMIT 1))`
}

// contradicts tells a report whose ref names a message that was answered
// with another msgKey: forged or misrouted, it is stored but held
// (recipient_id and next_match_at NULL: neither applied nor retried). A
// seed report without ref carries its messageId as ref too: not a
// contradiction.
func contradicts(ref, msgKey string) string {
	return `EXISTS (SELECT 1 FROM recipients r WHERE r.message_id = ` + ref + ` AND r.msg_key IS NOT NULL
		AND r.msg_key <> ` + msgKey + ` AND ` + msgKey + ` <> ` + ref + `)`
}

// applyReport moves a recipient to the report's state when that outranks
// its current one (herald.ReportRank). The msgKey is recorded when the row
// has none, unless it is only the ref again (a seed report without ref).
var applyReport = `UPDATE recipients SET state = ?, result_code = ?, result_text = ?, channel = ?,
		msg_key = COALESCE(msg_key, NULLIF(?, ?)), lease_owner = NULL, lease_until = NULL, updated_at = ?
	WHERE id = ? AND ` + rankSQL("state") + ` < ?`

// rankSQL is herald.ReportRank as a SQL expression over col, built from it
// so that the two cannot drift apart.
func rankSQL(col string) string {
	var b strings.Builder
	b.WriteString("CASE " + col)
	for _, s := range herald.RecipientStates {
		fmt.Fprintf(&b, " WHEN '%s' THEN %d", s, herald.ReportRank(s))
	}
	fmt.Fprintf(&b, " ELSE %d END", herald.ReportRank(""))
	return b.String()
}

// ApplyReports stores and applies a batch of reports in one transaction,
// one prepared statement execution per report: the single writer makes the
// lookup and the update atomic. Within the batch the first report of the
// highest rank wins a recipient, as in the PostgreSQL store.
func (s *Store) ApplyReports(ctx context.Context, reports []herald.Report, now time.Time) (herald.ReportResult, error) {
	var res herald.ReportResult
	err := s.tx(ctx, func(tx *sql.Tx) error {
		ins, err := tx.PrepareContext(ctx, `INSERT INTO reports (recipient_id, msg_key, ref, service_type, report_type,
				report_code, report_text, report_time, raw, received_at, next_match_at)
			SELECT CASE WHEN NOT m.held THEN m.id END, ?2, ?1, ?3, ?4, ?5, ?6, ?7, ?8, ?9,
				CASE WHEN m.id IS NULL AND NOT m.held THEN ?9 END
			-- One look-up by ref serves both the match and the contradiction.
			FROM (SELECT COALESCE(byref.id, (SELECT r.id FROM recipients r WHERE r.msg_key = ?2 ORDER BY r.id LIMIT 1)) AS id,
					COALESCE(byref.msg_key IS NOT NULL AND byref.msg_key <> ?2 AND ?2 <> ?1, false) AS held
				FROM (SELECT 1) one LEFT JOIN recipients byref ON byref.message_id = ?1) m
			WHERE true -- lets SQLite parse the upsert clause after a SELECT
			ON CONFLICT DO NOTHING
			RETURNING recipient_id, next_match_at IS NOT NULL`)
		if err != nil {
			return err
		}
		defer ins.Close()
		apply, err := newApplier(ctx, tx, now)
		if err != nil {
			return err
		}
		defer apply.close()
		matched := 0
		for _, r := range reports {
			var rid sql.NullInt64
			var pending bool
			err := ins.QueryRowContext(ctx, r.Ref, r.MsgKey, r.ServiceType, r.ReportType, r.Code, r.Text,
				ms(r.ReportTime), raw(r.Raw), ms(now)).Scan(&rid, &pending)
			switch {
			case errors.Is(err, sql.ErrNoRows): // a copy of a stored report
				res.Unchanged++
				continue
			case err != nil:
				return err
			case !rid.Valid && pending:
				res.Unmatched++
				continue
			case !rid.Valid:
				res.Held++
				continue
			}
			matched++
			if err := apply.apply(rid.Int64, r); err != nil {
				return err
			}
		}
		res.Matched = len(apply.moved)
		res.Unchanged += matched - res.Matched
		return nil
	})
	if err != nil {
		return herald.ReportResult{}, translate(err, "apply reports")
	}
	return res, nil
}

// raw keeps a missing body as empty rather than NULL.
func raw(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// applier runs applyReport in one transaction and remembers which
// recipients moved.
type applier struct {
	ctx   context.Context
	stmt  *sql.Stmt
	now   int64
	moved map[int64]bool
}

func newApplier(ctx context.Context, tx *sql.Tx, now time.Time) (*applier, error) {
	stmt, err := tx.PrepareContext(ctx, applyReport)
	if err != nil {
		return nil, err
	}
	return &applier{ctx: ctx, stmt: stmt, now: ms(now), moved: map[int64]bool{}}, nil
}

func (a *applier) apply(recipientID int64, r herald.Report) error {
	state := r.ReportState()
	res, err := a.stmt.ExecContext(a.ctx, string(state), r.Code, r.Text, r.ServiceType, r.MsgKey, r.Ref, a.now,
		recipientID, herald.ReportRank(state))
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n > 0 {
		a.moved[recipientID] = true
	}
	return nil
}

func (a *applier) close() { a.stmt.Close() }

// Unmatched reports are retried after a delay that doubles with their age:
// at least a second, at most an hour, so that a few reports that never
// match cannot crowd out the ones that will.
const (
	minMatchDelay = time.Second
	maxMatchDelay = time.Hour
)

// MatchPendingReports retries the unmatched reports that are due, oldest
// due first, and applies those that now find their recipient.
func (s *Store) MatchPendingReports(ctx context.Context, now time.Time, limit int) (int, error) {
	// A reader answers the common case, nothing due, without taking the writer.
	var due bool
	err := s.r.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM reports WHERE next_match_at <= ?)`, ms(now)).Scan(&due)
	if err != nil || !due {
		return 0, translate(err, "pending reports")
	}
	matched := 0
	err = s.tx(ctx, func(tx *sql.Tx) error {
		pending, err := duePending(ctx, tx, now, limit)
		if err != nil {
			return err
		}
		upd, err := tx.PrepareContext(ctx, `UPDATE reports SET recipient_id = ?1,
			next_match_at = CASE WHEN ?1 IS NULL AND NOT ?6 THEN ?2 + MIN(MAX(?2 - received_at, ?3), ?4) END WHERE id = ?5`)
		if err != nil {
			return err
		}
		defer upd.Close()
		apply, err := newApplier(ctx, tx, now)
		if err != nil {
			return err
		}
		defer apply.close()
		for _, p := range pending {
			if _, err := upd.ExecContext(ctx, p.recipient, ms(now), minMatchDelay.Milliseconds(),
				maxMatchDelay.Milliseconds(), p.id, p.held); err != nil {
				return err
			}
			if !p.recipient.Valid {
				continue
			}
			matched++
			if err := apply.apply(p.recipient.Int64, p.report); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, translate(err, "match pending reports")
	}
	return matched, nil
}

type pendingReport struct {
	id        int64
	recipient sql.NullInt64 // NULL when held
	held      bool
	report    herald.Report
}

// duePending reads the due unmatched reports with the recipient each would
// match now, if any.
func duePending(ctx context.Context, tx *sql.Tx, now time.Time, limit int) ([]pendingReport, error) {
	rows, err := tx.QueryContext(ctx, `SELECT rep.id, rep.msg_key, rep.ref, rep.service_type, rep.report_code,
			rep.report_text, CASE WHEN NOT `+contradicts("rep.ref", "rep.msg_key")+` THEN `+
		matchRecipient("rep.ref", "rep.msg_key")+` END, `+contradicts("rep.ref", "rep.msg_key")+`
		FROM reports rep WHERE rep.next_match_at <= ? ORDER BY rep.next_match_at LIMIT ?`, ms(now), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []pendingReport
	for rows.Next() {
		var p pendingReport
		r := &p.report
		if err := rows.Scan(&p.id, &r.MsgKey, &r.Ref, &r.ServiceType, &r.Code, &r.Text, &p.recipient, &p.held); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// ReportsByMsgKey lists the stored reports of one msgKey in arrival order,
// with their raw bodies, for audit. MsgType and SendTime are only in Raw.
func (s *Store) ReportsByMsgKey(ctx context.Context, msgKey string) ([]herald.Report, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT msg_key, ref, service_type, report_type, report_code, report_text,
			report_time, raw FROM reports WHERE msg_key = ? ORDER BY id`, msgKey)
	if err != nil {
		return nil, translate(err, "reports")
	}
	defer rows.Close()
	out := []herald.Report{}
	for rows.Next() {
		var r herald.Report
		var at int64
		if err := rows.Scan(&r.MsgKey, &r.Ref, &r.ServiceType, &r.ReportType, &r.Code, &r.Text, &at, &r.Raw); err != nil {
			return nil, fmt.Errorf("scan report: %w", err)
		}
		r.ReportTime = time.UnixMilli(at).UTC()
		out = append(out, r)
	}
	return out, translate(rows.Err(), "reports")
}
