package infobank

import (
	"slices"
	"testing"
)

func TestCodeMeaning(t *testing.T) {
	m := CodeMeaning("63019")
	if !m.Known || !m.Retryable || m.Ko != "카카오톡 사용자가 아님" || m.En != "not a KakaoTalk user" {
		t.Fatalf("63019 = %+v", m)
	}
	if m := CodeMeaning(" 63016 "); !m.Known || m.Retryable {
		t.Fatalf("63016 = %+v: known, not retryable (fails alike until the template is fixed)", m)
	}
	if m := CodeMeaning("NOPE"); m.Known || m.Retryable || m.En != "unknown code" {
		t.Fatalf("an unknown code = %+v", m)
	}
	// Nothing after which the message may have arrived is retryable.
	for _, code := range []string{"10000", "63005", "3005", "6ME09", "64000", "64001", "IN_DOUBT", "NO_REPORT", "99999"} {
		if CodeMeaning(code).Retryable {
			t.Errorf("%s is retryable: the message may have arrived", code)
		}
	}
	codes := RetryableCodes()
	if !slices.IsSorted(codes) || !slices.Contains(codes, "63020") || slices.Contains(codes, "63016") {
		t.Fatalf("retryable codes %v", codes)
	}
	for code, m := range meanings {
		if m.Ko == "" || m.En == "" {
			t.Errorf("%s has no meaning in both languages: %+v", code, m)
		}
	}
}
