package http

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	herald "github.com/heraldhq/herald"
)

// Paging of GET /v1/campaigns/{id}/recipients.
const (
	defaultRecipientPage = 100
	maxRecipientPage     = 1000
)

// recipientPage is the body of GET /v1/campaigns/{id}/recipients. Next is
// the after= value of the following page, 0 when this page is the last.
type recipientPage struct {
	Recipients []herald.Recipient `json:"recipients"`
	Next       int64              `json:"next,omitempty"`
}

// listRecipients serves one page of a campaign's recipients, filtered by
// state, code, channel, phone and member.
func (s *Server) listRecipients(w http.ResponseWriter, r *http.Request) {
	f, err := recipientFilter(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	rs, err := s.store.FindRecipients(r.Context(), f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(rs) == 0 {
		// 404 rather than an empty page for a wrong id; asked only then,
		// since reading a campaign counts its recipients.
		if _, err := s.store.GetCampaign(r.Context(), f.CampaignID); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	page := recipientPage{Recipients: nonNilSlice(rs)}
	if len(rs) == f.Limit {
		page.Next = rs[len(rs)-1].ID
	}
	writeJSON(w, http.StatusOK, page)
}

// recipientFilter reads the query of GET …/recipients: state (repeated or
// comma-separated), code, channel (AT, SMS, LMS, MMS), phone (any way a
// member's phone may be written), member, after and limit.
func recipientFilter(r *http.Request) (herald.RecipientFilter, error) {
	var f herald.RecipientFilter
	var err error
	if f.CampaignID, err = campaignID(r); err != nil {
		return f, err
	}
	q := r.URL.Query()
	for _, list := range q["state"] {
		for st := range strings.SplitSeq(list, ",") {
			if st = strings.ToUpper(strings.TrimSpace(st)); st != "" {
				f.States = append(f.States, herald.RecipientState(st))
			}
		}
	}
	f.Code, f.MemberID = strings.TrimSpace(q.Get("code")), q.Get("member")
	if c := q.Get("channel"); c != "" {
		if f.Channel, err = herald.ParseChannel(c); err != nil {
			return f, err
		}
	}
	if p := q.Get("phone"); p != "" {
		if f.Phone, err = herald.NormalizePhone(p); err != nil {
			return f, herald.Invalid("phone", "want a Korean mobile number such as 010-1234-5678, not %q", p)
		}
	}
	if f.AfterID, err = queryInt(q.Get("after"), "after", 0, 0, 1<<62); err != nil {
		return f, err
	}
	n, err := queryInt(q.Get("limit"), "limit", defaultRecipientPage, 1, maxRecipientPage)
	f.Limit = int(n)
	if err != nil {
		return f, err
	}
	return f, f.Validate()
}

// getRecipient serves one recipient with the message as sent and its
// history.
func (s *Server) getRecipient(w http.ResponseWriter, r *http.Request) {
	id, err := campaignID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	rid, err := strconv.ParseInt(r.PathValue("rid"), 10, 64)
	if err != nil || rid <= 0 {
		s.writeError(w, r, herald.Invalid("rid", "recipient ids are positive integers, not %q", r.PathValue("rid")))
		return
	}
	d, err := s.recipientDetail(r, id, rid)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (s *Server) recipientDetail(r *http.Request, campaignID, id int64) (herald.RecipientDetail, error) {
	var d herald.RecipientDetail
	var err error
	if d.Recipient, err = s.store.GetRecipient(r.Context(), campaignID, id); err != nil {
		return d, err
	}
	if key := d.Recipient.BatchKey; key != "" {
		reqs, err := s.store.Requests(r.Context(), []string{key})
		if err != nil {
			return d, err
		}
		if m, ok := herald.MessageFor(reqs[key], d.Recipient.MessageID); ok {
			d.Message = &m
		}
	}
	reports, err := s.store.RecipientReports(r.Context(), id)
	if err != nil {
		return d, err
	}
	d.History = herald.RecipientHistory(d.Recipient, reports)
	return d, nil
}

// exportColumns are the columns of GET …/recipients.csv.
var exportColumns = []string{"id", "member_id", "phone", "state", "channel", "result_code", "result_text",
	"msg_key", "message_id", "message", "fallback", "attempts", "created_at", "sent_at", "updated_at"}

// exportRecipients streams every recipient of a campaign as CSV, a page at
// a time by id, so memory stays the same for any campaign size. ?bom=1
// starts it with a UTF-8 byte order mark (Excel then reads it as UTF-8)
// and guards cells that Excel would run as formulas.
func (s *Server) exportRecipients(w http.ResponseWriter, r *http.Request) {
	id, err := campaignID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	excel := false
	switch v := r.URL.Query().Get("bom"); v {
	case "", "0", "false":
	case "1", "true":
		excel = true
	default:
		s.writeError(w, r, herald.Invalid("bom", "want 1 or 0, not %q", v))
		return
	}
	c, err := s.store.GetCampaign(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="campaign-%d-recipients.csv"`, id))
	w.Header().Set("X-Total-Count", strconv.Itoa(c.Total))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if err := s.writeCSV(w, r, id, excel); err != nil {
		// The status is out already: end the response unfinished, so the
		// client sees a broken transfer, never a short file that looks whole.
		level := slog.LevelError
		if r.Context().Err() != nil {
			level = slog.LevelDebug // the client went away
		}
		s.log.LogAttrs(r.Context(), level, "export failed", slog.Int64("campaign", id), slog.String("error", err.Error()))
		panic(http.ErrAbortHandler)
	}
}

func (s *Server) writeCSV(w http.ResponseWriter, r *http.Request, campaignID int64, excel bool) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	if excel {
		bw.WriteString("\uFEFF")
	}
	cw := csv.NewWriter(bw)
	if err := cw.Write(exportColumns); err != nil {
		return err
	}
	rc := http.NewResponseController(w)
	// One FindRecipients and one Requests call per page.
	f := herald.RecipientFilter{CampaignID: campaignID, Limit: s.exportPage}
	for {
		rs, err := s.store.FindRecipients(r.Context(), f)
		if err != nil {
			return err
		}
		texts, err := s.sentTexts(r, rs)
		if err != nil {
			return err
		}
		for _, rec := range rs {
			if err := cw.Write(exportRow(rec, texts[rec.MessageID], excel)); err != nil {
				return err
			}
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return err
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		if len(rs) < f.Limit {
			return nil
		}
		f.AfterID = rs[len(rs)-1].ID
	}
}

// sentTexts reads the frozen requests of a page of rows and returns each
// row's part of them by message id.
func (s *Server) sentTexts(r *http.Request, rs []herald.Recipient) (map[string]herald.SentMessage, error) {
	seen := map[string]bool{}
	var keys []string
	for _, rec := range rs {
		if rec.BatchKey != "" && !seen[rec.BatchKey] {
			seen[rec.BatchKey] = true
			keys = append(keys, rec.BatchKey)
		}
	}
	out := make(map[string]herald.SentMessage, len(rs))
	if len(keys) == 0 {
		return out, nil
	}
	reqs, err := s.store.Requests(r.Context(), keys)
	if err != nil {
		return nil, err
	}
	for _, rec := range rs {
		if b, ok := reqs[rec.BatchKey]; ok {
			if m, ok := herald.MessageFor(b, rec.MessageID); ok {
				out[rec.MessageID] = m
			}
		}
	}
	return out, nil
}

func exportRow(r herald.Recipient, m herald.SentMessage, excel bool) []string {
	fallback := ""
	if m.Fallback != nil {
		fallback = m.Fallback.Kind
	}
	row := []string{strconv.FormatInt(r.ID, 10), r.MemberID, r.Phone, string(r.State), herald.ChannelName(r.Channel),
		r.ResultCode, r.ResultText, r.MsgKey, r.MessageID, m.Text, fallback, strconv.Itoa(r.Attempts),
		csvTime(r.CreatedAt), csvTime(r.SentAt), csvTime(r.UpdatedAt)}
	if excel {
		for i, c := range row {
			row[i] = defuseFormula(c)
		}
	}
	return row
}

func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// defuseFormula keeps Excel from running a cell as a formula (CSV
// injection): a cell starting with = + - @ or a tab or carriage return
// gets a leading apostrophe, which Excel shows as text.
func defuseFormula(c string) string {
	if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
		return "'" + c
	}
	return c
}
