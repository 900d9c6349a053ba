package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	herald "github.com/heraldhq/herald"
)

const recipientColumns = `id, campaign_id, member_id, phone, message_id, state, attempts, lease_owner, lease_until,
	next_attempt_at, claim_token, resends, in_doubt, batch_key, sent_at, msg_key, result_code, result_text, channel,
	created_at, updated_at`

// ClaimRecipients leases up to p.Limit sendable recipients of a running
// campaign; SKIP LOCKED lets concurrent claimers take disjoint rows. A row
// with a batch key is in doubt: it counts a resend of its frozen request,
// not an attempt, and keeps its key.
func (s *Store) ClaimRecipients(ctx context.Context, p herald.ClaimParams) ([]herald.Recipient, error) {
	rows, err := s.pool.Query(ctx, `WITH picked AS (
			SELECT r.id FROM recipients r
			WHERE r.campaign_id = $1
			  AND EXISTS (SELECT 1 FROM campaigns c WHERE c.id = r.campaign_id AND c.state = 'running')
			  AND (r.state = 'PENDING' OR (r.state = 'RETRY_WAIT' AND r.next_attempt_at <= $2))
			ORDER BY r.id LIMIT $3
			FOR UPDATE SKIP LOCKED
		), claimed AS (
			UPDATE recipients r SET state = 'SENDING', lease_owner = $4, lease_until = $5,
				claim_token = r.claim_token + 1,
				attempts = r.attempts + CASE WHEN r.batch_key IS NULL THEN 1 ELSE 0 END,
				resends = r.resends + CASE WHEN r.batch_key IS NULL THEN 0 ELSE 1 END,
				message_id = COALESCE(r.message_id, 'h' || $6::text || '-' || r.campaign_id || '-' || r.id),
				updated_at = $2
			FROM picked WHERE r.id = picked.id
			RETURNING r.*)
		SELECT `+recipientColumns+` FROM claimed ORDER BY id`,
		p.CampaignID, p.Now, p.Limit, p.Owner, p.LeaseUntil, s.instance)
	if err != nil {
		return nil, translate(err, "claim recipients")
	}
	return collectRecipients(rows)
}

// settle is what a row that would wait for another send becomes when its
// campaign is no longer runnable (cancelled or failed): UNKNOWN with code
// IN_DOUBT when a request of it may have been taken, else CANCELLED, or
// FAILED with code CAMPAIGN_FAILED and the campaign's reason. Its fields
// are SQL expressions: doubt (boolean), campaign (its state) and reason.
type settle struct{ doubt, campaign, reason string }

// halted is the SQL condition that the campaign is no longer runnable.
func (x settle) halted() string { return x.campaign + ` IN ('cancelled', 'failed')` }

func (x settle) state() string {
	return `CASE WHEN ` + x.doubt + ` THEN 'UNKNOWN' WHEN ` + x.campaign + ` = 'cancelled' THEN 'CANCELLED' ELSE 'FAILED' END`
}

// code and text keep the given expressions for a cancelled row.
func (x settle) code(cancelled string) string {
	return `CASE WHEN ` + x.doubt + ` THEN '` + herald.CodeInDoubt + `' WHEN ` + x.campaign + ` = 'cancelled' THEN ` + cancelled +
		` ELSE '` + herald.CodeCampaignFailed + `' END`
}

// text keeps the given expression for a cancelled row, and the
// explanation given (NULL for none) for a row in doubt.
func (x settle) text(cancelled, given string) string {
	return `CASE WHEN ` + x.doubt + ` THEN COALESCE(` + given + `, 'campaign ' || ` + x.campaign + ` || ' while a send was in doubt'
			|| CASE WHEN ` + x.reason + ` <> '' THEN ': ' || ` + x.reason + ` ELSE '' END)
		WHEN ` + x.campaign + ` = 'cancelled' THEN ` + cancelled + ` ELSE ` + x.reason + ` END`
}

