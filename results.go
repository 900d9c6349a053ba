package herald

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// MaxRecipientFilterLimit bounds RecipientFilter.Limit: one page is one
// query, and a store reads the whole page into memory.
const MaxRecipientFilterLimit = 10000

// RecipientFilter selects recipients of one campaign, a page at a time in
// id order (keyset pagination: the next page starts after the last id).
// Empty fields match everything.
type RecipientFilter struct {
	CampaignID int64
	// States matches any of the states.
	States []RecipientState
	// Code is the result code (A000, 63019, IN_DOUBT, NO_REPORT…).
	Code string
	// Channel is the channel as stored from the last report: ALIMTALK,
	// SMS, LMS or MMS (see ChannelName for the short names).
	Channel  string
	Phone    string
	MemberID string
	AfterID  int64
	Limit    int
}

// Validate checks the filter's fields.
func (f RecipientFilter) Validate() error {
	if f.CampaignID <= 0 {
		return Invalid("campaignId", "must be positive, not %d", f.CampaignID)
	}
	for _, s := range f.States {
		if !slices.Contains(RecipientStates, s) {
			return Invalid("state", "want one of %s, not %q", joinStates(), s)
		}
	}
	if f.AfterID < 0 {
		return Invalid("after", "must not be negative")
	}
	if f.Limit < 1 || f.Limit > MaxRecipientFilterLimit {
		return Invalid("limit", "must be from 1 to %d, not %d", MaxRecipientFilterLimit, f.Limit)
	}
	return nil
}

