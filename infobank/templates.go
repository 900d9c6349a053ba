package infobank

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	herald "github.com/heraldhq/herald"
)

// ProviderTemplate is an AlimTalk template as the provider holds it: the
// text, title and buttons exactly as inspected, and the inspection state.
type ProviderTemplate struct {
	Code       string
	SenderKey  string
	Text       string
	Title      string
	Buttons    []herald.Button
	Inspection string // REG, REQ, APR or REJ
	Blocked    bool
	Dormant    bool
}

// Status is the herald status of the template: approved for APR,
// rejected for REJ, draft otherwise (registered or under inspection). A
// blocked or dormant template cannot be sent either: it is a draft.
func (t ProviderTemplate) Status() herald.TemplateStatus {
	switch {
	case t.Blocked || t.Dormant:
		return herald.TemplateDraft
	case t.Inspection == InspectionApproved:
		return herald.TemplateApproved
	case t.Inspection == InspectionRejected:
		return herald.TemplateRejected
	}
	return herald.TemplateDraft
}

// Template is the herald template the provider's copy makes.
func (t ProviderTemplate) Template() herald.Template {
	return herald.Template{Code: t.Code, SenderKey: t.SenderKey, Text: t.Text, Title: t.Title, Buttons: t.Buttons, Status: t.Status()}
}

// ListTemplates reads every AlimTalk template of senderKey, a page of 100
// at a time (offset counts templates), under Config.APILimiter. It stops
// at a page shorter than asked for.
func (c *Client) ListTemplates(ctx context.Context, senderKey string) ([]ProviderTemplate, error) {
	if senderKey == "" {
		return nil, herald.Invalid("senderKey", "is required")
	}
	var out []ProviderTemplate
	for offset := 0; ; {
		q := url.Values{"senderKey": {senderKey}, "offset": {strconv.Itoa(offset)}, "limit": {strconv.Itoa(MaxTemplatePage)}}
		var resp TemplateListResponse
		if err := c.call(ctx, http.MethodGet, PathTemplateList+"?"+q.Encode(), &resp); err != nil {
			return nil, fmt.Errorf("list templates: %w", err)
		}
		var page []WireTemplate
		if d := resp.Data.Data; d != nil && d.Alimtalk != nil {
			page = d.Alimtalk.Templates
		}
		for _, w := range page {
			out = append(out, FromWireTemplate(w, senderKey))
		}
		if len(page) < MaxTemplatePage {
			return out, nil
		}
		offset += len(page)
	}
}

// FromWireTemplate converts the API's template; senderKey fills an absent
// senderKey (the list is per sender key).
func FromWireTemplate(w WireTemplate, senderKey string) ProviderTemplate {
	t := ProviderTemplate{
		Code: w.TemplateCode, SenderKey: w.SenderKey, Text: w.Text, Title: w.Title,
		Inspection: w.InspectionStatus, Blocked: w.Block == "true", Dormant: w.Dormant == "true",
	}
	if t.SenderKey == "" {
		t.SenderKey = senderKey
	}
	if w.Attachment != nil {
		t.Buttons = ButtonsFromWire(w.Attachment.Button)
	}
	return t
}

// ButtonsFromWire converts the API's buttons to herald's.
func ButtonsFromWire(bs []Button) []herald.Button {
	out := make([]herald.Button, len(bs))
	for i, b := range bs {
		out[i] = herald.Button{
			Type: b.Type, Name: b.Name, URLMobile: b.URLMobile, URLPC: b.URLPC,
			SchemeIOS: b.SchemeIOS, SchemeAndroid: b.SchemeAndroid,
			ChatExtra: b.ChatExtra, ChatEvent: b.ChatEvent, PluginID: b.PluginID, TelNumber: b.TelNumber,
		}
	}
	return out
}
