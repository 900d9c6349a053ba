package herald

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// CampaignKind tells campaigns apart from the hidden campaign that carries
// one-off messages of one template through the same outbox.
type CampaignKind string

// Campaign kinds.
const (
	KindCampaign CampaignKind = ""
	// KindMessages is the per-template campaign of one-off messages (POST
	// /v1/messages): always running, never completed, sent ahead of
	// campaigns on its sender key.
	KindMessages CampaignKind = "messages"
)

// Message is one one-off AlimTalk: a template, one member or phone, its
// own variables, under the caller's idempotency key. It is sent as a
// recipient row of its template's messages campaign, so it gets the
// outbox, pacing, in-doubt handling and reports of every campaign.
type Message struct {
	ID             int64             `json:"id"`
	IdempotencyKey string            `json:"idempotencyKey"`
	TemplateCode   string            `json:"templateCode"`
	MemberID       string            `json:"memberId,omitempty"`
	Phone          string            `json:"phone,omitempty"`
	Variables      map[string]string `json:"variables,omitempty"`
	// RequestHash identifies the request a key was first used with: the
	// same key with another request is refused.
	RequestHash string    `json:"-"`
	CreatedBy   string    `json:"createdBy,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
	CampaignID  int64     `json:"campaignId"`
	// Result is the message's outbox row: its state, result code, channel.
	Result Recipient `json:"result"`
}

// Limits of a message.
const MaxIdempotencyKeyLen = 200

// Validate checks a new message and fills its request hash: exactly one
// of member id and phone (normalised), a template, a printable key.
func (m *Message) Validate() error {
	m.IdempotencyKey = strings.TrimSpace(m.IdempotencyKey)
	switch k := m.IdempotencyKey; {
	case k == "":
		return Invalid("Idempotency-Key", "is required")
	case len(k) > MaxIdempotencyKeyLen || !utf8.ValidString(k) || strings.ContainsFunc(k, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return Invalid("Idempotency-Key", "must be printable and at most %d bytes", MaxIdempotencyKeyLen)
	}
	if strings.TrimSpace(m.TemplateCode) == "" {
		return Invalid("templateCode", "is required")
	}
	m.MemberID = strings.TrimSpace(m.MemberID)
	switch {
	case m.MemberID != "" && m.Phone != "":
		return Invalid("phone", `give "memberId" or "phone", not both`)
	case m.MemberID == "" && m.Phone == "":
		return Invalid("phone", `give "memberId" or "phone"`)
	case m.Phone != "":
		phone, err := NormalizePhone(m.Phone)
		if err != nil {
			return err
		}
		m.Phone = phone
	case len(m.MemberID) > MaxMemberIDLen:
		return Invalid("memberId", "is longer than %d bytes", MaxMemberIDLen)
	}
	for k, v := range m.Variables {
		if k == "" || !utf8.ValidString(k) || !utf8.ValidString(v) {
			return Invalid("variables", "names must be non-empty and names and values valid UTF-8")
		}
	}
	body, _ := json.Marshal(struct {
		T, M, P string
		V       map[string]string
	}{m.TemplateCode, m.MemberID, m.Phone, m.Variables}) // map keys marshal sorted
	sum := sha256.Sum256(body)
	m.RequestHash = hex.EncodeToString(sum[:16])
	return nil
}

// MessageMemberID is the member id of a message's outbox row: unique in
// its messages campaign (one member may get several messages).
func MessageMemberID(messageID int64) string {
	return "~msg" + strconv.FormatInt(messageID, 10)
}
