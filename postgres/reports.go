package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	herald "github.com/heraldhq/herald"
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

// applyReports stores a batch, skipping copies of stored reports, and
// applies to each recipient the best of its new reports (highest rank,
// then earliest), all in one statement: one round trip, atomic without an
// explicit transaction. It returns the number of unmatched reports stored
// and of recipients moved.
var applyReports = `WITH ins AS (
		INSERT INTO reports (recipient_id, msg_key, ref, service_type, report_type, report_code, report_text,
			report_time, raw, received_at, next_match_at)
		SELECT CASE WHEN NOT m.held THEN m.id END, msg_key, ref, service_type, report_type, report_code, report_text,
			report_time, raw, $12::timestamptz, CASE WHEN m.id IS NULL AND NOT m.held THEN $12::timestamptz END
		FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
			$8::timestamptz[], $9::bytea[])
		AS rep(ord, msg_key, ref, service_type, report_type, report_code, report_text, report_time, raw)
		CROSS JOIN LATERAL ( -- one look-up by ref serves the match and the contradiction
			SELECT COALESCE(byref.id, (SELECT r.id FROM recipients r WHERE r.msg_key = rep.msg_key ORDER BY r.id LIMIT 1)) AS id,
				COALESCE(byref.msg_key IS NOT NULL AND byref.msg_key <> rep.msg_key AND rep.msg_key <> rep.ref, false) AS held
			FROM (SELECT 1) one LEFT JOIN recipients byref ON byref.message_id = rep.ref
			OFFSET 0) m -- OFFSET 0: look up once, not per use
		-- In key order: two transactions inserting the same keys (two
		-- processes taking copies of one report) lock them in one order,
		-- so one waits for the other instead of deadlocking for a second.
		ORDER BY msg_key, service_type, report_type, report_code, report_time, ord
		ON CONFLICT (msg_key, service_type, report_type, report_code, report_time) DO NOTHING
		RETURNING recipient_id, next_match_at IS NOT NULL AS pending, msg_key, service_type, report_type,
			report_code, report_time
	), best AS ( -- per matched recipient, its best new report; a copy in the batch
		-- joins its stored row too, and ord picks the first place, the one stored.
		-- The arrays are unnested again rather than held in a CTE that both
		-- read: such a CTE is materialized, which cost more than a second unnest.
		SELECT DISTINCT ON (ins.recipient_id) ins.recipient_id AS id, rep.rank, rep.state, rep.report_code AS code,
			rep.report_text AS text, rep.service_type AS channel, rep.msg_key, rep.ref
		FROM ins JOIN unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
			$8::timestamptz[], $10::int[], $11::text[])
		AS rep(ord, msg_key, ref, service_type, report_type, report_code, report_text, report_time, rank, state)
		USING (msg_key, service_type, report_type, report_code, report_time)
		WHERE ins.recipient_id IS NOT NULL
		ORDER BY ins.recipient_id, rep.rank DESC, rep.ord
	), moved AS (
		` + applyFrom("best", "$12") + ` RETURNING 1
	)
	SELECT count(*) FILTER (WHERE recipient_id IS NULL AND pending), (SELECT count(*) FROM moved),
		count(*) FILTER (WHERE recipient_id IS NULL AND NOT pending)
	FROM ins`

// applyFrom moves each recipient named in source (one row per recipient:
// id, rank, state, code, text, channel, msg_key, ref) to its state when
// that outranks the current one (herald.ReportRank). The msgKey is
// recorded when the row has none, unless it is only the ref again (a seed
// report without ref). now is the parameter holding the time.
func applyFrom(source, now string) string {
	return `UPDATE recipients r SET state = u.state, result_code = u.code, result_text = u.text,
		channel = u.channel, msg_key = COALESCE(r.msg_key, NULLIF(u.msg_key, u.ref)),
		lease_owner = NULL, lease_until = NULL, updated_at = ` + now + `
	FROM ` + source + ` u
	WHERE r.id = u.id AND ` + rankSQL("r.state") + ` < u.rank`
}

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

// forceGenericPlan runs applyReports on its generic plan, for the rest of
// its (implicit) transaction only. In auto mode PostgreSQL plans a batch of
// one to six reports anew every time, because a custom plan for so few
// rows looks cheaper than the generic one; but planning this statement
// costs more than running it: 670-760 µs of server CPU for a batch of one
// report against 260-300 on the generic plan (README, BenchmarkApplyReports
// batch=1). That is the webhook at the send rate, where batches are small.
// From eight reports on, auto mode settles on the generic plan by itself
// after five custom ones (PostgreSQL 15), and the extra statement would
// only cost: sent for batches of about eight too, it took 4% off the rate
// at 32 wrk connections.
const (
	forceGenericPlan = `SELECT set_config('plan_cache_mode', 'force_generic_plan', true)`
	genericPlanBelow = 8
)

