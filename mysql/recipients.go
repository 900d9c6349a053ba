package mysql

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/sqlrows"
)

const recipientColumns = `id, campaign_id, member_id, phone, message_id, state, attempts, lease_owner, lease_until,
	next_attempt_at, claim_token, resends, in_doubt, batch_key, sent_at, msg_key, result_code, result_text, channel,
	created_at, updated_at`

func int64Args(ids []int64) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}

// ClaimRecipients leases up to p.Limit sendable recipients of a running
// campaign, in one transaction: SELECT … FOR UPDATE SKIP LOCKED picks the
// rows (concurrent claimers take disjoint ones), an UPDATE leases them and
// a SELECT reads them back (MySQL has no UPDATE … RETURNING). Due
// RETRY_WAIT rows and PENDING rows are picked by two index range scans in
// id order (campaign_id, state, id), so that a claim never sorts, nor
// locks, more than it may take. A row with a batch key is in doubt: it
// counts a resend of its frozen request, not an attempt, and keeps its key.
func (s *Store) ClaimRecipients(ctx context.Context, p herald.ClaimParams) ([]herald.Recipient, error) {
	if p.Limit <= 0 {
		return []herald.Recipient{}, nil
	}
	var out []herald.Recipient
	err := s.tx(ctx, func(tx *sql.Tx) error {
		out = []herald.Recipient{}
		var state string
		err := tx.QueryRowContext(ctx, `SELECT state FROM campaigns WHERE id = ?`, p.CampaignID).Scan(&state)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && state != string(herald.CampaignRunning)) {
			return nil
		}
		if err != nil {
			return err
		}
		retry, err := queryIDs(ctx, tx, `SELECT id FROM recipients WHERE campaign_id = ? AND state = 'RETRY_WAIT' AND next_attempt_at <= ?
			ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED`, p.CampaignID, p.Now.UTC(), p.Limit)
		if err != nil {
			return err
		}
		pending, err := queryIDs(ctx, tx, `SELECT id FROM recipients WHERE campaign_id = ? AND state = 'PENDING'
			ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED`, p.CampaignID, p.Limit)
		if err != nil {
			return err
		}
		ids := append(retry, pending...)
		slices.Sort(ids)
		ids = ids[:min(len(ids), p.Limit)]
		if len(ids) == 0 {
			return nil
		}
		// Assigned left to right: no expression reads a column assigned
		// before it.
		args := append([]any{p.Owner, p.LeaseUntil.UTC(), s.instance, p.Now.UTC()}, int64Args(ids)...)
		if _, err := tx.ExecContext(ctx, `UPDATE recipients SET state = 'SENDING', lease_owner = ?, lease_until = ?,
				claim_token = claim_token + 1,
				attempts = attempts + CASE WHEN batch_key IS NULL THEN 1 ELSE 0 END,
				resends = resends + CASE WHEN batch_key IS NULL THEN 0 ELSE 1 END,
				message_id = COALESCE(message_id, CONCAT('h', ?, '-', campaign_id, '-', id)),
				updated_at = ?
			WHERE id IN (`+sqlrows.Placeholders(len(ids))+`)`, args...); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+recipientColumns+` FROM recipients WHERE id IN (`+sqlrows.Placeholders(len(ids))+`) ORDER BY id`,
			int64Args(ids)...)
		if err != nil {
			return err
		}
		out, err = sqlrows.All(rows, scanRecipient)
		return err
	})
	if err != nil {
		return nil, translate(err, "claim recipients")
	}
	return out, nil
}

