package template

import (
	"errors"
	"slices"
	"testing"

	herald "github.com/heraldhq/herald"
)

const (
	orderShipped = "#{name}님, 주문하신 상품이 발송되었습니다.\n송장번호: #{invoice}"
	reservation  = "[#{brand}] 예약 안내\n#{name}님, #{date} #{time}에 #{place} 예약이 확정되었습니다.\n변경·취소는 하루 전까지 가능합니다."
	receipt      = "#{name}님, 결제가 완료되었습니다 🎉\n■ 결제금액: #{amount}원\n■ 결제수단: #{method}\n■ 주문번호: #{orderId}\n\n#{name}님, 감사합니다!"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text string
		lits []string
		vars []string
	}{
		{"", []string{""}, nil},
		{"안녕하세요", []string{"안녕하세요"}, nil},
		{orderShipped, []string{"", "님, 주문하신 상품이 발송되었습니다.\n송장번호: ", ""}, []string{"name", "invoice"}},
		{"#{a}#{b}", []string{"", "", ""}, []string{"a", "b"}},
		{"#{고객명}님", []string{"", "님"}, []string{"고객명"}},
		{"#{order_id2}", []string{"", ""}, []string{"order_id2"}},
		// A lone # or { or } is text; ## before { leaves one # as text.
		{"# { } ##{x}}", []string{"# { } #", "}"}, []string{"x"}},
		{"  #{a} \t ", []string{"  ", " \t "}, []string{"a"}},
	}
	for _, tt := range tests {
		p, err := Parse(tt.text)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.text, err)
		}
		if !slices.Equal(p.lits, tt.lits) || !slices.Equal(p.vars, tt.vars) {
			t.Errorf("Parse(%q) = %q, %q; want %q, %q", tt.text, p.lits, p.vars, tt.lits, tt.vars)
		}
		if got := p.String(); got != tt.text {
			t.Errorf("Parse(%q).String() = %q", tt.text, got)
		}
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text   string
		offset int
		reason string
	}{
		{"안녕하세요 #{name", 6, "unclosed #{"},
		{"#{", 0, "unclosed #{"},
		{"주문 #{}", 3, "empty variable name in #{}"},
		{"#{이름} #{na me}", 10, `variable names hold only letters, digits, _ and Hangul, not ' '`},
		{"#{name}님 #{name\n}", 15, `variable names hold only letters, digits, _ and Hangul, not '\n'`},
		{"#{a-b}", 3, `variable names hold only letters, digits, _ and Hangul, not '-'`},
		{"#{😀}", 2, `variable names hold only letters, digits, _ and Hangul, not '😀'`},
		{"가나\xffx", 2, "invalid UTF-8"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.text)
		var pe *PosError
		if !errors.As(err, &pe) {
			t.Fatalf("Parse(%q) = %v; want a *PosError", tt.text, err)
		}
		if pe.Offset != tt.offset || pe.Reason != tt.reason || pe.Field != "text" {
			t.Errorf("Parse(%q) = %+v; want offset %d, reason %q", tt.text, pe, tt.offset, tt.reason)
		}
		var ie *herald.InvalidError
		if !errors.As(err, &ie) || ie.Field != "text" {
			t.Errorf("Parse(%q) = %v; want a *herald.InvalidError for text", tt.text, err)
		}
	}
}

func TestPosErrorMessage(t *testing.T) {
	t.Parallel()
	_, err := Parse("0123456789 #{abc")
	if got, want := err.Error(), "text: unclosed #{ at character 12"; got != want {
		t.Errorf("Error() = %q; want %q", got, want)
	}
}

func TestVars(t *testing.T) {
	t.Parallel()
	p, err := Parse(receipt)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"name", "amount", "method", "orderId"}
	if got := p.Vars(); !slices.Equal(got, want) {
		t.Errorf("Vars() = %q; want %q (distinct, in order of first use)", got, want)
	}
	p.Vars()[0] = "changed"
	if p.Vars()[0] != "name" {
		t.Error("Vars() exposes the parsed template to changes")
	}
}
