package template

import (
	"errors"
	"strings"
	"testing"

	herald "github.com/heraldhq/herald"
)

func mapLookup(m map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

func TestRender(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text   string
		values map[string]string
		want   string
	}{
		{orderShipped, map[string]string{"name": "김민수", "invoice": "6012-3456-7890"},
			"김민수님, 주문하신 상품이 발송되었습니다.\n송장번호: 6012-3456-7890"},
		{reservation, map[string]string{"brand": "헤럴드치과", "name": "이영희", "date": "5월 3일(토)", "time": "오후 2:30", "place": "강남점"},
			"[헤럴드치과] 예약 안내\n이영희님, 5월 3일(토) 오후 2:30에 강남점 예약이 확정되었습니다.\n변경·취소는 하루 전까지 가능합니다."},
		{receipt, map[string]string{"name": "박지훈", "amount": "45,000", "method": "신용카드", "orderId": "A-20260424-001"},
			"박지훈님, 결제가 완료되었습니다 🎉\n■ 결제금액: 45,000원\n■ 결제수단: 신용카드\n■ 주문번호: A-20260424-001\n\n박지훈님, 감사합니다!"},
		// A value that looks like a slot is inserted literally, once.
		{"쿠폰: #{code}", map[string]string{"code": "#{name}", "name": "X"}, "쿠폰: #{name}"},
		// An explicitly empty value is the caller's choice.
		{"[#{a}]", map[string]string{"a": ""}, "[]"},
		{"변수 없음", nil, "변수 없음"},
	}
	for _, tt := range tests {
		p, err := Parse(tt.text)
		if err != nil {
			t.Fatal(err)
		}
		got, err := p.Render(mapLookup(tt.values))
		if err != nil || got != tt.want {
			t.Errorf("Render(%q) = %q, %v; want %q", tt.text, got, err, tt.want)
		}
		if !p.Matches(got) {
			t.Errorf("Render(%q) = %q does not match its own template", tt.text, got)
		}
	}
}

func TestRenderMissingValue(t *testing.T) {
	t.Parallel()
	p, err := Parse(orderShipped)
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Render(mapLookup(map[string]string{"name": "김민수"}))
	var ie *herald.InvalidError
	if !errors.As(err, &ie) || ie.Field != "variables.invoice" || ie.Message != "no value for #{invoice}" {
		t.Fatalf("Render = %q, %v; want an InvalidError naming invoice", got, err)
	}
	if got != "" {
		t.Errorf("Render returned %q alongside its error", got)
	}
}