func queryIDs(ctx context.Context, tx *sql.Tx, q string, args ...any) ([]int64, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// campaignRow is what a settling write needs of a row's campaign.
type campaignRow struct {
	state  herald.CampaignState
	reason string
}

func (c campaignRow) halted() bool {
	return c.state == herald.CampaignCancelled || c.state == herald.CampaignFailed
}

// settle is what a row that would wait for another send becomes when its
// campaign is no longer runnable (cancelled or failed): UNKNOWN with code
// IN_DOUBT when a request of it may have been taken (with the explanation
// given, or one of the campaign's), else CANCELLED with the code and text
// given, or FAILED with code CAMPAIGN_FAILED and the campaign's reason.
// It is postgres's settle, in Go.
func settle(c campaignRow, doubt bool, code, text, given string) (herald.RecipientState, string, string) {
	switch {
	case doubt:
		if given == "" {
			given = "campaign " + string(c.state) + " while a send was in doubt"
			if c.reason != "" {
				given += ": " + c.reason
			}
		}
		return herald.RecipientUnknown, herald.CodeInDoubt, given
	case c.state == herald.CampaignCancelled:
		return herald.RecipientCancelled, code, text
	default:
		return herald.RecipientFailed, herald.CodeCampaignFailed, c.reason
	}
}

// locked reads, in a transaction, the rows with the given ids under an
// exclusive row lock, and their campaigns under a shared one, taken
// first. A campaign only becomes cancelled or failed in transition, under
// FOR UPDATE, which the shared lock conflicts with: a concurrent cancel
// either commits first, and then this transaction sees the campaign
// halted, or waits for it, and then settles the rows it left waiting.
// Either way no row is left waiting on a halted campaign. With skipLocked,
// rows another transaction holds are left out; extra is an SQL condition
// on the rows (alias r) with its arguments.
func locked(ctx context.Context, tx *sql.Tx, ids []int64, skipLocked bool, extra string, extraArgs ...any) (
	[]herald.Recipient, map[int64]campaignRow, error) {
	campaigns := map[int64]campaignRow{}
	rows, err := tx.QueryContext(ctx, `SELECT id, state, reason FROM campaigns
		WHERE id IN (SELECT campaign_id FROM recipients WHERE id IN (`+sqlrows.Placeholders(len(ids))+`))
		ORDER BY id LOCK IN SHARE MODE`, int64Args(ids)...)
	if err != nil {
		return nil, nil, err
	}
	for rows.Next() {
		var id int64
		var c campaignRow
		if err := rows.Scan(&id, &c.state, &c.reason); err != nil {
			rows.Close()
			return nil, nil, err
		}
		campaigns[id] = c
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	q := `SELECT ` + recipientColumns + ` FROM recipients r WHERE id IN (` + sqlrows.Placeholders(len(ids)) + `)`
	if extra != "" {
		q += ` AND ` + extra
	}
	q += ` ORDER BY id FOR UPDATE`
	if skipLocked {
		q += ` SKIP LOCKED`
	}
	rows, err = tx.QueryContext(ctx, q, append(int64Args(ids), extraArgs...)...)
	if err != nil {
		return nil, nil, err
	}
	rs, err := sqlrows.All(rows, scanRecipient)
	return rs, campaigns, err
}

// writeRows writes each row's new values (the lease ended) with one
// UPDATE joined to a derived table of constants: every assignment reads
// only its own column of the derived table, so MySQL's order of
// assignments cannot matter.
func writeRows(ctx context.Context, tx *sql.Tx, rs []herald.Recipient) error {
	if len(rs) == 0 {
		return nil
	}
	cols := []string{"id", "state", "attempts", "resends", "token", "in_doubt", "batch_key", "sent_at", "msg_key",
		"code", "text", "next", "at"}
	args := make([]any, 0, len(cols)*len(rs))
	for _, r := range rs {
		args = append(args, r.ID, string(r.State), r.Attempts, r.Resends, r.ClaimToken, r.InDoubt, nullString(r.BatchKey),
			nullTime(r.SentAt), nullString(r.MsgKey), r.ResultCode, r.ResultText, nullTime(r.NextAttempt), r.UpdatedAt.UTC())
	}
	_, err := tx.ExecContext(ctx, `UPDATE recipients r JOIN `+valuesTable(cols, len(rs))+` u ON r.id = u.id SET
		r.state = u.state, r.attempts = u.attempts, r.resends = u.resends, r.claim_token = u.token,
		r.in_doubt = u.in_doubt, r.batch_key = u.batch_key, r.sent_at = u.sent_at, r.msg_key = u.msg_key,
		r.result_code = u.code, r.result_text = u.text, r.next_attempt_at = u.next,
		r.lease_owner = NULL, r.lease_until = NULL, r.updated_at = u.at`, args...)
	return err
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// RecordOutcomes applies a batch of send results in one transaction (three
// statements: lock the campaigns, lock and read the rows, write them all),
// fenced by owner and claim token. A RETRY_WAIT row provably not taken
// loses its key (the next claim makes a new request); one in doubt keeps it
// and stays in doubt. On a halted campaign a RETRY_WAIT row settles.
func (s *Store) RecordOutcomes(ctx context.Context, updates []herald.RecipientUpdate) error {
	if len(updates) == 0 {
		return nil
	}
	ids := make([]int64, len(updates))
	for i, u := range updates {
		ids[i] = u.ID
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		rs, campaigns, err := locked(ctx, tx, ids, false, `r.state = 'SENDING'`)
		if err != nil {
			return err
		}
		byID := make(map[int64]herald.Recipient, len(rs))
		for _, r := range rs {
			byID[r.ID] = r
		}
		var out []herald.Recipient
		for _, u := range updates {
			r, ok := byID[u.ID]
			if !ok || r.LeaseOwner != u.Owner || r.ClaimToken != u.Token {
				continue // a stale writer
			}
			delete(byID, u.ID) // the first update of a row wins, as one UPDATE … FROM does
			c := campaigns[r.CampaignID]
			doubt := r.InDoubt || u.InDoubt
			state, code, text := u.State, u.ResultCode, u.ResultText
			next := u.NextAttempt
			if u.State == herald.RecipientRetryWait && c.halted() {
				state, code, text = settle(c, doubt, u.ResultCode, u.ResultText, u.ResultText)
				next = time.Time{}
			}
			if u.MsgKey != "" {
				r.MsgKey = u.MsgKey
			}
			// The key goes only with a RETRY_WAIT provably not taken: once
			// in doubt, a row is only ever sent again as its frozen request.
			if u.State == herald.RecipientRetryWait && !doubt {
				r.BatchKey, r.SentAt = "", time.Time{}
			}
			r.State, r.ResultCode, r.ResultText, r.NextAttempt, r.InDoubt, r.UpdatedAt = state, code, text, next, doubt, u.At
			out = append(out, r)
		}
		return writeRows(ctx, tx, out)
	})
	return translate(err, "record outcomes")
}

// MarkBatches freezes each request and writes its key on its rows, in one
// transaction of three statements: lock and check the rows, insert the
// requests, write the keys. All or nothing.
func (s *Store) MarkBatches(ctx context.Context, owner string, reqs []herald.SentRequest) error {
	if len(reqs) == 0 {
		return nil
	}
	bodies := make([]string, len(reqs))
	var ids []int64
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
		bodies[i] = string(body)
		for _, c := range r.Claims {
			ids = append(ids, c.ID)
		}
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT id, campaign_id, claim_token FROM recipients
			WHERE id IN (`+sqlrows.Placeholders(len(ids))+`) AND state = 'SENDING' AND lease_owner = ? FOR UPDATE`,
			append(int64Args(ids), owner)...)
		if err != nil {
			return err
		}
		type claimed struct{ campaign, token int64 }
		held := map[int64]claimed{}
		for rows.Next() {
			var id int64
			var c claimed
			if err := rows.Scan(&id, &c.campaign, &c.token); err != nil {
				rows.Close()
				return err
			}
			held[id] = c
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		lost := 0
		reqArgs := make([]any, 0, 4*len(reqs))
		markArgs := make([]any, 0, 3*len(ids))
		for i, r := range reqs {
			for _, c := range r.Claims {
				if h, ok := held[c.ID]; !ok || h.token != c.Token {
					lost++
				}
				markArgs = append(markArgs, c.ID, r.Batch.IdempotencyKey, r.At.UTC())
			}
			reqArgs = append(reqArgs, r.Batch.IdempotencyKey, held[r.Claims[0].ID].campaign, bodies[i], r.At.UTC())
		}
		if lost > 0 {
			return herald.Conflict("%d of %d recipients are no longer claimed by %s", lost, len(ids), owner)
		}
		// A resend of a frozen request keeps the first body.
		if _, err := tx.ExecContext(ctx, "INSERT INTO requests (`key`, campaign_id, body, created_at) VALUES "+
			strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?), ", len(reqs)), ", ")+
			" ON DUPLICATE KEY UPDATE `key` = `key`", reqArgs...); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE recipients r JOIN `+valuesTable([]string{"id", "k", "at"}, len(ids))+` u
			ON r.id = u.id SET r.batch_key = u.k, r.sent_at = u.at`, markArgs...)
		return err
	})
	return translate(err, "mark batches")
}

