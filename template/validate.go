package template

import (
	"strings"
	"unicode/utf8"

	herald "github.com/heraldhq/herald"
)

// Kakao's limits (reference §6). Lengths are in Unicode characters (code
// points), which is how Kakao counts: a Hangul syllable or an emoji is one.
const (
	MaxTextLen       = 1300 // body after substitution; it was 1,000 before 2025-10-28
	MaxTitleLen      = 50   // emphasis title after substitution
	MaxVars          = 40   // distinct variable names per template
	MaxButtons       = 5    // buttons per template
	MaxButtonNameLen = 14   // characters in a button name
	MaxURLLen        = 500  // characters in a button link after substitution
	MaxCodeLen       = 30   // characters in a template code
)

// Validate checks t against Kakao's template rules and returns a
// *herald.InvalidError (possibly inside a *PosError) naming the field.
func Validate(t herald.Template) error {
	_, err := Compile(t)
	return err
}

// CheckLength checks a rendered body at send time: before values are known
// Validate can only count the literal text.
func CheckLength(rendered string) error {
	return checkLen("text", rendered, MaxTextLen)
}

func checkLen(field, s string, max int) error {
	if n := utf8.RuneCountInString(s); n > max {
		return herald.Invalid(field, "is %d characters; at most %d are allowed", n, max)
	}
	return nil
}

func checkHeader(t herald.Template) error {
	if err := checkCode(t.Code); err != nil {
		return err
	}
	if strings.TrimSpace(t.SenderKey) == "" {
		return herald.Invalid("senderKey", "is required")
	}
	switch t.Status {
	case "", herald.TemplateApproved, herald.TemplateDraft, herald.TemplateRejected:
		return nil
	}
	return herald.Invalid("status", "must be %q, %q or %q, not %q",
		herald.TemplateApproved, herald.TemplateDraft, herald.TemplateRejected, t.Status)
}

func checkCode(code string) error {
	if code == "" {
		return herald.Invalid("code", "is required")
	}
	if len(code) > MaxCodeLen {
		return herald.Invalid("code", "is %d characters; at most %d are allowed", len(code), MaxCodeLen)
	}
	for _, r := range code {
		if !(r == '_' || r == '-' || r < utf8.RuneSelf && isNameRune(r)) {
			return herald.Invalid("code", "may hold only ASCII letters, digits, _ and -, not %q", r)
		}
	}
	return nil
}

// parseField parses a text field that may hold variables and checks the
// length of its literal part, which values can only make longer.
func parseField(field, s string, max int) (*Parsed, error) {
	p, err := parse(field, s)
	if err != nil {
		return nil, err
	}
	if n := p.literalRunes(); n > max {
		return nil, herald.Invalid(field, "is %d characters without its variables; at most %d are allowed", n, max)
	}
	return p, nil
}

// checkButton checks the fields each button type needs (reference §1.3, §6).
func checkButton(field string, i int, b herald.Button) error {
	if err := checkButtonName(field+".name", b.Name); err != nil {
		return err
	}
	switch b.Type {
	case "WL":
		return require(field+".urlMobile", b.URLMobile)
	case "AL":
		return checkAppLink(field, b)
	case "DS", "BK", "MD", "BC", "BT":
		// Name only; chatExtra/chatEvent are optional for BC and BT. DS also
		// needs a carrier and invoice number in the text, which Kakao checks.
		return nil
	case "AC":
		if i != 0 || b.Name != "채널 추가" {
			return herald.Invalid(field, "an AC button must be the first button and be named \"채널 추가\"")
		}
		return nil
	case "P1", "P2", "P3":
		return require(field+".pluginId", b.PluginID)
	case "TN":
		return require(field+".telNumber", b.TelNumber)
	case "BF":
		// Kakao needs bizFormKey and bizFormId, which herald.Button cannot
		// carry yet; accepting BF would fail every send with 63027.
		return herald.Invalid(field+".type", "BF (business form) buttons are not supported: they need bizFormKey and bizFormId")
	}
	return herald.Invalid(field+".type", "%q is not a button type (WL, AL, DS, BK, MD, BC, BT, AC, P1, P2, P3, TN)", b.Type)
}

func checkButtonName(field, name string) error {
	if strings.TrimSpace(name) == "" {
		return herald.Invalid(field, "is required")
	}
	if strings.Contains(name, "#{") {
		return herald.Invalid(field, "may not hold variables")
	}
	return checkLen(field, name, MaxButtonNameLen)
}

// checkAppLink applies Kakao's rule that an app link gives at least two of
// the iOS scheme, the Android scheme and the mobile web URL.
func checkAppLink(field string, b herald.Button) error {
	n := 0
	for _, s := range []string{b.SchemeIOS, b.SchemeAndroid, b.URLMobile} {
		if s != "" {
			n++
		}
	}
	if n < 2 {
		return herald.Invalid(field, "an AL button needs at least two of schemeIos, schemeAndroid and urlMobile")
	}
	return nil
}

func require(field, v string) error {
	if strings.TrimSpace(v) == "" {
		return herald.Invalid(field, "is required")
	}
	return nil
}
