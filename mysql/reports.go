package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/sqlrows"
)

// matchRecipient finds the recipient of the report aliased rep: by
// herald's message id (the report's ref) first, by the provider's msgKey
// second.
const matchRecipient = `COALESCE((SELECT r.id FROM recipients r WHERE r.message_id = rep.ref),
	(SELECT r.id FROM recipients r WHERE r.msg_key = rep.msg_key ORDER BY r.id LIMIT 1))`

// contradicts tells a report aliased rep whose ref names a message that
// was answered with another msgKey: forged or misrouted, it is stored but
// held (recipient_id and next_match_at NULL: neither applied nor retried).
// A seed report without ref carries its messageId as ref too: not a
// contradiction.
const contradicts = `EXISTS (SELECT 1 FROM recipients r WHERE r.message_id = rep.ref AND r.msg_key IS NOT NULL
	AND r.msg_key <> rep.msg_key AND rep.msg_key <> rep.ref)`

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

// reportKey is a report's identity: a copy has the same (the unique key
// reports_copy). Times are compared at the microseconds the column keeps.
type reportKey struct {
	msgKey, service, typ, code string
	at                         time.Time
}

func keyOf(r herald.Report) reportKey {
	return reportKey{r.MsgKey, r.ServiceType, r.ReportType, r.Code, r.ReportTime.UTC().Round(time.Microsecond)}
}

// reportChunk reports go in one statement.
const reportChunk = 1000

// ApplyReports stores and applies a batch in one transaction, with a
// statement per step whatever the batch size (per thousand reports): read
// which reports are copies of stored ones, find the recipients of the new
// ones, insert them (a multi-row INSERT … ON DUPLICATE KEY UPDATE that
// skips copies), and move each recipient to the best of its new reports
// (highest rank, then earliest) with one UPDATE joined to a derived table.
// Moves are monotonic (herald.ReportRank), so a report applied twice, by
// two processes racing on one copy, moves a row once.
func (s *Store) ApplyReports(ctx context.Context, reports []herald.Report, now time.Time) (herald.ReportResult, error) {
	if len(reports) == 0 {
		return herald.ReportResult{}, nil
	}
	var res herald.ReportResult
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res = herald.ReportResult{}
		for start := 0; start < len(reports); start += reportChunk {
			r, err := applyChunk(ctx, tx, reports[start:min(start+reportChunk, len(reports))], now)
			if err != nil {
				return err
			}
			res.Matched += r.Matched
			res.Unmatched += r.Unmatched
			res.Unchanged += r.Unchanged
			res.Held += r.Held
		}
		return nil
	})
	if err != nil {
		return herald.ReportResult{}, translate(err, "apply reports")
	}
	return res, nil
}

// Widths, in characters, of the report columns that are VARCHARs (see
// migrations/00002_reports.sql).
const (
	keyWidth     = 255 // msg_key, ref
	typeWidth    = 64  // service_type, report_type
	codeWidth    = 255 // report_code
	channelWidth = 64  // recipients.channel, from service_type
)

// cut shortens s to at most n characters; ok is false when it had to.
func cut(s string, n int) (string, bool) {
	if len(s) <= n || utf8.RuneCountInString(s) <= n {
		return s, true
	}
	return string([]rune(s)[:n]), false
}

// fit makes a report fit the columns, so that one odd report (a field
// longer than any the provider sends) cannot fail, under the strict
// sql_mode, the batch it came in, again at each retry. Such a report is
// kept, its raw body whole, but matches nothing (a key that long belongs
// to no recipient); ok is false for it.
func fit(r herald.Report) (herald.Report, bool) {
	var ok [5]bool
	r.MsgKey, ok[0] = cut(r.MsgKey, keyWidth)
	r.Ref, ok[1] = cut(r.Ref, keyWidth)
	r.ServiceType, ok[2] = cut(r.ServiceType, min(typeWidth, channelWidth))
	r.ReportType, ok[3] = cut(r.ReportType, typeWidth)
	r.Code, ok[4] = cut(r.Code, codeWidth)
	return r, ok == [5]bool{true, true, true, true, true}
}

