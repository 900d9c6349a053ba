package infobank

import (
	"context"
	"encoding/json"
	"hash/fnv"
	"net/http"
	"strconv"
	"sync"
	"time"

	herald "github.com/heraldhq/herald"
)

// Send implements herald.Provider. It returns one outcome per destination,
// in order, and never retries.
//
// messageFlow carries one text for the whole request, but herald renders a
// text per recipient. So the batch goes out as one request per group of
// destinations with the same text and fallback (one request for the whole
// batch when the text is not personalised), the groups in parallel. Each
// group's idempotency key is "<batch key>:<hash of its text and fallback>":
// a destination keeps its key when a resend carries only some of the batch
// (the in-doubt ones), however the rest of the batch was split.
func (c *Client) Send(ctx context.Context, b herald.SendBatch) []herald.Outcome {
	out := make([]herald.Outcome, len(b.Destinations))
	if len(b.Destinations) > MaxDestinations {
		fill(out, refused(herald.RefusedPermanent, CodeTooMany, "more than 200 destinations in one batch"))
		return out
	}
	if b.ProviderRenders {
		all := make([]int, len(b.Destinations))
		for i := range all {
			all[i] = i
		}
		c.sendGroup(ctx, b, all, groupIdempotencyKey(b, nil), out)
		return out
	}
	groups := groupDestinations(b.Destinations)
	if len(groups) == 1 {
		c.sendGroup(ctx, b, groups[0], groupIdempotencyKey(b, groups[0]), out)
		return out
	}
	c.sendGroups(ctx, b, groups, out)
	return out
}

// sendGroups sends every group, at most MaxConns at a time.
func (c *Client) sendGroups(ctx context.Context, b herald.SendBatch, groups [][]int, out []herald.Outcome) {
	sem := make(chan struct{}, c.cfg.MaxConns)
	var wg sync.WaitGroup
	for _, g := range groups {
		key := groupIdempotencyKey(b, g)
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c.sendGroup(ctx, b, g, key, out) // groups write disjoint elements of out
		})
	}
	wg.Wait()
}

// sendGroup sends the destinations at indexes idx in one request and writes
// their outcomes into out.
func (c *Client) sendGroup(ctx context.Context, b herald.SendBatch, idx []int, key string, out []herald.Outcome) {
	req, err := buildRequest(b, idx, key)
	if err != nil {
		for _, i := range idx {
			out[i] = refused(herald.RefusedPermanent, OutcomeInvalid, err.Error())
		}
		return
	}
	body, _ := json.Marshal(req) // strings, maps of strings and an int: cannot fail
	x := c.do(ctx, http.MethodPost, PathSend, body)
	res := classifySend(x, req.Destinations)
	if k := res[0].Kind; k == herald.InDoubt || x.err != nil {
		c.log.Debug("send failed", "outcome", k.String(), "code", res[0].Code,
			"text", res[0].Text, "destinations", len(idx))
	}
	for j, i := range idx {
		out[i] = res[j]
	}
}

// groupIdempotencyKey derives a group's key from the batch key and what the
// group's destinations share, so it depends on nothing else in the batch.
func groupIdempotencyKey(b herald.SendBatch, idx []int) string {
	if b.IdempotencyKey == "" {
		return ""
	}
	if b.ProviderRenders {
		return b.IdempotencyKey + ":t" // one request whatever the texts
	}
	d := b.Destinations[idx[0]]
	h := fnv.New64a()
	for _, part := range []string{d.Text, d.FallbackKind, d.FallbackText, d.FallbackFrom} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return b.IdempotencyKey + ":" + strconv.FormatUint(h.Sum64(), 36)
}

// groupKey is what must be equal for destinations to share one request.
type groupKey struct{ text, kind, fallbackText, from string }

// groupDestinations returns the indexes of destinations sharing a text and
// fallback, groups in order of first appearance.
func groupDestinations(ds []herald.Destination) [][]int {
	pos := make(map[groupKey]int, 1)
	var groups [][]int
	for i, d := range ds {
		k := groupKey{d.Text, d.FallbackKind, d.FallbackText, d.FallbackFrom}
		g, ok := pos[k]
		if !ok {
			g = len(groups)
			pos[k] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], i)
	}
	return groups
}

