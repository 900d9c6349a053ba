package template

import (
	"testing"
	"unicode/utf8"

	herald "github.com/heraldhq/herald"
)

// benchText is a long shipping notice: about 300 characters with 5 variables.
const benchText = "[#{brand}] 주문 발송 안내\n\n안녕하세요, #{name} 고객님.\n" +
	"주문하신 상품이 오늘 발송되었습니다. 배송은 보통 1~2일 정도 소요되며, 지역 및 택배사 사정에 따라 다소 늦어질 수 있습니다.\n\n" +
	"■ 주문번호: #{orderId}\n■ 상품명: #{product}\n■ 송장번호: #{invoice}\n\n" +
	"배송 조회는 아래 버튼을 눌러 확인하실 수 있습니다. 상품을 받으신 후 문제가 있으시면 7일 이내에 고객센터로 연락 주시기 바랍니다. " +
	"교환 및 반품은 상품 수령 후 7일 이내에 신청하실 수 있으며, 포장을 개봉하거나 사용하신 경우에는 어려울 수 있습니다.\n\n" +
	"이용해 주셔서 감사합니다."

func benchSetup(b *testing.B) (*Parsed, func(string) (string, bool)) {
	p, err := Parse(benchText)
	if err != nil {
		b.Fatal(err)
	}
	m := herald.Member{ID: "m-1", Name: "김민수", Phone: "01012345678", Attributes: map[string]string{
		"orderId": "A-20260424-000123", "product": "무선 이어폰 (화이트)", "invoice": "6012-3456-7890", "grade": "VIP",
	}}
	lookup := MemberLookup(m, map[string]string{"brand": "헤럴드샵"})
	if n := utf8.RuneCountInString(benchText); n < 280 || n > 330 || len(p.Vars()) != 5 {
		b.Fatalf("bench template is %d characters with %d variables", n, len(p.Vars()))
	}
	return p, lookup
}

func BenchmarkRender(b *testing.B) {
	p, lookup := benchSetup(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Render(lookup); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMatches(b *testing.B) {
	p, lookup := benchSetup(b)
	text, err := p.Render(lookup)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !p.Matches(text) {
			b.Fatal("no match")
		}
	}
}

// BenchmarkMatchesUnparsed is what a caller pays for not keeping the Parsed.
func BenchmarkMatchesUnparsed(b *testing.B) {
	p, lookup := benchSetup(b)
	text, err := p.Render(lookup)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !Matches(benchText, text) {
			b.Fatal("no match")
		}
	}
}

func BenchmarkFallbackFor(b *testing.B) {
	p, lookup := benchSetup(b)
	text, err := p.Render(lookup)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := FallbackFor(text, ""); err != nil {
			b.Fatal(err)
		}
	}
}
