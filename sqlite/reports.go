package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"math/bits"
	"slices"
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

// ApplyReports stores and applies a batch of reports in one transaction:
// one multi-row INSERT … RETURNING per chunk of at most maxReportChunk reports (a
// statement per report cost more in the driver than in SQLite), then one
// prepared UPDATE per matched report, in arrival order. The single writer
// makes the lookup and the update atomic. Copies within the batch are
// dropped here, the first kept, so that the statement needs no sort to
// store the first of them. Within the batch the first report of the
// highest rank wins a recipient, as in the PostgreSQL store.
func (s *Store) ApplyReports(ctx context.Context, reports []herald.Report, now time.Time) (herald.ReportResult, error) {
	n := len(reports)
	reports, first := firstCopies(reports)
	copies := n - len(reports)
	var res herald.ReportResult
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res = herald.ReportResult{Unchanged: copies}
		apply := s.newApplier(ctx, tx, now)
		defer apply.close()
		matched := 0
		for start := 0; start < len(reports); {
			chunk := reports[start : start+chunkSize(len(reports)-start)]
			recipients, err := s.insertReports(ctx, tx, chunk, start, first, now, &res)
			if err != nil {
				return err
			}
			start += len(chunk)
			for i, rid := range recipients {
				if rid == 0 {
					continue
				}
				matched++
				if err := apply.apply(rid, chunk[i]); err != nil {
					return err
				}
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

// firstCopies returns the batch without its later copies (reports with
// the key of one before them), and each key's place in what it returns.
func firstCopies(reports []herald.Report) ([]herald.Report, map[reportKey]int) {
	first := make(map[reportKey]int, len(reports))
	var unique []herald.Report // nil until a copy turns up: the batch itself is returned
	for i, r := range reports {
		k := keyOf(r)
		if _, ok := first[k]; ok {
			if unique == nil {
				unique = slices.Clone(reports[:i])
			}
			continue
		}
		first[k] = len(first)
		if unique != nil {
			unique = append(unique, r)
		}
	}
	if unique == nil {
		return reports, first
	}
	return unique, first
}

// A batch is stored in chunks of a power of two reports, at most
// maxReportChunk (8 parameters each), so that a handful of statements
// serve every batch and each is parsed once (prepared).
const (
	reportChunkSizes = 9 // 1, 2, 4 … maxReportChunk
	maxReportChunk   = 1 << (reportChunkSizes - 1)
)

// chunkSize is the largest power of two not above n or maxReportChunk.
func chunkSize(n int) int {
	c := maxReportChunk
	for c > n {
		c >>= 1
	}
	return c
}

// insertReports stores a chunk of reports without copies among them (the
// chunk starts at place start of the batch whose key places first holds),
// skipping copies of stored ones, and returns for each report the
// recipient it matched (0: none, held, or a copy), counting copies,
// unmatched and held reports in res.
func (s *Store) insertReports(ctx context.Context, tx *sql.Tx, chunk []herald.Report, start int, first map[reportKey]int,
	now time.Time, res *herald.ReportResult) ([]int64, error) {
	args := make([]any, 0, 1+8*len(chunk))
	args = append(args, ms(now))
	for _, r := range chunk {
		args = append(args, r.Ref, r.MsgKey, r.ServiceType, r.ReportType, r.Code, r.Text, ms(r.ReportTime), raw(r.Raw))
	}
	st := tx.StmtContext(ctx, s.stmts.insertReports[bits.TrailingZeros(uint(len(chunk)))])
	defer st.Close()
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	recipients := make([]int64, len(chunk))
	stored := 0
	for rows.Next() {
		var rid, at sql.NullInt64
		var pending bool
		var msgKey, service, typ, code sql.NullString
		if err := rows.Scan(&rid, &pending, &msgKey, &service, &typ, &code, &at); err != nil {
			return nil, err
		}
		stored++
		switch {
		case rid.Valid:
			key := reportKey{msgKey.String, service.String, typ.String, code.String, at.Int64}
			i, ok := first[key]
			if i -= start; !ok || i < 0 || i >= len(chunk) {
				return nil, fmt.Errorf("stored report %+v is not in its chunk", key)
			}
			recipients[i] = rid.Int64
		case pending:
			res.Unmatched++
		default:
			res.Held++
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	res.Unchanged += len(chunk) - stored // copies of stored reports
	return recipients, nil
}

// insertReportsQuery stores n reports, skipping copies of stored ones, and
// returns each stored one with the recipient it matched. The reports come
// without copies among them, so the order they are inserted in decides
// nothing and needs no sort (it is theirs: the VALUES are the outer side of
// a LEFT JOIN). OFFSET 0 keeps the inner query from being flattened into
// the INSERT's, which would look each report's msgKey up once for every
// use of m.id.
func insertReportsQuery(n int) string {
	return `INSERT INTO reports (recipient_id, msg_key, ref, service_type, report_type,
			report_code, report_text, report_time, raw, received_at, next_match_at)
		SELECT CASE WHEN NOT m.held THEN m.id END, m.msg_key, m.ref, m.service_type, m.report_type, m.report_code,
			m.report_text, m.report_time, m.raw, ?1, CASE WHEN m.id IS NULL AND NOT m.held THEN ?1 END
		-- One look-up by ref serves both the match and the contradiction.
		FROM (SELECT v.column1 AS ref, v.column2 AS msg_key, v.column3 AS service_type,
				v.column4 AS report_type, v.column5 AS report_code, v.column6 AS report_text, v.column7 AS report_time,
				v.column8 AS raw,
				COALESCE(byref.id, (SELECT r.id FROM recipients r WHERE r.msg_key = v.column2 ORDER BY r.id LIMIT 1)) AS id,
				COALESCE(byref.msg_key IS NOT NULL AND byref.msg_key <> v.column2 AND v.column2 <> v.column1, false) AS held
			FROM (VALUES ` + strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?), ", n), ", ") + `) v
			LEFT JOIN recipients byref ON byref.message_id = v.column1
			LIMIT -1 OFFSET 0) m
		WHERE true -- lets SQLite parse the upsert clause after a SELECT
		ON CONFLICT DO NOTHING
		-- Only a matched report needs its key back (to find it in the chunk):
		-- NULLs cost the driver no strings.
		RETURNING recipient_id, next_match_at IS NOT NULL,
			CASE WHEN recipient_id IS NOT NULL THEN msg_key END, CASE WHEN recipient_id IS NOT NULL THEN service_type END,
			CASE WHEN recipient_id IS NOT NULL THEN report_type END, CASE WHEN recipient_id IS NOT NULL THEN report_code END,
			CASE WHEN recipient_id IS NOT NULL THEN report_time END`
}

// reportKey is a report's identity as stored: a copy has the same.
type reportKey struct {
	msgKey, service, typ, code string
	at                         int64 // ms
}

func keyOf(r herald.Report) reportKey {
	return reportKey{r.MsgKey, r.ServiceType, r.ReportType, r.Code, ms(r.ReportTime)}
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

func (s *Store) newApplier(ctx context.Context, tx *sql.Tx, now time.Time) *applier {
	return &applier{ctx: ctx, stmt: tx.StmtContext(ctx, s.stmts.applyReport), now: ms(now), moved: map[int64]bool{}}
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
// due first, and applies those that now find their recipient. It takes
// them sweepChunk at a time, one transaction each, so that the report
// batches waiting for the one writer get it between two: a sweep of 1,000
// reports that match nothing held it for 30-60 ms, every commit and every
// webhook answer waiting behind it (BenchmarkMatchPendingReports).
func (s *Store) MatchPendingReports(ctx context.Context, now time.Time, limit int) (int, error) {
	// A reader answers the common case, nothing due, without taking the writer.
	var due bool
	err := s.r.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM reports WHERE next_match_at <= ?)`, ms(now)).Scan(&due)
	if err != nil || !due {
		return 0, translate(err, "pending reports")
	}
	matched := 0
	for limit > 0 {
		n := min(limit, sweepChunk)
		m, examined, err := s.matchDue(ctx, now, n)
		matched += m
		if err != nil {
			return matched, translate(err, "match pending reports")
		}
		if examined < n { // none due left
			break
		}
		limit -= n
	}
	return matched, nil
}

// sweepChunk is the most due reports one transaction of
// MatchPendingReports takes: ingest's default sweep, about 9 ms of the
// writer. Smaller chunks cost a commit each (ten of 100 took 52 ms where
// one of 1,000 took 29).
const sweepChunk = 200

// matchDue retries up to limit due reports in one transaction; it returns
// how many matched and how many were due.
func (s *Store) matchDue(ctx context.Context, now time.Time, limit int) (matched, examined int, err error) {
	err = s.tx(ctx, func(tx *sql.Tx) error {
		matched = 0
		pending, err := duePending(ctx, tx, now, limit)
		if err != nil {
			return err
		}
		examined = len(pending)
		upd, err := tx.PrepareContext(ctx, `UPDATE reports SET recipient_id = ?1,
			next_match_at = CASE WHEN ?1 IS NULL AND NOT ?6 THEN ?2 + MIN(MAX(?2 - received_at, ?3), ?4) END WHERE id = ?5`)
		if err != nil {
			return err
		}
		defer upd.Close()
		apply := s.newApplier(ctx, tx, now)
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
		return 0, examined, err // rolled back: nothing of it matched
	}
	return matched, examined, nil
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

// reportColumns are a stored report's fields, as scanReport reads them.
const reportColumns = `msg_key, ref, service_type, report_type, report_code, report_text, report_time`

// scanReport reads reportColumns, and after them the raw body when raw.
func scanReport(raw bool) func(scanner) (herald.Report, error) {
	return func(row scanner) (herald.Report, error) {
		var r herald.Report
		var at int64
		dest := []any{&r.MsgKey, &r.Ref, &r.ServiceType, &r.ReportType, &r.Code, &r.Text, &at}
		if raw {
			dest = append(dest, &r.Raw)
		}
		if err := row.Scan(dest...); err != nil {
			return herald.Report{}, fmt.Errorf("scan report: %w", err)
		}
		r.ReportTime = time.UnixMilli(at).UTC()
		return r, nil
	}
}
