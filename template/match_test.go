package template

import "testing"

func TestMatches(t *testing.T) {
	t.Parallel()
	tests := []struct {
		approved, text string
		want           bool
	}{
		{orderShipped, "김민수님, 주문하신 상품이 발송되었습니다.\n송장번호: 6012-3456-7890", true},
		{orderShipped, "김민수님, 주문하신 상품이 발송되었습니다.\n송장번호:6012-3456-7890", false},   // space lost
		{orderShipped, "김민수님, 주문하신 상품이 발송되었습니다. \n송장번호: 6012-3456-7890", false}, // space added
		{orderShipped, "김민수님,  주문하신 상품이 발송되었습니다!\n송장번호: 1", false},
		{orderShipped, "님, 주문하신 상품이 발송되었습니다.\n송장번호: ", true}, // empty values
		{receipt, "이영희님, 결제가 완료되었습니다 🎉\n■ 결제금액: 45,000원\n■ 결제수단: 신용카드\n■ 주문번호: A-1\n\n이영희님, 감사합니다!", true},
		{receipt, "이영희님, 결제가 완료되었습니다 🎊\n■ 결제금액: 45,000원\n■ 결제수단: 신용카드\n■ 주문번호: A-1\n\n이영희님, 감사합니다!", false},
		// A repeated variable is not required to repeat its value: the
		// provider only sees literals, so neither can we.
		{receipt, "가님, 결제가 완료되었습니다 🎉\n■ 결제금액: 1원\n■ 결제수단: x\n■ 주문번호: 2\n\n나님, 감사합니다!", true},
		{"#{a}-#{b}", "x-y-z", true},
		{"#{a}-#{b}", "xyz", false},
		{"#{a}#{b}", "", true},
		{"#{a}#{b}", "anything at all", true},
		{"a#{x}a", "a", false}, // head and tail may not share a character
		{"a#{x}a", "aa", true},
		{"ab#{x}ab#{y}ab", "abab", false},
		{"ab#{x}ab#{y}ab", "ababab", true},
		{"ab#{x}ab#{y}ab", "abxabababyab", true},
		{"#{x}aab", "aaab", true}, // needs the later occurrence of "aab"
		{"x#{a}yz#{b}yzw", "xyzyzyzw", true},
		{"x#{a}yz#{b}yzw", "xyzyzw", true},
		{"x#{a}yz#{b}yzw", "xyzyw", false},
		{"고정 문구", "고정 문구", true},
		{"고정 문구", "고정  문구", false},
		{"고정 문구", "", false},
		{"", "", true},
		{"", "x", false},
		{"#{unclosed", "#{unclosed", false}, // an invalid template matches nothing
	}
	for _, tt := range tests {
		if got := Matches(tt.approved, tt.text); got != tt.want {
			t.Errorf("Matches(%q, %q) = %v; want %v", tt.approved, tt.text, got, tt.want)
		}
	}
}