// Requests reads frozen requests by key.
func (s *Store) Requests(ctx context.Context, keys []string) (map[string]herald.SendBatch, error) {
	out := make(map[string]herald.SendBatch, len(keys))
	for start := 0; start < len(keys); start += idChunk {
		chunk := keys[start:min(start+idChunk, len(keys))]
		args := make([]any, len(chunk))
		for i, k := range chunk {
			args[i] = k
		}
		rows, err := s.db.QueryContext(ctx, "SELECT `key`, body FROM requests WHERE `key` IN ("+sqlrows.Placeholders(len(chunk))+")", args...)
		if err != nil {
			return nil, translate(err, "requests")
		}
		for rows.Next() {
			var key, body string
			if err := rows.Scan(&key, &body); err != nil {
				rows.Close()
				return nil, translate(err, "requests")
			}
			var b herald.SendBatch
			if err := json.Unmarshal([]byte(body), &b); err != nil {
				rows.Close()
				return nil, fmt.Errorf("request %s: %w", key, err)
			}
			out[key] = b
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, translate(err, "requests")
		}
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
	ids := make([]int64, len(claims))
	tokens := make(map[int64]int64, len(claims))
	for i, c := range claims {
		ids[i] = c.ID
		tokens[c.ID] = c.Token
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		rs, campaigns, err := locked(ctx, tx, ids, false, `r.state = 'SENDING' AND r.lease_owner = ?`, owner)
		if err != nil {
			return err
		}
		out := rs[:0]
		for _, r := range rs {
			if tokens[r.ID] != r.ClaimToken {
				continue
			}
			c := campaigns[r.CampaignID]
			doubt := r.InDoubt
			switch {
			case c.halted():
				r.State, r.ResultCode, r.ResultText = settle(c, doubt, r.ResultCode, r.ResultText, "")
			case doubt:
				r.State, r.NextAttempt = herald.RecipientRetryWait, at
			default:
				r.State = herald.RecipientPending
			}
			if doubt {
				r.Resends--
			} else {
				r.Attempts--
				r.BatchKey, r.SentAt = "", time.Time{}
			}
			r.UpdatedAt = at
			out = append(out, r)
		}
		return writeRows(ctx, tx, out)
	})
	return translate(err, "release recipients")
}