// lockedCampaigns is a CTE of the campaigns of the recipients whose ids
// are in the SQL expression ids, locked FOR KEY SHARE. A campaign only
// becomes cancelled or failed in transition, under FOR UPDATE, which this
// lock conflicts with: a concurrent cancel either commits first, and then
// this statement sees the campaign halted (a locked row is read at its
// latest version), or waits for this statement, and then settles the rows
// it left waiting. Either way no row is left waiting on a halted campaign.
// KEY SHARE, not SHARE, so as not to hold up plain updates of the campaign
// (leases, completion), which never halt it.
// noNestLoop keeps the planner from joining a batch (unnest of the
// arrays, which it estimates at ten rows whatever their length) to
// recipients with a nested loop that rescans the batch for every row: 300 ms
// per 1,000-row batch instead of a few, measured with auto_explain under
// bench/capacity.sh.
const noNestLoop = `SET LOCAL enable_nestloop = off`

// batchExec runs one batched statement in a transaction of its own with
// nested loops off (see noNestLoop).
func (s *Store) batchExec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	var tag pgconn.CommandTag
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, noNestLoop); err != nil {
			return err
		}
		var err error
		tag, err = tx.Exec(ctx, sql, args...)
		return err
	})
	return tag, err
}

func lockedCampaigns(rows string) string {
	return `c AS MATERIALIZED (
		SELECT c.id, c.state, c.reason FROM campaigns c
		WHERE c.id IN (SELECT r.campaign_id FROM recipients r WHERE ` + rows + `)
		FOR KEY SHARE OF c)`
}

// RecordOutcomes applies a batch of send results with one statement,
// fenced by owner and claim token. A RETRY_WAIT row provably not taken
// loses its key (the next claim makes a new request); one in doubt keeps it
// and stays in doubt. On a halted campaign a RETRY_WAIT row settles.
func (s *Store) RecordOutcomes(ctx context.Context, updates []herald.RecipientUpdate) error {
	if len(updates) == 0 {
		return nil
	}
	n := len(updates)
	ids, tokens := make([]int64, n), make([]int64, n)
	owners, states, keys, codes, texts := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	doubts := make([]bool, n)
	next, at := make([]*time.Time, n), make([]time.Time, n)
	for i, u := range updates {
		ids[i], tokens[i], owners[i], states[i] = u.ID, u.Token, u.Owner, string(u.State)
		doubts[i], keys[i], codes[i], texts[i] = u.InDoubt, u.MsgKey, u.ResultCode, u.ResultText
		next[i], at[i] = nullTime(u.NextAttempt), u.At
	}
	x := settle{doubt: `(r.in_doubt OR u.in_doubt)`, campaign: `c.state`, reason: `c.reason`}
	settles := `(u.state = 'RETRY_WAIT' AND ` + x.halted() + `)`
	// The key goes only with a RETRY_WAIT provably not taken: once in
	// doubt, a row is only ever sent again as its frozen request.
	dropKey := `(u.state = 'RETRY_WAIT' AND NOT ` + x.doubt + `)`
	err := s.retry(ctx, func() error {
		_, err := s.batchExec(ctx, `WITH u AS (
			SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::boolean[], $6::text[],
				$7::text[], $8::text[], $9::timestamptz[], $10::timestamptz[])
			AS u(id, owner, token, state, in_doubt, msg_key, code, text, next, at)
		), `+lockedCampaigns(`r.id = ANY($1::bigint[])`)+`
		UPDATE recipients r SET
			state = CASE WHEN `+settles+` THEN `+x.state()+` ELSE u.state END,
			msg_key = COALESCE(NULLIF(u.msg_key, ''), r.msg_key),
			result_code = CASE WHEN `+settles+` THEN `+x.code(`u.code`)+` ELSE u.code END,
			result_text = CASE WHEN `+settles+` THEN `+x.text(`u.text`, `NULLIF(u.text, '')`)+` ELSE u.text END,
			next_attempt_at = CASE WHEN `+settles+` THEN NULL ELSE u.next END,
			in_doubt = `+x.doubt+`,
			batch_key = CASE WHEN `+dropKey+` THEN NULL ELSE r.batch_key END,
			sent_at = CASE WHEN `+dropKey+` THEN NULL ELSE r.sent_at END,
			lease_owner = NULL, lease_until = NULL, updated_at = u.at
		FROM u, c
		WHERE r.id = u.id AND r.id = ANY($1::bigint[]) AND c.id = r.campaign_id
		  AND r.state = 'SENDING' AND r.lease_owner = u.owner AND r.claim_token = u.token`,
			ids, owners, tokens, states, doubts, keys, codes, texts, next, at)
		return err
	})
	return translate(err, "record outcomes")
}