func TestMemberLookup(t *testing.T) {
	t.Parallel()
	m := herald.Member{
		ID: "m-1", Phone: "01012345678", Name: "김민수",
		Attributes: map[string]string{"name": "attr-name", "invoice": "6012", "brand": "member-brand", "empty": ""},
	}
	constants := map[string]string{"brand": "헤럴드", "invoice": "const", "event": "봄 세일", "phone": "const-phone"}
	lookup := MemberLookup(m, constants)
	tests := []struct {
		name, want string
		ok         bool
	}{
		{"name", "김민수", true},          // field beats attribute
		{"phone", "01012345678", true}, // field beats constant
		{"id", "m-1", true},
		{"memberId", "m-1", true},
		{"invoice", "6012", true},       // attribute beats constant
		{"brand", "member-brand", true}, // attribute beats constant
		{"event", "봄 세일", true},         // constant as the default
		{"empty", "", true},             // an explicit empty attribute is used
		{"coupon", "", false},
	}
	for _, tt := range tests {
		if got, ok := lookup(tt.name); got != tt.want || ok != tt.ok {
			t.Errorf("lookup(%q) = %q, %v; want %q, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
	// An empty field falls through rather than rendering "님, …".
	noName := MemberLookup(herald.Member{ID: "m-2"}, map[string]string{"name": "고객"})
	if got, _ := noName("name"); got != "고객" {
		t.Errorf("empty member name gave %q; want the constant", got)
	}
	if _, ok := MemberLookup(herald.Member{ID: "m-3"}, nil)("name"); ok {
		t.Error("empty member name with no fallback was reported as present")
	}
}

func shippingTemplate() herald.Template {
	return herald.Template{
		Code: "ORDER_SHIPPED_v2", SenderKey: "sk-test", Text: orderShipped,
		Title: "송장 #{invoice}", Status: herald.TemplateApproved,
		Buttons: []herald.Button{
			{Type: "DS", Name: "배송 조회"},
			{Type: "WL", Name: "주문 상세", URLMobile: "https://shop.example.com/orders/#{orderId}?from=kakao", URLPC: "https://shop.example.com/orders"},
			{Type: "AL", Name: "앱에서 보기", SchemeIOS: "shop://orders/#{orderId}", SchemeAndroid: "shop://orders/#{orderId}"},
		},
	}
}

func TestCompiledRender(t *testing.T) {
	t.Parallel()
	c, err := Compile(shippingTemplate())
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Vars(), ","); got != "name,invoice,orderId" {
		t.Errorf("Vars() = %s", got)
	}
	m, err := c.Render(mapLookup(map[string]string{"name": "김민수", "invoice": "6012", "orderId": "A1"}))
	if err != nil {
		t.Fatal(err)
	}
	if m.Title != "송장 6012" || m.Buttons[1].URLMobile != "https://shop.example.com/orders/A1?from=kakao" ||
		m.Buttons[2].SchemeAndroid != "shop://orders/A1" || m.Buttons[1].URLPC != "https://shop.example.com/orders" {
		t.Errorf("Render = %+v", m)
	}
	if field := c.Mismatch(m); field != "" {
		t.Errorf("Mismatch(rendered) = %q; want a match", field)
	}
	bad := m
	bad.Buttons = append([]herald.Button(nil), m.Buttons...)
	bad.Buttons[0].Name = "배송조회"
	if field := c.Mismatch(bad); field != "buttons" {
		t.Errorf("Mismatch(renamed button) = %q; want buttons", field)
	}
	bad.Buttons[0].Name = m.Buttons[0].Name
	bad.Buttons[1].URLMobile = "https://evil.example.com/orders/A1?from=kakao"
	if field := c.Mismatch(bad); field != "buttons" {
		t.Errorf("Mismatch(changed link) = %q; want buttons", field)
	}
	bad.Buttons = m.Buttons[:2]
	if field := c.Mismatch(bad); field != "buttons" {
		t.Errorf("Mismatch(dropped button) = %q; want buttons", field)
	}
	if field := c.Mismatch(Message{Text: m.Text, Buttons: m.Buttons}); field != "title" {
		t.Errorf("Mismatch(no title) = %q; want title", field)
	}
	if field := c.Mismatch(Message{Text: strings.Replace(m.Text, "발송", "배송", 1), Title: m.Title, Buttons: m.Buttons}); field != "text" {
		t.Errorf("Mismatch(edited text) = %q; want text", field)
	}
	if _, err := c.Render(mapLookup(map[string]string{"name": "김민수", "invoice": "6012"})); err == nil ||
		!strings.Contains(err.Error(), "#{orderId}") {
		t.Errorf("Render without orderId (needed only by a button) = %v", err)
	}
}

func TestCompiledRenderLengths(t *testing.T) {
	t.Parallel()
	c, err := Compile(shippingTemplate())
	if err != nil {
		t.Fatal(err)
	}
	long := func(n int) string { return strings.Repeat("가", n) }
	tests := []struct {
		values map[string]string
		field  string
	}{
		{map[string]string{"name": long(MaxTextLen), "invoice": "1", "orderId": "1"}, "text"},
		{map[string]string{"name": "a", "invoice": long(MaxTitleLen + 1), "orderId": "1"}, "title"},
		{map[string]string{"name": "a", "invoice": "1", "orderId": long(MaxURLLen)}, "buttons[1].urlMobile"},
	}
	for _, tt := range tests {
		_, err := c.Render(mapLookup(tt.values))
		var ie *herald.InvalidError
		if !errors.As(err, &ie) || ie.Field != tt.field {
			t.Errorf("Render = %v; want an error for %s", err, tt.field)
		}
	}
}

func TestCheckRenderable(t *testing.T) {
	t.Parallel()
	tmpl := shippingTemplate()
	sample := herald.Member{ID: "m-1", Name: "김민수", Phone: "01012345678", Attributes: map[string]string{"invoice": "1"}}
	if err := CheckRenderable(tmpl, map[string]string{"orderId": "x"}, sample); err != nil {
		t.Errorf("CheckRenderable = %v; want nil", err)
	}
	err := CheckRenderable(tmpl, nil, sample)
	var ie *herald.InvalidError
	if !errors.As(err, &ie) || ie.Field != "variables.orderId" {
		t.Errorf("CheckRenderable without orderId = %v", err)
	}
	tmpl.SenderKey = ""
	if err := CheckRenderable(tmpl, map[string]string{"orderId": "x"}, sample); !errors.As(err, &ie) || ie.Field != "senderKey" {
		t.Errorf("CheckRenderable of an invalid template = %v", err)
	}
}
