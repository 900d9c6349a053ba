package herald

import "time"

// RecipientState is where one message to one member is (see DESIGN.md).
type RecipientState string

// Recipient states.
const (
	RecipientPending   RecipientState = "PENDING"
	RecipientSending   RecipientState = "SENDING"
	RecipientAccepted  RecipientState = "ACCEPTED"
	RecipientRetryWait RecipientState = "RETRY_WAIT"
	RecipientDelivered RecipientState = "DELIVERED"
	RecipientFailed    RecipientState = "FAILED"
	RecipientSkipped   RecipientState = "SKIPPED"
	RecipientUnknown   RecipientState = "UNKNOWN"
	RecipientCancelled RecipientState = "CANCELLED"
)

// RecipientStates lists every state, in pipeline order.
var RecipientStates = []RecipientState{
	RecipientPending, RecipientSending, RecipientRetryWait, RecipientAccepted,
	RecipientDelivered, RecipientFailed, RecipientSkipped, RecipientUnknown, RecipientCancelled,
}

// Terminal reports whether the dispatcher will never touch the row again.
// ACCEPTED is not terminal for delivery (a report follows) but it is for
// sending: nothing resends an accepted message.
func (s RecipientState) Terminal() bool {
	switch s {
	case RecipientDelivered, RecipientFailed, RecipientSkipped, RecipientUnknown, RecipientCancelled:
		return true
	}
	return false
}

// Sent reports whether the dispatcher is done with the row: it was accepted
// by the provider or will never be sent.
func (s RecipientState) Sent() bool {
	return s == RecipientAccepted || s.Terminal()
}

// Recipient is one member in one campaign: the outbox row.
type Recipient struct {
	ID          int64          `json:"id"`
	CampaignID  int64          `json:"campaignId"`
	MemberID    string         `json:"memberId"`
	Phone       string         `json:"phone"`
	MessageID   string         `json:"messageId,omitempty"`
	State       RecipientState `json:"state"`
	Attempts    int            `json:"attempts"`
	LeaseOwner  string         `json:"leaseOwner,omitempty"`
	LeaseUntil  time.Time      `json:"leaseUntil,omitempty"`
	NextAttempt time.Time      `json:"nextAttemptAt,omitempty"`
	// ClaimToken fences writes: it grows at every claim and requeue, and
	// a write carrying an older token is ignored.
	ClaimToken int64 `json:"-"`
	// Resends counts sends of the same frozen request after the first.
	Resends int `json:"resends,omitempty"`
	// InDoubt says a request under BatchKey may have been taken by the
	// provider: the row is only ever sent again as that request.
	InDoubt bool `json:"inDoubt,omitempty"`
	// BatchKey is the idempotency key of the request the row went out in,
	// written (with the request, frozen) before sending; SentAt is when.
	BatchKey   string    `json:"batchKey,omitempty"`
	SentAt     time.Time `json:"sentAt,omitempty"`
	MsgKey     string    `json:"msgKey,omitempty"`
	ResultCode string    `json:"resultCode,omitempty"`
	ResultText string    `json:"resultText,omitempty"`
	Channel    string    `json:"channel,omitempty"`
	CreatedAt  time.Time `json:"createdAt"`
	UpdatedAt  time.Time `json:"updatedAt"`
}

// Result codes herald writes itself, when it settles a recipient without
// the provider's word on it.
const (
	// CodeInDoubt: a request of the row may have been taken, and it can no
	// longer be resent under the same key; it is never sent under another.
	CodeInDoubt = "IN_DOUBT"
	// CodeCampaignFailed: the campaign failed before the row was sent.
	CodeCampaignFailed = "CAMPAIGN_FAILED"
	// CodeNoReport: an accepted send whose report never came; NoReportText
	// is its result text.
	CodeNoReport = "NO_REPORT"
	NoReportText = "no delivery report within the provider's report retention"
)

// RecipientUpdate is the recorded result of one send attempt. It applies only
// while the row is SENDING under Owner and Token, so a stale worker cannot
// overwrite a newer claim.
//
// A RETRY_WAIT update with InDoubt false says the request was provably not
// taken (the first send of its key was refused before anything was
// accepted): the key is cleared and the next claim makes a new one. With
// InDoubt true the row waits for a resend of the same frozen request under
// the same key, and is marked in doubt for good.
type RecipientUpdate struct {
	ID          int64
	Owner       string
	Token       int64
	State       RecipientState
	InDoubt     bool
	MsgKey      string
	ResultCode  string
	ResultText  string
	NextAttempt time.Time
	At          time.Time
}