func joinStates() string {
	names := make([]string, len(RecipientStates))
	for i, s := range RecipientStates {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

// Channels as the provider's reports name them (serviceType).
const (
	ChannelAlimTalk = "ALIMTALK"
	ChannelSMS      = "SMS"
	ChannelLMS      = "LMS"
	ChannelMMS      = "MMS"
)

// ChannelName is the short name operators use for a stored channel: AT
// for AlimTalk, SMS/LMS/MMS for the fallback legs, "" before any report.
func ChannelName(stored string) string {
	if stored == ChannelAlimTalk {
		return "AT"
	}
	return stored
}

// ParseChannel turns an operator's channel name (AT, ALIMTALK, SMS, LMS,
// MMS, any case) into the stored one.
func ParseChannel(name string) (string, error) {
	switch s := strings.ToUpper(strings.TrimSpace(name)); s {
	case "AT", ChannelAlimTalk:
		return ChannelAlimTalk, nil
	case ChannelSMS, ChannelLMS, ChannelMMS:
		return s, nil
	}
	return "", Invalid("channel", "want AT, SMS, LMS or MMS, not %q", name)
}

// SentMessage is the message as it left for one recipient: its part of the
// frozen request (SendBatch), under the request's idempotency key.
type SentMessage struct {
	Key          string            `json:"key"`
	TemplateCode string            `json:"templateCode"`
	SenderKey    string            `json:"senderKey"` // KeyLabel of it: enough to tell keys apart
	SendType     string            `json:"sendType"`  // "template" (the provider renders) or "text"
	Title        string            `json:"title,omitempty"`
	Text         string            `json:"text"`
	ReplaceWords map[string]string `json:"replaceWords,omitempty"`
	Buttons      []Button          `json:"buttons,omitempty"`
	Fallback     *SentFallback     `json:"fallback,omitempty"`
	// Destinations is how many recipients the request carried.
	Destinations int `json:"destinations"`
}

// SentFallback is the SMS/LMS leg of a sent message.
type SentFallback struct {
	Kind string `json:"kind"`
	Text string `json:"text"`
	From string `json:"from,omitempty"`
}

// MessageFor picks messageID's destination out of a frozen request; ok is
// false when the request does not carry it.
func MessageFor(b SendBatch, messageID string) (m SentMessage, ok bool) {
	i := slices.IndexFunc(b.Destinations, func(d Destination) bool { return d.MessageID == messageID })
	if i < 0 {
		return m, false
	}
	d := b.Destinations[i]
	m = SentMessage{Key: b.IdempotencyKey, TemplateCode: b.TemplateCode, SenderKey: KeyLabel(b.SenderKey),
		SendType: "text", Title: b.Title, Text: d.Text, ReplaceWords: d.ReplaceWords, Buttons: b.Buttons,
		Destinations: len(b.Destinations)}
	if b.ProviderRenders {
		m.SendType = "template"
	}
	if d.FallbackKind != "" {
		m.Fallback = &SentFallback{Kind: d.FallbackKind, Text: d.FallbackText, From: d.FallbackFrom}
	}
	return m, true
}

// RecipientEvent is one step of a recipient's history.
type RecipientEvent struct {
	At     time.Time `json:"at"`
	Event  string    `json:"event"`
	Detail string    `json:"detail"`
}

// Events of a recipient's history.
const (
	EventCreated  = "created"
	EventSent     = "sent"
	EventRetried  = "retried"
	EventResent   = "resent"
	EventInDoubt  = "in_doubt"
	EventAccepted = "accepted"
	EventReport   = "report"
)

// RecipientHistory tells what happened to one recipient, oldest first,
// from what is stored: the row (times, key, attempts, resends, doubt,
// msgKey, result) and the reports matched to it. herald keeps no log of
// every step, so repeated steps (resends) appear once with their count,
// and the row's current state closes the history at its last update.
func RecipientHistory(r Recipient, reports []Report) []RecipientEvent {
	ev := []RecipientEvent{{At: r.CreatedAt, Event: EventCreated, Detail: fmt.Sprintf("recipient of campaign %d, member %s, phone %s", r.CampaignID, r.MemberID, r.Phone)}}
	if r.Attempts > 1 {
		ev = append(ev, RecipientEvent{At: r.SentAt, Event: EventRetried,
			Detail: fmt.Sprintf("attempt %d: the earlier ones were provably refused (nothing taken)", r.Attempts)})
	}
	if r.BatchKey != "" {
		ev = append(ev, RecipientEvent{At: r.SentAt, Event: EventSent, Detail: "request " + r.BatchKey + ", message id " + r.MessageID})
	}
	if r.Resends > 0 {
		ev = append(ev, RecipientEvent{At: r.SentAt, Event: EventResent,
			Detail: fmt.Sprintf("the same frozen request resent %d times under key %s", r.Resends, r.BatchKey)})
	}
	if r.InDoubt {
		ev = append(ev, RecipientEvent{At: r.SentAt, Event: EventInDoubt,
			Detail: "the provider may have taken a request: only ever resent as itself, under its key"})
	}
	if r.MsgKey != "" {
		ev = append(ev, RecipientEvent{At: r.SentAt, Event: EventAccepted, Detail: "msgKey " + r.MsgKey})
	}
	for _, rep := range reports {
		ev = append(ev, RecipientEvent{At: rep.ReportTime, Event: EventReport,
			Detail: strings.TrimSpace(fmt.Sprintf("%s %s %s", rep.ServiceType, rep.Code, rep.Text))})
	}
	ev = append(ev, RecipientEvent{At: r.UpdatedAt, Event: strings.ToLower(string(r.State)),
		Detail: strings.TrimSpace(r.ResultCode + " " + r.ResultText)})
	for i := range ev {
		if ev[i].At.IsZero() {
			ev[i].At = r.UpdatedAt // a row from before SentAt was stored
		}
	}
	slices.SortStableFunc(ev, func(a, b RecipientEvent) int { return a.At.Compare(b.At) })
	return ev
}

// RecipientDetail is one recipient with the message as sent (nil before
// anything was sent) and its history.
type RecipientDetail struct {
	Recipient Recipient        `json:"recipient"`
	Message   *SentMessage     `json:"message"`
	History   []RecipientEvent `json:"history"`
}
