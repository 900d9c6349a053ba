package template

import (
	"errors"
	"strings"
	"testing"

	herald "github.com/heraldhq/herald"
	"golang.org/x/text/encoding/korean"
)

func TestEUCKRLen(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s    string
		want int
	}{
		{"", 0},
		{"abc 123\n", 8},
		{"가나다", 6},
		{"똠방각하", 8}, // outside KS X 1001's 2,350 syllables; CP949 still has them
		{"■ 결제금액: 45,000원", 21},
		{strings.Repeat("한", 300), 600}, // crosses the 256-byte chunks mid-character
	}
	for _, tt := range tests {
		if got, err := EUCKRLen(tt.s); got != tt.want || err != nil {
			t.Errorf("EUCKRLen(%q) = %d, %v; want %d", tt.s, got, err, tt.want)
		}
		if enc, _ := korean.EUCKR.NewEncoder().String(tt.s); len(enc) != tt.want {
			t.Errorf("EUCKRLen(%q) disagrees with the encoder: %d bytes", tt.s, len(enc))
		}
	}
}

func TestEUCKRLenRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s      string
		offset int
		reason string
	}{
		{"결제 완료 🎉", 6, `'🎉' (U+1F389) cannot be sent by SMS/LMS (no EUC-KR encoding)`},
		{strings.Repeat("가", 200) + "😀", 200, `'😀' (U+1F600) cannot be sent by SMS/LMS (no EUC-KR encoding)`},
		{"ok\xff", 2, "invalid UTF-8"},
	}
	for _, tt := range tests {
		_, err := EUCKRLen(tt.s)
		var pe *PosError
		if !errors.As(err, &pe) || pe.Offset != tt.offset || pe.Reason != tt.reason {
			t.Errorf("EUCKRLen(%q) = %v; want offset %d, %s", tt.s, err, tt.offset, tt.reason)
		}
	}
}

func TestFallbackFor(t *testing.T) {
	t.Parallel()
	shipped := "김민수님, 주문하신 상품이 발송되었습니다.\n송장번호: 6012-3456-7890" // 66 bytes
	long := strings.Repeat("가", 100)                           // 200 bytes
	tests := []struct {
		name, text, title string
		want              Fallback
	}{
		{"short", shipped, "", Fallback{Kind: FallbackSMS, Text: shipped, Bytes: 66}},
		{"title fits in SMS", "결제 완료", "45,000원", Fallback{Kind: FallbackSMS, Text: "45,000원\n결제 완료", Bytes: 18}},
		{"title pushes to LMS", shipped, "상품 발송 안내 - 김민수 고객님", Fallback{Kind: FallbackLMS, Text: shipped, Subject: "상품 발송 안내 - 김민수 고객님", Bytes: 66}},
		{"exactly 90", strings.Repeat("가", 45), "", Fallback{Kind: FallbackSMS, Text: strings.Repeat("가", 45), Bytes: 90}},
		{"91", strings.Repeat("가", 45) + ".", "", Fallback{Kind: FallbackLMS, Text: strings.Repeat("가", 45) + ".", Bytes: 91}},
		{"long title stays in text", long, strings.Repeat("제", 21), Fallback{Kind: FallbackLMS, Text: strings.Repeat("제", 21) + "\n" + long, Bytes: 243}},
		{"exactly 2000", strings.Repeat("가", 1000), "", Fallback{Kind: FallbackLMS, Text: strings.Repeat("가", 1000), Bytes: 2000}},
	}
	for _, tt := range tests {
		got, err := FallbackFor(tt.text, tt.title)
		if err != nil || got != tt.want {
			t.Errorf("%s: FallbackFor = %+v, %v; want %+v", tt.name, got, err, tt.want)
		}
	}
}

func TestFallbackForRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text, title, field, contains string
	}{
		{"emoji in text", receipt, "", "text", "U+1F389"},
		{"emoji in title", "결제 완료", "🎉 45,000원", "title", "at character 1"},
		{"over 2000 bytes", strings.Repeat("가", 1000) + "!", "", "text", "2001 bytes"},
	}
	for _, tt := range tests {
		_, err := FallbackFor(tt.text, tt.title)
		var ie *herald.InvalidError
		if !errors.As(err, &ie) || ie.Field != tt.field || !strings.Contains(err.Error(), tt.contains) {
			t.Errorf("%s: FallbackFor = %v; want an error for %s containing %q", tt.name, err, tt.field, tt.contains)
		}
	}
}
