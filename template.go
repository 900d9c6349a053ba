package herald

import "time"

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
