package template

import (
	"errors"
	"fmt"
	"unicode/utf8"

	herald "github.com/heraldhq/herald"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/transform"
)

// Substitute-sending limits (reference §2.2, §7).
const (
	SMSMaxBytes   = 90   // an SMS body in EUC-KR bytes (Hangul 2, ASCII 1): about 45 Hangul
	LMSMaxBytes   = 2000 // an LMS body in EUC-KR bytes
	MaxSubjectLen = 20   // an LMS subject in characters (Infobank's fallback title limit)
)

// Fallback kinds, as the providers name them.
const (
	FallbackSMS = "SMS" // short message, no subject
	FallbackLMS = "LMS" // long message, optional subject
)

// fallbackTitleSep puts the title on a line of its own.
const fallbackTitleSep = "\n"

// Fallback is the SMS or LMS sent when the AlimTalk leg fails.
type Fallback struct {
	Kind    string // FallbackSMS or FallbackLMS
	Text    string
	Subject string // LMS only
	Bytes   int    // EUC-KR length of Text
}

// FallbackFor derives the substitute message from a rendered body and title.
// The title goes first in the text ("title\ntext") because emphasis titles
// often carry the key fact (an amount) and SMS has no subject; if that does
// not fit an SMS, the message is an LMS whose subject is the title when it is
// short enough, else the title stays as the first line. Text is never
// truncated: over 2,000 bytes, or a character EUC-KR lacks (emoji), is an error.
func FallbackFor(text, title string) (Fallback, error) {
	textLen, err := euckrLen("text", text)
	if err != nil {
		return Fallback{}, err
	}
	titleLen, err := euckrLen("title", title)
	if err != nil {
		return Fallback{}, err
	}
	if title == "" {
		return choose(text, "", textLen)
	}
	n := titleLen + len(fallbackTitleSep) + textLen
	if n > SMSMaxBytes && utf8.RuneCountInString(title) <= MaxSubjectLen {
		return choose(text, title, textLen)
	}
	return choose(title+fallbackTitleSep+text, "", n)
}

// choose picks SMS for a short text without a subject, else LMS.
func choose(text, subject string, n int) (Fallback, error) {
	switch {
	case subject == "" && n <= SMSMaxBytes:
		return Fallback{Kind: FallbackSMS, Text: text, Bytes: n}, nil
	case n <= LMSMaxBytes:
		return Fallback{Kind: FallbackLMS, Text: text, Subject: subject, Bytes: n}, nil
	}
	return Fallback{}, herald.Invalid("text", "is %d bytes in EUC-KR as a fallback; an LMS allows at most %d", n, LMSMaxBytes)
}

// EUCKRLen returns the length of s in EUC-KR (Korean carriers' SMS
// encoding; x/text's EUC-KR is CP949, which has every Hangul syllable). A
// character it cannot encode is a *PosError naming the character and where.
func EUCKRLen(s string) (int, error) { return euckrLen("", s) }

func euckrLen(field, s string) (int, error) {
	enc := korean.EUCKR.NewEncoder()
	var src [256]byte
	var dst [2 * len(src)]byte // EUC-KR never needs more than 2 bytes per input byte
	total, done := 0, 0
	for done < len(s) {
		n := copy(src[:], s[done:])
		nDst, nSrc, err := enc.Transform(dst[:], src[:n], done+n == len(s))
		total += nDst
		done += nSrc
		// ErrShortSrc: a character was cut at the end of the chunk; the next
		// chunk starts with it.
		if err != nil && !errors.Is(err, transform.ErrShortSrc) {
			return 0, unencodable(field, s, done)
		}
	}
	return total, nil
}

// unencodable describes the character at byte i of s that EUC-KR lacks.
func unencodable(field, s string, i int) error {
	r, size := utf8.DecodeRuneInString(s[i:])
	reason := fmt.Sprintf("%q (U+%04X) cannot be sent by SMS/LMS (no EUC-KR encoding)", r, r)
	if r == utf8.RuneError && size == 1 {
		reason = "invalid UTF-8"
	}
	return &PosError{Field: field, Offset: utf8.RuneCountInString(s[:i]), Reason: reason}
}
