package http

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/template"
)

// messageRequest is the body of POST /v1/messages; the idempotency key
// travels in the Idempotency-Key header.
type messageRequest struct {
	TemplateCode string            `json:"templateCode"`
	MemberID     string            `json:"memberId,omitempty"`
	Phone        string            `json:"phone,omitempty"`
	Variables    map[string]string `json:"variables,omitempty"`
}

// IdempotencyKeyHeader names the caller's key of POST /v1/messages.
const IdempotencyKeyHeader = "Idempotency-Key"

// createMessage answers POST /v1/messages: one AlimTalk now, through the
// outbox of every campaign, ahead of campaigns on its sender key. The same
// Idempotency-Key again returns the first message (200, Idempotent-Replayed:
// true) and never makes a second one; with another request it is 409.
func (s *Server) createMessage(w http.ResponseWriter, r *http.Request) {
	var req messageRequest
	if err := decodeJSON(w, r, maxJSONBytes, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	m := herald.Message{IdempotencyKey: r.Header.Get(IdempotencyKeyHeader), TemplateCode: req.TemplateCode,
		MemberID: req.MemberID, Phone: req.Phone, Variables: req.Variables, CreatedBy: TokenFingerprint(r.Context())}
	if err := m.Validate(); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.checkMessage(r.Context(), m); err != nil {
		s.writeError(w, r, err)
		return
	}
	msg, created, err := s.store.CreateMessage(r.Context(), m, s.now().UTC())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", fmt.Sprintf("/v1/messages/%d", msg.ID))
	if !created {
		w.Header().Set("Idempotent-Replayed", "true")
		writeJSON(w, http.StatusOK, msg)
		return
	}
	writeJSON(w, http.StatusAccepted, msg)
}

// checkMessage refuses now what could not be sent: a template that is not
// approved, a member who is unknown or withdrew, a text that does not
// render (the dispatcher checks again when it sends).
func (s *Server) checkMessage(ctx context.Context, m herald.Message) error {
	t, err := s.store.GetTemplate(ctx, m.TemplateCode)
	if errors.Is(err, herald.ErrNotFound) {
		return herald.Invalid("templateCode", "there is no template %q", m.TemplateCode)
	}
	if err != nil {
		return err
	}
	if t.Status != herald.TemplateApproved {
		return herald.Invalid("templateCode", "template %q is %s; only approved templates can be sent", t.Code, t.Status)
	}
	compiled, err := template.Compile(t)
	if err != nil {
		return herald.Invalid("templateCode", "template %q is not valid: %v", t.Code, err)
	}
	member := herald.Member{Phone: m.Phone, Status: herald.MemberActive}
	if m.MemberID != "" {
		if member, err = s.store.GetMember(ctx, m.MemberID); errors.Is(err, herald.ErrNotFound) {
			return herald.Invalid("memberId", "there is no member %q", m.MemberID)
		} else if err != nil {
			return err
		}
	}
	opts := template.SendOptionsFor(max(1, s.sending.BatchSize), s.sending.FallbackFrom)
	if _, reject := compiled.Destination(member, m.Variables, "", opts); reject != nil {
		field := "variables"
		if reject.Code == "WITHDRAWN" {
			field = "memberId"
		}
		return herald.Invalid(field, "%s", reject.Text)
	}
	return nil
}

func (s *Server) getMessage(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		s.writeError(w, r, herald.Invalid("id", "message ids are positive integers, not %q", r.PathValue("id")))
		return
	}
	m, err := s.store.GetMessage(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, m)
}

// SendMessage posts one message under key; replayed says the key had been
// used already and the first message came back.
func (c *Client) SendMessage(ctx context.Context, key string, m herald.Message) (msg herald.Message, replayed bool, err error) {
	body := messageRequest{TemplateCode: m.TemplateCode, MemberID: m.MemberID, Phone: m.Phone, Variables: m.Variables}
	err = c.sendWithHeader(ctx, http.MethodPost, "/v1/messages", IdempotencyKeyHeader, key, body, &msg, &replayed)
	return msg, replayed, err
}

// GetMessage reads a message and its result.
func (c *Client) GetMessage(ctx context.Context, id int64) (herald.Message, error) {
	var out herald.Message
	return out, c.get(ctx, "/v1/messages/"+strconv.FormatInt(id, 10), &out)
}

// sendWithHeader is send with one request header, reporting whether the
// answer was a replay of an earlier one.
func (c *Client) sendWithHeader(ctx context.Context, method, path, name, value string, in, out any, replayed *bool) error {
	b, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encode %s %s: %w", method, path, err)
	}
	h := http.Header{}
	h.Set(name, value)
	return c.do(ctx, call{method: method, path: path, body: bytes.NewReader(b), contentType: "application/json", header: h,
		answered: func(resp *http.Response) { *replayed = resp.Header.Get("Idempotent-Replayed") == "true" }}, out)
}
