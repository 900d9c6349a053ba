// Package review tells what a campaign will do before anything is sent:
// its audience after de-duplication and withdrawals, who will be skipped or
// fail rendering and why, sample messages exactly as they will leave (the
// dispatcher's own render path, template.Destination), the SMS/LMS fallback
// forecast and the finish time at the effective rate inside the send window.
package review

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/pace"
	"github.com/heraldhq/herald/template"
)

// Settings are the sender's settings the review reads: the same flags the
// dispatcher runs with.
type Settings struct {
	BatchSize    int
	FallbackFrom string
	// SenderKey replaces each template's own sender key when set.
	SenderKey string
	// TPS is the sender key's limit (0: none).
	TPS      int
	Headroom float64
	// SendWindow is the default for campaigns without one.
	SendWindow herald.SendWindow
}

// Review is the answer of POST /v1/campaigns/{id}/review.
type Review struct {
	CampaignID int64     `json:"campaignId"`
	State      string    `json:"state"`
	Audience   Audience  `json:"audience"`
	Skipped    Group     `json:"skipped"`
	Failures   Group     `json:"failures"`
	Messages   int       `json:"messages"`
	Samples    []Sample  `json:"samples"`
	Fallback   Fallback  `json:"fallback"`
	Forecast   Forecast  `json:"forecast"`
	ReviewedAt time.Time `json:"reviewedAt"`
}

// Audience counts who the selector reaches. Recipients is how many outbox
// rows preparing the campaign makes: distinct, existing, active members.
type Audience struct {
	Selected   int `json:"selected"`
	Duplicates int `json:"duplicates"`
	Unknown    int `json:"unknown"`
	Withdrawn  int `json:"withdrawn"`
	Recipients int `json:"recipients"`
}

// Group counts members by reason code, with a few examples.
type Group struct {
	Count    int            `json:"count"`
	ByCode   map[string]int `json:"byCode"`
	Examples []Example      `json:"examples"`
}

// Example is one member and why.
type Example struct {
	MemberID string `json:"memberId"`
	Code     string `json:"code"`
	Text     string `json:"text"`
}

// Sample is one message as the provider will get it.
type Sample struct {
	MemberID     string            `json:"memberId"`
	To           string            `json:"to"`
	SendType     string            `json:"sendType"`
	SenderKey    string            `json:"senderKey"`
	TemplateCode string            `json:"templateCode"`
	Text         string            `json:"text"`
	Title        string            `json:"title,omitempty"`
	Buttons      []herald.Button   `json:"buttons,omitempty"`
	ReplaceWords map[string]string `json:"replaceWords,omitempty"`
	FallbackKind string            `json:"fallbackKind,omitempty"`
	FallbackText string            `json:"fallbackText,omitempty"`
	FallbackFrom string            `json:"fallbackFrom,omitempty"`
}

// Fallback forecasts the SMS/LMS leg. Legs is exact: the messages that
// carry one (SMS and LMS by kind). Expected, Low and High forecast how many
// are used, from the sender key's past share of recipients KakaoTalk did
// not reach (History); without history they are absent.
type Fallback struct {
	Enabled    bool                   `json:"enabled"`
	Legs       int                    `json:"legs"`
	SMS        int                    `json:"sms"`
	LMS        int                    `json:"lms"`
	NoFallback int                    `json:"noFallback"`
	History    herald.FallbackHistory `json:"history"`
	Share      *float64               `json:"share,omitempty"`
	Expected   *int                   `json:"expected,omitempty"`
	Low        *int                   `json:"low,omitempty"`
	High       *int                   `json:"high,omitempty"`
}

// Forecast is when the campaign ends at its effective rate: the lower of
// its own TPS and the sender key's, less the headroom, sending only inside
// its window. Other campaigns on the same key would slow it further.
type Forecast struct {
	CampaignTPS  int       `json:"campaignTps"`
	SenderKeyTPS int       `json:"senderKeyTps,omitempty"`
	EffectiveTPS float64   `json:"effectiveTps"`
	SendWindow   string    `json:"sendWindow,omitempty"`
	StartsAt     time.Time `json:"startsAt"`
	Seconds      float64   `json:"sendingSeconds"`
	FinishAt     time.Time `json:"finishAt"`
	// FitsWindow: the campaign ends before its window first closes.
	FitsWindow bool `json:"fitsWindow"`
	// WindowClosesAt is when the window it starts in closes (absent when always open).
	WindowClosesAt *time.Time `json:"windowClosesAt,omitempty"`
}

// Store is what a review reads.
type Store interface {
	GetTemplate(ctx context.Context, code string) (herald.Template, error)
	AudienceMembers(ctx context.Context, campaignID int64, a herald.Audience, afterID string, limit int) ([]herald.Member, error)
	FallbackHistory(ctx context.Context, senderKey string) (herald.FallbackHistory, error)
}

const (
	page        = 5000
	maxExamples = 5
	maxSamples  = 3
)