func applyChunk(ctx context.Context, tx *sql.Tx, reports []herald.Report, now time.Time) (herald.ReportResult, error) {
	var res herald.ReportResult
	reports = slices.Clone(reports)
	odd := map[int]bool{} // positions in fresh of reports that had to be cut
	fits := make([]bool, len(reports))
	for i := range reports {
		reports[i], fits[i] = fit(reports[i])
	}
	// Copies: of stored reports, and of an earlier report of the batch.
	msgKeys := map[string]bool{}
	var keyArgs []any
	for _, r := range reports {
		if !msgKeys[r.MsgKey] {
			msgKeys[r.MsgKey] = true
			keyArgs = append(keyArgs, r.MsgKey)
		}
	}
	seen := map[reportKey]bool{}
	rows, err := tx.QueryContext(ctx, `SELECT msg_key, service_type, report_type, report_code, report_time FROM reports
		WHERE msg_key IN (`+sqlrows.Placeholders(len(keyArgs))+`)`, keyArgs...)
	if err != nil {
		return res, err
	}
	for rows.Next() {
		var k reportKey
		if err := rows.Scan(&k.msgKey, &k.service, &k.typ, &k.code, &k.at); err != nil {
			rows.Close()
			return res, err
		}
		k.at = k.at.UTC()
		seen[k] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return res, err
	}
	var fresh []herald.Report
	for i, r := range reports {
		k := keyOf(r)
		if seen[k] {
			res.Unchanged++
			continue
		}
		seen[k] = true
		if !fits[i] {
			odd[len(fresh)] = true
		}
		fresh = append(fresh, r)
	}
	if len(fresh) == 0 {
		return res, nil
	}
	// The recipient of each new report.
	args := make([]any, 0, 3*len(fresh))
	for i, r := range fresh {
		args = append(args, i, r.Ref, r.MsgKey)
	}
	rows, err = tx.QueryContext(ctx, `SELECT rep.ord, `+matchRecipient+`, `+contradicts+` FROM `+
		valuesTable([]string{"ord", "ref", "msg_key"}, len(fresh))+` rep`, args...)
	if err != nil {
		return res, err
	}
	recipient := make([]sql.NullInt64, len(fresh))
	held := make([]bool, len(fresh))
	for rows.Next() {
		var ord int
		var id sql.NullInt64
		var contra bool
		if err := rows.Scan(&ord, &id, &contra); err != nil {
			rows.Close()
			return res, err
		}
		switch {
		case contra && !odd[ord]:
			held[ord] = true
		case !odd[ord]:
			recipient[ord] = id
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return res, err
	}
	// Store them all.
	args = args[:0]
	for i, r := range fresh {
		var next any
		switch {
		case held[i]:
			res.Held++
		case !recipient[i].Valid:
			res.Unmatched++
			if !odd[i] {
				next = now.UTC() // retried by MatchPendingReports
			}
		}
		raw := r.Raw
		if raw == nil {
			raw = []byte{}
		}
		args = append(args, recipient[i], r.MsgKey, r.Ref, r.ServiceType, r.ReportType, r.Code, r.Text,
			r.ReportTime.UTC(), raw, now.UTC(), next)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO reports (recipient_id, msg_key, ref, service_type, report_type, report_code,
			report_text, report_time, raw, received_at, next_match_at) VALUES `+
		strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?), ", len(fresh)), ", ")+`
		ON DUPLICATE KEY UPDATE id = id`, args...); err != nil {
		return res, err
	}
	// Apply the best new report of each recipient.
	var ap applyBatch
	for i, r := range fresh {
		if recipient[i].Valid {
			ap.add(recipient[i].Int64, int64(i), r)
		}
	}
	moved, err := ap.exec(ctx, tx, now)
	if err != nil {
		return res, err
	}
	res.Matched = moved
	res.Unchanged += len(fresh) - res.Unmatched - res.Held - moved
	return res, nil
}

// applyBatch collects, per recipient, the best of its reports: highest
// rank, then first (lowest ord).
type applyBatch struct {
	order []int64
	best  map[int64]applyRow
}

type applyRow struct {
	ord    int64
	rank   int
	report herald.Report
}

func (a *applyBatch) add(recipientID, ord int64, r herald.Report) {
	if a.best == nil {
		a.best = map[int64]applyRow{}
	}
	rank := herald.ReportRank(r.ReportState())
	cur, ok := a.best[recipientID]
	if !ok {
		a.order = append(a.order, recipientID)
	}
	if !ok || rank > cur.rank || (rank == cur.rank && ord < cur.ord) {
		a.best[recipientID] = applyRow{ord: ord, rank: rank, report: r}
	}
}

// exec moves each recipient to its best report's state when that outranks
// the current one (herald.ReportRank), and returns how many moved. The
// msgKey is recorded when the row has none, unless it is only the ref
// again (a seed report without ref). Each assignment reads only its own
// column of the row, so MySQL's order of assignments cannot matter.
func (a *applyBatch) exec(ctx context.Context, tx *sql.Tx, now time.Time) (int, error) {
	if len(a.order) == 0 {
		return 0, nil
	}
	// In id order: concurrent batches lock the rows they share in one
	// order, which keeps InnoDB deadlocks (and retries) rare.
	slices.Sort(a.order)
	cols := []string{"id", "rk", "state", "code", "text", "channel", "msg_key", "ref"}
	args := make([]any, 0, len(cols)*len(a.order))
	for _, id := range a.order {
		b := a.best[id]
		r := b.report
		args = append(args, id, b.rank, string(r.ReportState()), r.Code, r.Text, r.ServiceType, r.MsgKey, r.Ref)
	}
	args = append(args, now.UTC())
	res, err := tx.ExecContext(ctx, `UPDATE recipients r JOIN `+valuesTable(cols, len(a.order))+` u ON r.id = u.id
		SET r.state = u.state, r.result_code = u.code, r.result_text = u.text, r.channel = u.channel,
			r.msg_key = COALESCE(r.msg_key, NULLIF(u.msg_key, u.ref)),
			r.lease_owner = NULL, r.lease_until = NULL, r.updated_at = ?
		WHERE `+rankSQL("r.state")+` < u.rk`, args...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// Unmatched reports are retried after a delay that doubles with their age:
// at least a second, at most an hour, so that a few reports that never
// match cannot crowd out the ones that will.
const (
	minMatchDelay = time.Second
	maxMatchDelay = time.Hour
)

// MatchPendingReports retries the unmatched reports that are due, oldest
// due first, and applies those that now find their recipient. SKIP LOCKED
// lets several processes sweep at once.
func (s *Store) MatchPendingReports(ctx context.Context, now time.Time, limit int) (int, error) {
	matched := 0
	err := s.tx(ctx, func(tx *sql.Tx) error {
		matched = 0
		rows, err := tx.QueryContext(ctx, `SELECT rep.id, `+matchRecipient+`, `+contradicts+`, rep.received_at, rep.msg_key, rep.ref,
				rep.service_type, rep.report_code, rep.report_text
			FROM reports rep WHERE rep.next_match_at <= ?
			ORDER BY rep.next_match_at LIMIT ? FOR UPDATE SKIP LOCKED`, now.UTC(), limit)
		if err != nil {
			return err
		}
		var ap applyBatch
		var upd []any
		n := 0
		for rows.Next() {
			var id int64
			var recipient sql.NullInt64
			var contra bool
			var received time.Time
			var r herald.Report
			if err := rows.Scan(&id, &recipient, &contra, &received, &r.MsgKey, &r.Ref, &r.ServiceType, &r.Code, &r.Text); err != nil {
				rows.Close()
				return err
			}
			var next any
			switch {
			case contra: // held: neither applied nor retried
				recipient = sql.NullInt64{}
			case recipient.Valid:
				ap.add(recipient.Int64, id, r) // ids follow arrival
				matched++
			default:
				next = now.Add(min(max(now.Sub(received), minMatchDelay), maxMatchDelay)).UTC()
			}
			upd = append(upd, id, recipient, next)
			n++
		}
		rows.Close()
		if err := rows.Err(); err != nil || n == 0 {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE reports rep JOIN `+valuesTable([]string{"id", "rid", "next"}, n)+` u
			ON rep.id = u.id SET rep.recipient_id = u.rid, rep.next_match_at = u.next`, upd...); err != nil {
			return err
		}
		_, err = ap.exec(ctx, tx, now)
		return err
	})
	if err != nil {
		return 0, translate(err, "match pending reports")
	}
	return matched, nil
}

// reportColumns are a stored report's fields, as scanReport reads them.
const reportColumns = `msg_key, ref, service_type, report_type, report_code, report_text, report_time`

// scanReport reads reportColumns, and after them the raw body when raw.
func scanReport(raw bool) func(scanner) (herald.Report, error) {
	return func(row scanner) (herald.Report, error) {
		var r herald.Report
		dest := []any{&r.MsgKey, &r.Ref, &r.ServiceType, &r.ReportType, &r.Code, &r.Text, &r.ReportTime}
		if raw {
			dest = append(dest, &r.Raw)
		}
		if err := row.Scan(dest...); err != nil {
			return herald.Report{}, fmt.Errorf("scan report: %w", err)
		}
		r.ReportTime = r.ReportTime.UTC()
		return r, nil
	}
}