// MarkBatches freezes each request and writes its key on its rows, in one
// transaction: all or nothing.
func (s *Store) MarkBatches(ctx context.Context, owner string, reqs []herald.SentRequest) error {
	if len(reqs) == 0 {
		return nil
	}
	rkeys, bodies, firsts, rat := make([]string, len(reqs)), make([]string, len(reqs)), make([]int64, len(reqs)), make([]time.Time, len(reqs))
	var ids, tokens []int64
	var keys []string
	var at []time.Time
	for i, r := range reqs {
		if r.Batch.IdempotencyKey == "" {
			return herald.Invalid("batch", "a request without an idempotency key")
		}
		if len(r.Claims) == 0 {
			return herald.Invalid("batch", "request %s has no recipients", r.Batch.IdempotencyKey)
		}
		body, err := json.Marshal(r.Batch)
		if err != nil {
			return fmt.Errorf("mark batches: %w", err)
		}
		rkeys[i], bodies[i], firsts[i], rat[i] = r.Batch.IdempotencyKey, string(body), r.Claims[0].ID, r.At
		for _, c := range r.Claims {
			ids, tokens = append(ids, c.ID), append(tokens, c.Token)
			keys, at = append(keys, r.Batch.IdempotencyKey), append(at, r.At)
		}
	}
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, noNestLoop); err != nil {
			return err
		}
		// A resend of a frozen request keeps the first body.
		if _, err := tx.Exec(ctx, `INSERT INTO requests (key, campaign_id, body, created_at)
			SELECT u.key, r.campaign_id, u.body, u.at
			FROM unnest($1::text[], $2::bigint[], $3::text[], $4::timestamptz[]) WITH ORDINALITY AS u(key, first, body, at, ord)
			JOIN recipients r ON r.id = u.first
			ORDER BY u.ord
			ON CONFLICT (key) DO NOTHING`, rkeys, firsts, bodies, rat); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE recipients r SET batch_key = u.key, sent_at = u.at
			FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::timestamptz[]) AS u(id, token, key, at)
			WHERE r.id = u.id AND r.id = ANY($1::bigint[]) AND r.state = 'SENDING' AND r.lease_owner = $5 AND r.claim_token = u.token`,
			ids, tokens, keys, at, owner)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != int64(len(ids)) {
			return herald.Conflict("%d of %d recipients are no longer claimed by %s", int64(len(ids))-tag.RowsAffected(), len(ids), owner)
		}
		return nil
	})
	return translate(err, "mark batches")
}

// Requests reads frozen requests by key.
func (s *Store) Requests(ctx context.Context, keys []string) (map[string]herald.SendBatch, error) {
	out := make(map[string]herald.SendBatch, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT key, body FROM requests WHERE key = ANY($1)`, keys)
	if err != nil {
		return nil, translate(err, "requests")
	}
	var key, body string
	_, err = pgx.ForEachRow(rows, []any{&key, &body}, func() error {
		var b herald.SendBatch
		if err := json.Unmarshal([]byte(body), &b); err != nil {
			return fmt.Errorf("request %s: %w", key, err)
		}
		out[key] = b
		return nil
	})
	if err != nil {
		return nil, translate(err, "requests")
	}
	return out, nil
}

