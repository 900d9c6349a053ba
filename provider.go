package herald

import (
	"context"
	"time"
)

// Provider sends messages to the reseller. It never retries a send by itself:
// only the caller knows whether a resend is safe.
type Provider interface {
	// Send submits one batch (1..200 destinations sharing one template) and
	// returns exactly one Outcome per destination, in order. Every failure,
	// an invalid batch included, is expressed as outcomes.
	Send(ctx context.Context, b SendBatch) []Outcome
	// Inquire returns the reports the provider knows for a msgKey.
	Inquire(ctx context.Context, msgKey string) ([]Report, error)
}

// SendBatch is one request to the provider.
type SendBatch struct {
	SenderKey    string
	TemplateCode string
	Title        string
	Buttons      []Button
	// Ref is the campaign reference echoed in reports.
	Ref string
	// IdempotencyKey must be the same whenever the same destinations are
	// sent again, so that the provider drops the copy (A301).
	IdempotencyKey string
	IdempotencyTTL time.Duration
	// ProviderRenders sends the template code and each destination's
	// ReplaceWords (sendType "template") instead of one rendered text per
	// request, so that personalised messages share one request. herald has
	// rendered and checked every text before either way.
	ProviderRenders bool
	Destinations    []Destination
}

// Destination is one recipient with its fully rendered text.
type Destination struct {
	To string
	// MessageID is herald's message id, sent as the destination's ref.
	MessageID string
	Text      string
	// ReplaceWords are the values of the template's variables, for
	// SendBatch.ProviderRenders.
	ReplaceWords map[string]string
	// FallbackKind is "SMS", "LMS" or "" for no fallback.
	FallbackKind string
	FallbackText string
	FallbackFrom string
}

// OutcomeKind classifies what the provider did with one destination.
type OutcomeKind int

// Outcome kinds. InDoubt means the request may have been accepted: never
// resend it blindly.
const (
	Accepted OutcomeKind = iota + 1
	RefusedRetryable
	RefusedPermanent
	InDoubt
	// RefusedAccount is a whole-request refusal that says the account or its
	// configuration is wrong (bad API key, unknown sender key, unregistered
	// sender number, template not approved): nothing was taken, and no
	// recipient is at fault. The campaign pauses with the reason.
	RefusedAccount
)

func (k OutcomeKind) String() string {
	switch k {
	case Accepted:
		return "accepted"
	case RefusedRetryable:
		return "refused-retryable"
	case RefusedPermanent:
		return "refused-permanent"
	case InDoubt:
		return "in-doubt"
	case RefusedAccount:
		return "refused-account"
	}
	return "invalid"
}

// Outcome is the result of sending to one destination.
type Outcome struct {
	Kind   OutcomeKind
	MsgKey string
	// Code and Text are the provider's code (A000, A020, A306…) or a
	// transport description.
	Code string
	Text string
	// Duplicate is true when the provider answered A301: it had accepted
	// this destination earlier under the same idempotency key.
	Duplicate bool
}

// KeyLabel names a sender key in logs, errors and metrics by its first
// characters only: enough to tell keys apart, not enough to use one.
func KeyLabel(key string) string {
	if len(key) <= 6 {
		return key
	}
	return key[:6] + "…"
}