// ApplyReports stores and applies a batch with one set-based statement,
// whatever the batch size, in one round trip (with forceGenericPlan before
// it for a small batch).
func (s *Store) ApplyReports(ctx context.Context, reports []herald.Report, now time.Time) (herald.ReportResult, error) {
	if len(reports) == 0 {
		return herald.ReportResult{}, nil
	}
	n := len(reports)
	ord, rank := make([]int32, n), make([]int32, n)
	keys, refs, services, types, codes, texts, states := make([]string, n), make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	times, raws := make([]time.Time, n), make([][]byte, n)
	for i, r := range reports {
		state := r.ReportState()
		ord[i], keys[i], refs[i], services[i], types[i], codes[i], texts[i] = int32(i), r.MsgKey, r.Ref,
			r.ServiceType, r.ReportType, r.Code, r.Text
		times[i], raws[i], rank[i], states[i] = r.ReportTime, r.Raw, int32(herald.ReportRank(state)), string(state)
		if raws[i] == nil {
			raws[i] = []byte{}
		}
	}
	var unmatched, moved, held int
	err := s.retry(ctx, func() error {
		var b pgx.Batch
		if n < genericPlanBelow {
			b.Queue(forceGenericPlan)
		}
		b.Queue(applyReports, ord, keys, refs, services, types, codes, texts, times, raws, rank, states, now).
			QueryRow(func(row pgx.Row) error { return row.Scan(&unmatched, &moved, &held) })
		return s.pool.SendBatch(ctx, &b).Close()
	})
	if err != nil {
		return herald.ReportResult{}, translate(err, "apply reports")
	}
	return herald.ReportResult{Matched: moved, Unmatched: unmatched, Held: held,
		Unchanged: n - unmatched - moved - held}, nil
}

// applyBatch collects the columns of applyPending.
type applyBatch struct {
	ids, ord                                      []int64
	rank                                          []int32
	states, codes, texts, channels, msgKeys, refs []string
}

// applyPending applies reports matched late, the best per recipient.
var applyPending = applyFrom(`(SELECT DISTINCT ON (id) * FROM unnest($1::bigint[], $2::bigint[], $3::int[],
		$4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
		AS u(id, ord, rank, state, code, text, channel, msg_key, ref)
	ORDER BY id, rank DESC, ord)`, "$10")

func (a *applyBatch) add(recipientID, ord int64, r herald.Report) {
	state := r.ReportState()
	a.ids = append(a.ids, recipientID)
	a.ord = append(a.ord, ord)
	a.rank = append(a.rank, int32(herald.ReportRank(state)))
	a.states = append(a.states, string(state))
	a.codes = append(a.codes, r.Code)
	a.texts = append(a.texts, r.Text)
	a.channels = append(a.channels, r.ServiceType)
	a.msgKeys = append(a.msgKeys, r.MsgKey)
	a.refs = append(a.refs, r.Ref)
}

// exec applies the batch.
func (a *applyBatch) exec(ctx context.Context, tx pgx.Tx, now time.Time) error {
	if len(a.ids) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, applyPending, a.ids, a.ord, a.rank, a.states, a.codes, a.texts, a.channels,
		a.msgKeys, a.refs, now)
	return err
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
	err := s.retry(ctx, func() error {
		return s.tx(ctx, func(tx pgx.Tx) error {
			var err error
			matched, err = matchPending(ctx, tx, now, limit)
			return err
		})
	})
	if err != nil {
		return 0, translate(err, "match pending reports")
	}
	return matched, nil
}

func matchPending(ctx context.Context, tx pgx.Tx, now time.Time, limit int) (int, error) {
	rows, err := tx.Query(ctx, `WITH due AS (
			SELECT rep.id, CASE WHEN NOT `+contradicts+` THEN `+matchRecipient+` END AS recipient_id,
				`+contradicts+` AS held
			FROM reports rep WHERE rep.next_match_at <= $1::timestamptz
			ORDER BY rep.next_match_at LIMIT $2 FOR UPDATE OF rep SKIP LOCKED)
		UPDATE reports rep SET recipient_id = due.recipient_id,
			next_match_at = CASE WHEN due.recipient_id IS NULL AND NOT due.held
				THEN $1::timestamptz + LEAST(GREATEST($1::timestamptz - rep.received_at, $3::interval), $4::interval) END
		FROM due WHERE rep.id = due.id
		RETURNING rep.id, rep.recipient_id, rep.msg_key, rep.ref, rep.service_type, rep.report_code, rep.report_text`,
		now, limit, minMatchDelay, maxMatchDelay)
	if err != nil {
		return 0, err
	}
	var ap applyBatch
	var r herald.Report
	var id int64
	var recipient *int64
	_, err = pgx.ForEachRow(rows, []any{&id, &recipient, &r.MsgKey, &r.Ref, &r.ServiceType, &r.Code, &r.Text}, func() error {
		if recipient != nil {
			ap.add(*recipient, id, r) // ids follow arrival
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return len(ap.ids), ap.exec(ctx, tx, now)
}

// retry runs fn again when PostgreSQL aborted it to break a deadlock or a
// serialization conflict with a concurrent batch (the dispatcher's, another
// committer's, another process's): the statements are idempotent, so a
// retry is always safe.
func (s *Store) retry(ctx context.Context, fn func() error) error {
	for attempt := 1; ; attempt++ {
		err := fn()
		var pe *pgconn.PgError
		if attempt == 3 || ctx.Err() != nil || !errors.As(err, &pe) || (pe.Code != "40P01" && pe.Code != "40001") {
			return err
		}
	}
}

// ReportsByMsgKey lists the stored reports of one msgKey in arrival order,
// with their raw bodies, for audit. MsgType and SendTime are only in Raw.
func (s *Store) ReportsByMsgKey(ctx context.Context, msgKey string) ([]herald.Report, error) {
	rows, err := s.pool.Query(ctx, `SELECT msg_key, ref, service_type, report_type, report_code, report_text,
			report_time, raw FROM reports WHERE msg_key = $1 ORDER BY id`, msgKey)
	if err != nil {
		return nil, translate(err, "reports")
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (herald.Report, error) {
		var r herald.Report
		err := row.Scan(&r.MsgKey, &r.Ref, &r.ServiceType, &r.ReportType, &r.Code, &r.Text, &r.ReportTime, &r.Raw)
		r.ReportTime = r.ReportTime.UTC()
		return r, err
	})
	if out == nil {
		out = []herald.Report{}
	}
	return out, translate(err, "reports")
}