// Campaign reviews c as of now.
func Campaign(ctx context.Context, s Store, c herald.Campaign, set Settings, now time.Time) (Review, error) {
	r := Review{CampaignID: c.ID, State: string(c.State), ReviewedAt: now,
		Skipped: Group{ByCode: map[string]int{}}, Failures: Group{ByCode: map[string]int{}}, Samples: []Sample{}}
	t, err := s.GetTemplate(ctx, c.TemplateCode)
	if err != nil {
		return r, fmt.Errorf("template %s: %w", c.TemplateCode, err)
	}
	compiled, err := template.Compile(t)
	if err != nil {
		return r, herald.Invalid("templateCode", "template %q is not valid: %v", t.Code, err)
	}
	senderKey := t.SenderKey
	if set.SenderKey != "" {
		senderKey = set.SenderKey
	}
	opts := template.SendOptionsFor(max(1, set.BatchSize), set.FallbackFrom)
	r.Fallback.Enabled = opts.FallbackFrom != ""
	seen := map[string]bool{}
	after := ""
	for {
		members, err := s.AudienceMembers(ctx, c.ID, c.Audience, after, page)
		if err != nil {
			return r, err
		}
		for _, m := range members {
			seen[m.ID] = true
			r.Audience.Selected++
			out, reject := compiled.Destination(m, c.Variables, "", opts)
			switch {
			case reject != nil && reject.State == herald.RecipientSkipped:
				// Preparation leaves withdrawn members out: no row at all.
				r.Audience.Withdrawn++
				r.Skipped.add(m.ID, reject.Code, reject.Text)
				continue
			case reject != nil:
				r.Audience.Recipients++
				r.Failures.add(m.ID, reject.Code, reject.Text)
				continue
			}
			r.Audience.Recipients++
			r.Messages++
			if len(r.Samples) < maxSamples {
				r.Samples = append(r.Samples, sample(m.ID, senderKey, t.Code, opts, out))
			}
			switch {
			case out.NoFallback:
				r.Fallback.NoFallback++
			case out.Destination.FallbackKind == template.FallbackSMS:
				r.Fallback.SMS++
			case out.Destination.FallbackKind == template.FallbackLMS:
				r.Fallback.LMS++
			}
		}
		if len(members) < page {
			break
		}
		after = members[len(members)-1].ID
	}
	if ids := c.Audience.MemberIDs; len(ids) > 0 {
		distinct := map[string]bool{}
		for _, id := range ids {
			if distinct[id] {
				r.Audience.Duplicates++
				continue
			}
			distinct[id] = true
			if !seen[id] {
				r.Audience.Unknown++
				r.Skipped.add(id, "MEMBER_GONE", "no member has this id")
			}
		}
		r.Audience.Selected = len(ids)
	}
	r.Fallback.Legs = r.Fallback.SMS + r.Fallback.LMS
	if r.Fallback.Enabled {
		if r.Fallback.History, err = s.FallbackHistory(ctx, t.SenderKey); err != nil {
			return r, err
		}
		r.Fallback.forecast()
	}
	r.Forecast = forecast(c, set, r.Messages, now)
	return r, nil
}

func (g *Group) add(memberID, code, text string) {
	g.Count++
	g.ByCode[code]++
	if len(g.Examples) < maxExamples {
		g.Examples = append(g.Examples, Example{MemberID: memberID, Code: code, Text: text})
	}
}

func sample(memberID, senderKey, code string, o template.SendOptions, out template.Outgoing) Sample {
	d := out.Destination
	s := Sample{MemberID: memberID, To: d.To, SendType: "text", SenderKey: senderKey, TemplateCode: code,
		Text: d.Text, Title: out.Message.Title, Buttons: slices.Clone(out.Message.Buttons),
		FallbackKind: d.FallbackKind, FallbackText: d.FallbackText, FallbackFrom: d.FallbackFrom}
	if o.ProviderRenders {
		s.SendType, s.ReplaceWords = "template", d.ReplaceWords
	}
	return s
}

// forecast estimates the fallback legs used: Legs × the past share, with a
// band of three standard deviations of both the binomial draw and the
// share's own estimate from History.Reported results.
func (f *Fallback) forecast() {
	h := f.History
	if h.Reported == 0 {
		return
	}
	p := float64(h.NotKakao) / float64(h.Reported)
	n := float64(f.Legs)
	sd := math.Sqrt(n*p*(1-p)) + n*math.Sqrt(p*(1-p)/float64(h.Reported))
	exp, lo, hi := int(math.Round(n*p)), int(math.Max(0, math.Floor(n*p-3*sd))), int(math.Min(n, math.Ceil(n*p+3*sd)))
	f.Share, f.Expected, f.Low, f.High = &p, &exp, &lo, &hi
}

func forecast(c herald.Campaign, set Settings, messages int, now time.Time) Forecast {
	f := Forecast{CampaignTPS: c.TPS, SenderKeyTPS: set.TPS}
	rate := float64(c.TPS)
	if set.TPS > 0 {
		rate = min(rate, float64(set.TPS))
	}
	headroom := set.Headroom
	if headroom == 0 {
		headroom = pace.DefaultHeadroom // as the dispatcher defaults it
	}
	f.EffectiveTPS = rate / (1 + max(0, headroom))
	window := set.SendWindow
	if c.SendWindow != "" {
		window, _ = herald.ParseSendWindow(c.SendWindow) // validated at creation
	}
	f.SendWindow = window.String()
	start := c.StartAt
	if start.Before(now) {
		start = now
	}
	f.StartsAt = window.NextOpen(start)
	f.Seconds = float64(messages) / f.EffectiveTPS
	busy := time.Duration(f.Seconds * float64(time.Second))
	f.FinishAt = window.Finish(start, busy)
	f.FitsWindow = true
	if !window.Always() {
		closes := window.NextClose(f.StartsAt)
		f.WindowClosesAt = &closes
		f.FitsWindow = !f.FinishAt.After(closes)
	}
	return f
}