// buildRequest writes the wire request for the destinations at idx, which
// share their text and fallback.
func buildRequest(b herald.SendBatch, idx []int, key string) (SendRequest, error) {
	first := b.Destinations[idx[0]]
	flow, err := messageFlow(b, first)
	if err != nil {
		return SendRequest{}, err
	}
	req := SendRequest{Destinations: make([]Destination, len(idx)), MessageFlow: flow, Ref: b.Ref}
	for j, i := range idx {
		d := b.Destinations[i]
		req.Destinations[j] = Destination{To: d.To, Ref: d.MessageID}
		if b.ProviderRenders {
			// Required with sendType "template", also for a template
			// without variables: an empty object, never absent.
			req.Destinations[j].ReplaceWords = d.ReplaceWords
			if d.ReplaceWords == nil {
				req.Destinations[j].ReplaceWords = map[string]string{}
			}
		}
	}
	if key != "" {
		ttl := ttlSeconds(b.IdempotencyTTL)
		req.IdempotencyKey, req.IdempotencyTTL = key, &ttl
	}
	return req, nil
}

// ttlSeconds clamps a TTL to the API's range; no TTL means the longest.
// The API takes 0 (the key is not remembered at all), but herald never
// wants that: a request left in doubt is settled by resending it under the
// same key, and only a remembered key stops the copy from being delivered
// again. So a zero SendBatch.IdempotencyTTL means "not set", not 0.
func ttlSeconds(d time.Duration) int {
	s := int(d / time.Second)
	if s <= 0 || s > MaxIdempotencyTTL {
		return MaxIdempotencyTTL
	}
	return s
}

// messageFlow is the AlimTalk item and, when asked for, the fallback item.
func messageFlow(b herald.SendBatch, d herald.Destination) ([]FlowItem, error) {
	alim := &AlimtalkItem{
		SenderKey: b.SenderKey, TemplateCode: b.TemplateCode, MsgType: "AT",
		Text: d.Text, Title: b.Title,
	}
	if len(b.Buttons) > 0 {
		alim.Attachment = &Attachment{Button: ButtonsToWire(b.Buttons)}
	}
	if b.ProviderRenders {
		// The spec documents only senderKey and templateCode for this mode
		// (the provider takes title and buttons from the approved template).
		alim = &AlimtalkItem{SenderKey: b.SenderKey, TemplateCode: b.TemplateCode, SendType: "template"}
	}
	flow := []FlowItem{{Alimtalk: alim}}
	switch d.FallbackKind {
	case "":
		return flow, nil
	case "SMS":
		return append(flow, FlowItem{SMS: &SMSItem{From: d.FallbackFrom, Text: d.FallbackText}}), nil
	case "LMS", "MMS":
		return append(flow, FlowItem{MMS: &MMSItem{From: d.FallbackFrom, Text: d.FallbackText}}), nil
	}
	return nil, herald.Invalid("fallbackKind", "%q is not SMS, LMS or empty", d.FallbackKind)
}

// ButtonsToWire converts herald's buttons to the API's.
func ButtonsToWire(bs []herald.Button) []Button {
	out := make([]Button, len(bs))
	for i, b := range bs {
		out[i] = Button{
			Type: b.Type, Name: b.Name, URLMobile: b.URLMobile, URLPC: b.URLPC,
			SchemeIOS: b.SchemeIOS, SchemeAndroid: b.SchemeAndroid,
			ChatExtra: b.ChatExtra, ChatEvent: b.ChatEvent, PluginID: b.PluginID, TelNumber: b.TelNumber,
		}
	}
	return out
}

func fill(out []herald.Outcome, o herald.Outcome) {
	for i := range out {
		out[i] = o
	}
}

func refused(kind herald.OutcomeKind, code, text string) herald.Outcome {
	return herald.Outcome{Kind: kind, Code: code, Text: text}
}