// ReleaseRecipients gives back claimed rows that were not handed to the
// provider in this claim: to PENDING, the attempt uncounted, or, in doubt,
// to RETRY_WAIT due at once with the resend uncounted. On a halted
// campaign they settle instead.
func (s *Store) ReleaseRecipients(ctx context.Context, owner string, claims []herald.Claim, at time.Time) error {
	if len(claims) == 0 {
		return nil
	}
	ids, tokens := make([]int64, len(claims)), make([]int64, len(claims))
	for i, c := range claims {
		ids[i], tokens[i] = c.ID, c.Token
	}
	x := settle{doubt: `r.in_doubt`, campaign: `c.state`, reason: `c.reason`}
	err := s.retry(ctx, func() error {
		_, err := s.batchExec(ctx, `WITH u AS (
			SELECT * FROM unnest($1::bigint[], $2::bigint[]) AS u(id, token)
		), `+lockedCampaigns(`r.id = ANY($1::bigint[])`)+`
		UPDATE recipients r SET
			state = CASE WHEN `+x.halted()+` THEN `+x.state()+`
				WHEN r.in_doubt THEN 'RETRY_WAIT' ELSE 'PENDING' END,
			result_code = CASE WHEN `+x.halted()+` THEN `+x.code(`r.result_code`)+` ELSE r.result_code END,
			result_text = CASE WHEN `+x.halted()+` THEN `+x.text(`r.result_text`, `NULL`)+` ELSE r.result_text END,
			attempts = r.attempts - CASE WHEN r.in_doubt THEN 0 ELSE 1 END,
			resends = r.resends - CASE WHEN r.in_doubt THEN 1 ELSE 0 END,
			next_attempt_at = CASE WHEN r.in_doubt AND NOT `+x.halted()+` THEN $3 ELSE r.next_attempt_at END,
			batch_key = CASE WHEN r.in_doubt THEN r.batch_key END,
			sent_at = CASE WHEN r.in_doubt THEN r.sent_at END,
			lease_owner = NULL, lease_until = NULL, updated_at = $3
		FROM u, c
		WHERE r.id = u.id AND r.id = ANY($1::bigint[]) AND c.id = r.campaign_id
		  AND r.state = 'SENDING' AND r.lease_owner = $4 AND r.claim_token = u.token`,
			ids, tokens, at, owner)
		return err
	})
	return translate(err, "release recipients")
}

// Heartbeat records that owner is alive and forgets owners silent for an
// hour.
func (s *Store) Heartbeat(ctx context.Context, owner string, now time.Time) error {
	_, err := s.pool.Exec(ctx, `WITH gone AS (
			DELETE FROM processes WHERE heartbeat_at < $2::timestamptz - interval '1 hour' AND owner <> $1)
		INSERT INTO processes (owner, heartbeat_at) VALUES ($1, $2)
		ON CONFLICT (owner) DO UPDATE SET heartbeat_at = excluded.heartbeat_at`, owner, now)
	return translate(err, "heartbeat")
}