// Heartbeat records that owner is alive and forgets owners silent for an
// hour.
func (s *Store) Heartbeat(ctx context.Context, owner string, now time.Time) error {
	err := s.retry(ctx, func() error {
		if _, err := s.db.ExecContext(ctx, `DELETE FROM processes WHERE heartbeat_at < ? AND owner <> ?`,
			now.Add(-time.Hour).UTC(), owner); err != nil {
			return err
		}
		_, err := s.db.ExecContext(ctx, `INSERT INTO processes (owner, heartbeat_at) VALUES (?, ?)
			ON DUPLICATE KEY UPDATE heartbeat_at = VALUES(heartbeat_at)`, owner, now.UTC())
		return err
	})
	return translate(err, "heartbeat")
}

// RequeueAbandoned hands back SENDING rows of owners without a fresh
// heartbeat. A row with a key may have been sent: it waits in doubt, due
// at once, for its campaign's claimer to resend the frozen request. On a
// halted campaign (no claimer will come) the row settles instead. The
// candidates are read without locks, then their campaigns locked (shared,
// as every settling write takes them: campaign before rows) and the rows
// locked with SKIP LOCKED, the condition checked again.
func (s *Store) RequeueAbandoned(ctx context.Context, now, deadBefore time.Time, limit int) (int, error) {
	const abandoned = `r.state = 'SENDING' AND NOT EXISTS (SELECT 1 FROM processes p
		WHERE p.owner = r.lease_owner AND p.heartbeat_at >= ?)`
	n := 0
	err := s.tx(ctx, func(tx *sql.Tx) error {
		n = 0
		ids, err := queryIDs(ctx, tx, `SELECT r.id FROM recipients r WHERE `+abandoned+` ORDER BY r.id LIMIT ?`,
			deadBefore.UTC(), limit)
		if err != nil || len(ids) == 0 {
			return err
		}
		rs, campaigns, err := locked(ctx, tx, ids, true, abandoned, deadBefore.UTC())
		if err != nil {
			return err
		}
		for i, r := range rs {
			c := campaigns[r.CampaignID]
			keyed := r.BatchKey != ""
			doubt := r.InDoubt || keyed
			switch {
			case c.halted():
				r.State, r.ResultCode, r.ResultText = settle(c, doubt, r.ResultCode, r.ResultText, "")
			case keyed:
				r.State, r.NextAttempt = herald.RecipientRetryWait, now
			default:
				r.State = herald.RecipientPending
			}
			if !keyed {
				r.Attempts--
			}
			r.InDoubt, r.ClaimToken, r.UpdatedAt = doubt, r.ClaimToken+1, now
			rs[i] = r
		}
		n = len(rs)
		return writeRows(ctx, tx, rs)
	})
	if err != nil {
		return 0, translate(err, "requeue abandoned")
	}
	return n, nil
}

