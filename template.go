package herald

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"
)

// TemplateStatus is the approval state of a template at Kakao.
type TemplateStatus string

// Template statuses. Only approved templates can be sent.
const (
	TemplateApproved TemplateStatus = "approved"
	TemplateDraft    TemplateStatus = "draft"
	TemplateRejected TemplateStatus = "rejected"
)

// Template is an AlimTalk template as approved by Kakao: the text with
// #{variable} slots that every message must match exactly.
type Template struct {
	Code      string         `json:"code"`
	SenderKey string         `json:"senderKey"`
	Text      string         `json:"text"`
	Title     string         `json:"title,omitempty"`
	Buttons   []Button       `json:"buttons,omitempty"`
	Status    TemplateStatus `json:"status"`
	CreatedAt time.Time      `json:"createdAt"`
	// ProviderStatus is the inspection state at the provider (REG, REQ,
	// APR, REJ) as of SyncedAt; empty for a template never synced.
	ProviderStatus string `json:"providerStatus,omitempty"`
	// ProviderHash is the ContentHash of the provider's copy as of the
	// last sync; a template whose own content hashes otherwise differs
	// from what Kakao inspected and cannot be sent.
	ProviderHash string    `json:"providerHash,omitempty"`
	SyncedAt     time.Time `json:"syncedAt,omitzero"`
}

// ContentHash identifies what Kakao inspects: text, title and buttons,
// byte for byte.
func (t Template) ContentHash() string {
	buttons := t.Buttons
	if buttons == nil {
		buttons = []Button{}
	}
	b, _ := json.Marshal(struct {
		Text    string   `json:"text"`
		Title   string   `json:"title"`
		Buttons []Button `json:"buttons"`
	}{t.Text, t.Title, buttons}) // strings only: cannot fail
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// DiffersFromProvider reports whether the last sync found a copy at the
// provider that this template's content does not match.
func (t Template) DiffersFromProvider() bool {
	return t.ProviderHash != "" && t.ProviderHash != t.ContentHash()
}

// Button is an AlimTalk button. Which fields are needed depends on Type
// (WL needs URLMobile, AL needs schemes, and so on).
type Button struct {
	Type          string `json:"type"`
	Name          string `json:"name"`
	URLMobile     string `json:"urlMobile,omitempty"`
	URLPC         string `json:"urlPc,omitempty"`
	SchemeIOS     string `json:"schemeIos,omitempty"`
	SchemeAndroid string `json:"schemeAndroid,omitempty"`
	ChatExtra     string `json:"chatExtra,omitempty"`
	ChatEvent     string `json:"chatEvent,omitempty"`
	PluginID      string `json:"pluginId,omitempty"`
	TelNumber     string `json:"telNumber,omitempty"`
}
