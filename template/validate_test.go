package template

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	herald "github.com/heraldhq/herald"
)

func TestValidateAccepts(t *testing.T) {
	t.Parallel()
	ok := []herald.Template{
		shippingTemplate(),
		{Code: "RESV-1", SenderKey: "k", Text: reservation},
		{Code: "receipt_01", SenderKey: "k", Text: receipt, Title: "#{amount}원", Status: herald.TemplateDraft},
		{Code: "A", SenderKey: "k", Text: strings.Repeat("가", MaxTextLen) + "#{long}"}, // variables not counted yet
		{Code: "REPEAT", SenderKey: "k", Text: strings.Repeat("#{name} ", MaxVars+1)},  // one name, one variable
		{Code: "BTN", SenderKey: "k", Text: "x", Buttons: []herald.Button{
			{Type: "AC", Name: "채널 추가"},
			{Type: "BC", Name: "상담원 연결", ChatExtra: "order=1"},
			{Type: "TN", Name: "전화하기", TelNumber: "1588-0000"},
			{Type: "P1", Name: "플러그인", PluginID: "plugin-1"},
			{Type: "AL", Name: "앱 열기", URLMobile: "HTTPS://m.example.com", SchemeAndroid: "app://x"},
		}},
	}
	for _, tmpl := range ok {
		if err := Validate(tmpl); err != nil {
			t.Errorf("Validate(%s) = %v", tmpl.Code, err)
		}
	}
}

func TestValidateRejects(t *testing.T) {
	t.Parallel()
	base := herald.Template{Code: "ORDER", SenderKey: "k", Text: orderShipped}
	with := func(change func(*herald.Template)) herald.Template {
		tmpl := base
		change(&tmpl)
		return tmpl
	}
	button := func(b ...herald.Button) herald.Template {
		return with(func(t *herald.Template) { t.Buttons = b })
	}
	manyVars := ""
	for i := range MaxVars + 1 {
		manyVars += fmt.Sprintf("#{v%d}", i)
	}
	tests := []struct {
		name  string
		tmpl  herald.Template
		field string
	}{
		{"no code", with(func(t *herald.Template) { t.Code = "" }), "code"},
		{"long code", with(func(t *herald.Template) { t.Code = strings.Repeat("A", MaxCodeLen+1) }), "code"},
		{"code with space", with(func(t *herald.Template) { t.Code = "주문 발송" }), "code"},
		{"no sender key", with(func(t *herald.Template) { t.SenderKey = " " }), "senderKey"},
		{"bad status", with(func(t *herald.Template) { t.Status = "APR" }), "status"},
		{"no text", with(func(t *herald.Template) { t.Text = " \n" }), "text"},
		{"long text", with(func(t *herald.Template) { t.Text = strings.Repeat("가", MaxTextLen+1) }), "text"},
		{"unclosed", with(func(t *herald.Template) { t.Text = "#{name님" }), "text"},
		{"too many vars", with(func(t *herald.Template) { t.Text = manyVars }), "text"},
		{"long title", with(func(t *herald.Template) { t.Title = strings.Repeat("a", MaxTitleLen+1) }), "title"},
		{"bad title", with(func(t *herald.Template) { t.Title = "#{}" }), "title"},
		{"six buttons", button(make([]herald.Button, 6)...), "buttons"},
		{"unknown type", button(herald.Button{Type: "XX", Name: "x"}), "buttons[0].type"},
		{"business form", button(herald.Button{Type: "BF", Name: "x"}), "buttons[0].type"},
		{"no name", button(herald.Button{Type: "BK", Name: ""}), "buttons[0].name"},
		{"long name", button(herald.Button{Type: "BK", Name: strings.Repeat("가", MaxButtonNameLen+1)}), "buttons[0].name"},
		{"variable name", button(herald.Button{Type: "BK", Name: "#{name}님"}), "buttons[0].name"},
		{"WL no url", button(herald.Button{Type: "BK", Name: "a"}, herald.Button{Type: "WL", Name: "b"}), "buttons[1].urlMobile"},
		{"WL ftp", button(herald.Button{Type: "WL", Name: "b", URLMobile: "ftp://x"}), "buttons[0].urlMobile"},
		{"WL var scheme", button(herald.Button{Type: "WL", Name: "b", URLMobile: "#{url}"}), "buttons[0].urlMobile"},
		{"WL bad pc", button(herald.Button{Type: "WL", Name: "b", URLMobile: "https://a", URLPC: "www.a.com"}), "buttons[0].urlPc"},
		{"WL long", button(herald.Button{Type: "WL", Name: "b", URLMobile: "https://a/" + strings.Repeat("x", MaxURLLen)}), "buttons[0].urlMobile"},
		{"WL unclosed", button(herald.Button{Type: "WL", Name: "b", URLMobile: "https://a/#{id"}), "buttons[0].urlMobile"},
		{"AL one link", button(herald.Button{Type: "AL", Name: "b", SchemeIOS: "app://x"}), "buttons[0]"},
		{"AC second", button(herald.Button{Type: "DS", Name: "a"}, herald.Button{Type: "AC", Name: "채널 추가"}), "buttons[1]"},
		{"AC renamed", button(herald.Button{Type: "AC", Name: "채널추가"}), "buttons[0]"},
		{"TN", button(herald.Button{Type: "TN", Name: "a"}), "buttons[0].telNumber"},
		{"P2", button(herald.Button{Type: "P2", Name: "a"}), "buttons[0].pluginId"},
	}
	for _, tt := range tests {
		err := Validate(tt.tmpl)
		var ie *herald.InvalidError
		if !errors.As(err, &ie) || ie.Field != tt.field {
			t.Errorf("%s: Validate = %v; want an InvalidError for %q", tt.name, err, tt.field)
		}
	}
}

func TestCheckLength(t *testing.T) {
	t.Parallel()
	// Kakao counts characters, not bytes: 1,300 Hangul (3,900 bytes) fit,
	// and an emoji counts as one.
	if err := CheckLength(strings.Repeat("가", MaxTextLen-1) + "🎉"); err != nil {
		t.Errorf("CheckLength(1,300 characters) = %v", err)
	}
	err := CheckLength(strings.Repeat("a", MaxTextLen) + "\n")
	var ie *herald.InvalidError
	if !errors.As(err, &ie) || ie.Field != "text" || !strings.Contains(ie.Message, "1301") {
		t.Errorf("CheckLength(1,301 characters) = %v", err)
	}
}
