package template

import (
	"fmt"

	herald "github.com/heraldhq/herald"
)

// SendOptions are the sender's settings that shape each destination; the
// dispatcher and a campaign review use the same ones, so a review's sample
// is the message as it will leave.
type SendOptions struct {
	// ProviderRenders: requests carry each recipient's replaceWords
	// (sendType "template") besides the text.
	ProviderRenders bool
	// FallbackFrom is the SMS callback number; empty sends no fallback leg.
	FallbackFrom string
}

// SendOptionsFor is what the dispatcher sends with for a batch size and a
// fallback number: batches of several recipients let the provider render,
// unless a fallback leg needs a text per request.
func SendOptionsFor(batchSize int, fallbackFrom string) SendOptions {
	return SendOptions{ProviderRenders: batchSize > 1 && fallbackFrom == "", FallbackFrom: fallbackFrom}
}

// Rejection says why a member gets no message, as the row will record it.
type Rejection struct {
	State herald.RecipientState
	Code  string
	Text  string
}

// Outgoing is one member's destination as it will leave, with the
// rendered message (title and buttons go on the request).
type Outgoing struct {
	Message     Message
	Destination herald.Destination
	// NoFallback: a fallback was asked for but this text cannot be one.
	NoFallback bool
}

// Destination renders the message for member m (or says why m gets none):
// a withdrawn member is skipped, a text that does not render or does not
// match the approved template fails.
func (c *Compiled) Destination(m herald.Member, constants map[string]string, messageID string, o SendOptions) (Outgoing, *Rejection) {
	if m.Status != herald.MemberActive {
		return Outgoing{}, &Rejection{herald.RecipientSkipped, "WITHDRAWN", "member withdrew before the send"}
	}
	lookup := MemberLookup(m, constants)
	msg, err := c.Render(lookup)
	if err != nil {
		return Outgoing{}, &Rejection{herald.RecipientFailed, "RENDER", err.Error()}
	}
	if field := c.Mismatch(msg); field != "" {
		return Outgoing{}, &Rejection{herald.RecipientFailed, "MISMATCH", fmt.Sprintf("rendered %s does not match the approved template", field)}
	}
	out := Outgoing{Message: msg, Destination: herald.Destination{To: m.Phone, MessageID: messageID, Text: msg.Text}}
	if o.ProviderRenders {
		vars := c.Vars()
		out.Destination.ReplaceWords = make(map[string]string, len(vars))
		for _, name := range vars {
			out.Destination.ReplaceWords[name], _ = lookup(name)
		}
	}
	if o.FallbackFrom != "" {
		if fb, err := FallbackFor(msg.Text, msg.Title); err == nil {
			d := &out.Destination
			d.FallbackKind, d.FallbackText, d.FallbackFrom = fb.Kind, fb.Text, o.FallbackFrom
		} else {
			out.NoFallback = true
		}
	}
	return out, nil
}
