package infobank

import (
	"slices"
	"strings"
)

// Meaning says what a recipient's result code means, in Korean and English,
// and whether a retry takes the recipient by default.
type Meaning struct {
	Ko string `json:"ko"`
	En string `json:"en"`
	// Retryable: nothing reached the person, and a later send may. A retry
	// (POST /v1/campaigns/{id}/retry) without codes takes the FAILED rows
	// with these codes. Never a code after which the message may have
	// arrived (uncertain, in doubt), nor one that fails every send alike
	// until someone fixes the template, the account or the member's data:
	// an operator names those codes explicitly once it is fixed.
	Retryable bool `json:"retryable"`
	// Known is false for a code this table does not list.
	Known bool `json:"known"`
}

// Sources of the meanings: the Bizgo report code table (developers.bizgo.io
// error codes, as published in github.com/icomm-api/bizgo-api-spec and the
// bizgo SDKs: Kakao's own code + 60000), Kakao's native codes as listed by
// NHN Cloud (some reports carry them without the offset), docs/PROVIDER.md,
// and the codes herald itself writes (dispatch/, the stores).
var meanings = map[string]Meaning{
	"10000": {Ko: "전달 완료", En: "delivered"},

	// Kakao results, offset by 60000.
	"63005": {Ko: "발송했으나 수신 확인되지 않음", En: "sent, receipt not confirmed (uncertain: may have arrived)"},
	"63006": {Ko: "카카오 내부 오류", En: "Kakao internal error (transient)", Retryable: true},
	"63008": {Ko: "전화번호 오류", En: "phone number error"},
	"63014": {Ko: "메시지 길이 제한 초과", En: "message longer than allowed"},
	"63015": {Ko: "템플릿을 찾을 수 없음", En: "template not found"},
	"63016": {Ko: "메시지 내용이 템플릿과 일치하지 않음", En: "text does not match the approved template"},
	"63018": {Ko: "메시지를 전송할 수 없음 (비활성 사용자 등)", En: "cannot receive (inactive user and the like)", Retryable: true},
	"63019": {Ko: "카카오톡 사용자가 아님", En: "not a KakaoTalk user", Retryable: true},
	"63020": {Ko: "사용자가 알림톡 수신을 차단함", En: "the user blocked AlimTalk", Retryable: true},
	"63021": {Ko: "카카오톡 버전이 낮음", En: "KakaoTalk version too old", Retryable: true},
	"63025": {Ko: "변수 길이 초과", En: "variable longer than allowed"},
	"63027": {Ko: "버튼이 템플릿과 일치하지 않음", En: "buttons do not match the template"},
	"63028": {Ko: "제목이 템플릿과 일치하지 않음", En: "title does not match the template"},
	"63030": {Ko: "메시지 유형이 템플릿 강조 유형과 다름", En: "message type differs from the template's emphasis type"},
	"63031": {Ko: "헤더가 템플릿과 일치하지 않음", En: "header does not match the template"},
	"61003": {Ko: "유효하지 않은 발신 프로필", En: "invalid sender profile"},
	"61006": {Ko: "삭제된 발신 프로필", En: "deleted sender profile"},
	"61007": {Ko: "차단된 발신 프로필", En: "blocked sender profile"},
	"64000": {Ko: "결과를 찾을 수 없음", En: "result not found (uncertain)"},
	"64001": {Ko: "상태를 알 수 없음", En: "unknown status (uncertain)"},
	"64008": {Ko: "계정 권한 없음", En: "no account permission"},
	"64009": {Ko: "알림톡 발송 권한 없음", En: "no AlimTalk permission"},
	"6ME09": {Ko: "발송했으나 수신 불확실", En: "sent, receipt uncertain"},
	"69998": {Ko: "서비스 이용 불가", En: "service unavailable (transient)", Retryable: true},
	"69999": {Ko: "알 수 없는 시스템 오류", En: "unknown system error (transient)", Retryable: true},
	"90000": {Ko: "내부 처리 실패", En: "internal failure (transient)", Retryable: true},
	"99999": {Ko: "알 수 없는 오류", En: "unknown failure"},

	// Kakao's native codes, as some reports carry them.
	"3005": {Ko: "발송했으나 수신 확인되지 않음", En: "sent, receipt not confirmed (uncertain: may have arrived)"},
	"3006": {Ko: "카카오 내부 오류", En: "Kakao internal error (transient)", Retryable: true},
	"3008": {Ko: "전화번호 오류", En: "phone number error"},
	"3015": {Ko: "템플릿을 찾을 수 없음", En: "template not found"},
	"3016": {Ko: "메시지 내용이 템플릿과 일치하지 않음", En: "text does not match the approved template"},
	"3018": {Ko: "메시지를 전송할 수 없음 (비활성 사용자 등)", En: "cannot receive (inactive user and the like)", Retryable: true},
	"3019": {Ko: "카카오톡 사용자가 아님", En: "not a KakaoTalk user", Retryable: true},
	"3020": {Ko: "사용자가 알림톡 수신을 차단함", En: "the user blocked AlimTalk", Retryable: true},

	// The SMS/LMS fallback leg.
	"22000": {Ko: "문자 전송 시간 초과", En: "SMS timeout"},
	"23001": {Ko: "가입자 없음", En: "no such subscriber"},
	"23003": {Ko: "잘못된 번호", En: "bad number"},
	"23012": {Ko: "스팸으로 차단됨", En: "blocked as spam"},
	"23023": {Ko: "등록되지 않은 발신 번호", En: "unregistered caller number"},
	"23025": {Ko: "24시간 내 중복 발송", En: "duplicate within 24 hours"},

	// The provider's answers to the send, per destination.
	"A020": {Ko: "전송 속도 제한으로 거부됨 (접수되지 않음)", En: "refused for rate, never taken", Retryable: true},
	"A920": {Ko: "공급자 혼잡으로 거부됨 (접수되지 않음)", En: "provider busy, never taken", Retryable: true},
	"A306": {Ko: "잘못된 수신 번호", En: "bad destination number"},

	// Written by herald.
	"CAMPAIGN_FAILED":   {Ko: "캠페인 실패로 발송되지 않음", En: "never sent: the campaign failed", Retryable: true},
	"RENDER":            {Ko: "회원 정보로 메시지를 만들 수 없음 (발송 안 함)", En: "message could not be rendered for the member (never sent)"},
	"MISMATCH":          {Ko: "만든 메시지가 승인된 템플릿과 다름 (발송 안 함)", En: "rendered message does not match the approved template (never sent)"},
	"PANIC":             {Ko: "처리 중 내부 오류", En: "internal error while handling the send"},
	"IN_DOUBT":          {Ko: "발송 여부 불확실 (접수되었을 수 있음)", En: "in doubt: the request may have been taken"},
	"NO_REPORT":         {Ko: "결과 보고가 오지 않음", En: "no delivery report within the report window"},
	"REQUEST_TOO_LARGE": {Ko: "요청이 발신 속도 한도보다 큼", En: "frozen request larger than the sender key's rate"},
}

// CodeMeaning looks a result code up. A code the table does not list is
// not retryable and says so.
func CodeMeaning(code string) Meaning {
	m, ok := meanings[strings.TrimSpace(code)]
	if !ok {
		return Meaning{Ko: "알 수 없는 코드", En: "unknown code"}
	}
	m.Known = true
	return m
}

// RetryableCodes lists the retryable codes, sorted.
func RetryableCodes() []string {
	var out []string
	for code, m := range meanings {
		if m.Retryable {
			out = append(out, code)
		}
	}
	slices.Sort(out)
	return out
}