// RequeueAbandoned hands back SENDING rows of owners without a fresh
// heartbeat. A row with a key may have been sent: it waits in doubt, due
// at once, for its campaign's claimer to resend the frozen request. On a
// halted campaign (no claimer will come) the row settles instead.
func (s *Store) RequeueAbandoned(ctx context.Context, now, deadBefore time.Time, limit int) (int, error) {
	doubt := `(r.in_doubt OR r.batch_key IS NOT NULL)`
	x := settle{doubt: doubt, campaign: `c.state`, reason: `c.reason`}
	var n int64
	err := s.retry(ctx, func() error {
		tag, err := s.pool.Exec(ctx, `WITH picked AS MATERIALIZED (
			SELECT r.id FROM recipients r
			WHERE r.state = 'SENDING'
			  AND NOT EXISTS (SELECT 1 FROM processes p WHERE p.owner = r.lease_owner AND p.heartbeat_at >= $2)
			ORDER BY r.id LIMIT $3
			FOR UPDATE SKIP LOCKED
		), `+lockedCampaigns(`r.id IN (SELECT id FROM picked)`)+`
		UPDATE recipients r SET
			state = CASE WHEN `+x.halted()+` THEN `+x.state()+`
				WHEN r.batch_key IS NULL THEN 'PENDING' ELSE 'RETRY_WAIT' END,
			result_code = CASE WHEN `+x.halted()+` THEN `+x.code(`r.result_code`)+` ELSE r.result_code END,
			result_text = CASE WHEN `+x.halted()+` THEN `+x.text(`r.result_text`, `NULL`)+` ELSE r.result_text END,
			attempts = r.attempts - CASE WHEN r.batch_key IS NULL THEN 1 ELSE 0 END,
			in_doubt = `+doubt+`,
			next_attempt_at = CASE WHEN r.batch_key IS NULL OR `+x.halted()+` THEN r.next_attempt_at ELSE $1 END,
			claim_token = r.claim_token + 1,
			lease_owner = NULL, lease_until = NULL, updated_at = $1
		FROM picked, c
		WHERE r.id = picked.id AND c.id = r.campaign_id`, now, deadBefore, limit)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, translate(err, "requeue abandoned")
	}
	return int(n), nil
}

// ExpireAccepted gives up on the reports of long accepted rows.
func (s *Store) ExpireAccepted(ctx context.Context, before, now time.Time, limit int) (int, error) {
	tag, err := s.pool.Exec(ctx, `WITH picked AS (
			SELECT id FROM recipients WHERE state = 'ACCEPTED' AND updated_at < $1
			ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED)
		UPDATE recipients r SET state = 'UNKNOWN', result_code = '`+herald.CodeNoReport+`', result_text = $4, updated_at = $2
		FROM picked WHERE r.id = picked.id`, before, now, limit, herald.NoReportText)
	if err != nil {
		return 0, translate(err, "expire accepted")
	}
	return int(tag.RowsAffected()), nil
}

// AcceptedWithoutReport lists overdue accepted rows.
func (s *Store) AcceptedWithoutReport(ctx context.Context, before time.Time, afterID int64, limit int) ([]herald.Recipient, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+recipientColumns+` FROM recipients
		WHERE state = 'ACCEPTED' AND msg_key IS NOT NULL AND msg_key <> '' AND updated_at < $1 AND id > $2
		ORDER BY id LIMIT $3`, before, afterID, limit)
	if err != nil {
		return nil, translate(err, "accepted without report")
	}
	return collectRecipients(rows)
}

// ListRecipients pages through a campaign's recipients in id order.
func (s *Store) ListRecipients(ctx context.Context, campaignID, afterID int64, limit int) ([]herald.Recipient, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+recipientColumns+` FROM recipients
		WHERE campaign_id = $1 AND id > $2 ORDER BY id LIMIT $3`, campaignID, afterID, limit)
	if err != nil {
		return nil, translate(err, fmt.Sprintf("recipients of campaign %d", campaignID))
	}
	return collectRecipients(rows)
}

func collectRecipients(rows pgx.Rows) ([]herald.Recipient, error) {
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (herald.Recipient, error) {
		var r herald.Recipient
		var msgID, owner, batchKey, msgKey *string
		var leaseUntil, next, sentAt *time.Time
		err := row.Scan(&r.ID, &r.CampaignID, &r.MemberID, &r.Phone, &msgID, &r.State, &r.Attempts, &owner,
			&leaseUntil, &next, &r.ClaimToken, &r.Resends, &r.InDoubt, &batchKey, &sentAt, &msgKey, &r.ResultCode,
			&r.ResultText, &r.Channel, &r.CreatedAt, &r.UpdatedAt)
		r.MessageID, r.LeaseOwner, r.BatchKey, r.MsgKey = deref(msgID), deref(owner), deref(batchKey), deref(msgKey)
		r.LeaseUntil, r.NextAttempt, r.SentAt = fromNull(leaseUntil), fromNull(next), fromNull(sentAt)
		r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
		return r, err
	})
	if out == nil {
		out = []herald.Recipient{}
	}
	return out, translate(err, "scan recipients")
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