// ExpireAccepted gives up on the reports of long accepted rows.
func (s *Store) ExpireAccepted(ctx context.Context, before, now time.Time, limit int) (int, error) {
	n := 0
	err := s.tx(ctx, func(tx *sql.Tx) error {
		ids, err := queryIDs(ctx, tx, `SELECT id FROM recipients WHERE state = 'ACCEPTED' AND updated_at < ?
			ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED`, before.UTC(), limit)
		if err != nil || len(ids) == 0 {
			n = 0
			return err
		}
		n = len(ids)
		_, err = tx.ExecContext(ctx, `UPDATE recipients SET state = 'UNKNOWN', result_code = ?, result_text = ?, updated_at = ?
			WHERE id IN (`+sqlrows.Placeholders(len(ids))+`)`, append([]any{herald.CodeNoReport, herald.NoReportText, now.UTC()}, int64Args(ids)...)...)
		return err
	})
	if err != nil {
		return 0, translate(err, "expire accepted")
	}
	return n, nil
}

// AcceptedWithoutReport lists overdue accepted rows.
func (s *Store) AcceptedWithoutReport(ctx context.Context, before time.Time, afterID int64, limit int) ([]herald.Recipient, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+recipientColumns+` FROM recipients
		WHERE state = 'ACCEPTED' AND msg_key IS NOT NULL AND msg_key <> '' AND updated_at < ? AND id > ?
		ORDER BY id LIMIT ?`, before.UTC(), afterID, limit)
	if err != nil {
		return nil, translate(err, "accepted without report")
	}
	out, err := sqlrows.All(rows, scanRecipient)
	return out, translate(err, "accepted without report")
}

// scanRecipient reads one row of recipientColumns.
func scanRecipient(row scanner) (herald.Recipient, error) {
	var r herald.Recipient
	var msgID, owner, batchKey, msgKey sql.NullString
	var leaseUntil, next, sentAt sql.NullTime
	if err := row.Scan(&r.ID, &r.CampaignID, &r.MemberID, &r.Phone, &msgID, &r.State, &r.Attempts, &owner,
		&leaseUntil, &next, &r.ClaimToken, &r.Resends, &r.InDoubt, &batchKey, &sentAt, &msgKey, &r.ResultCode,
		&r.ResultText, &r.Channel, &r.CreatedAt, &r.UpdatedAt); err != nil {
		return herald.Recipient{}, fmt.Errorf("scan recipient: %w", err)
	}
	r.MessageID, r.LeaseOwner, r.BatchKey, r.MsgKey = msgID.String, owner.String, batchKey.String, msgKey.String
	r.LeaseUntil, r.NextAttempt, r.SentAt = fromNull(leaseUntil), fromNull(next), fromNull(sentAt)
	r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	return r, nil
}
