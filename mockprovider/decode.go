package mockprovider

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"unicode/utf8"

	"github.com/heraldhq/herald/infobank"
	"github.com/heraldhq/herald/template"
)

// RequestError is a send request the mock refuses whole: the HTTP status,
// the service code (data.code) and the field at fault.
type RequestError struct {
	Status  int
	Code    string
	Field   string
	Message string
}

// Error names the field.
func (e *RequestError) Error() string { return e.Field + ": " + e.Message }

func badRequest(code, field, format string, args ...any) *RequestError {
	return &RequestError{Status: http.StatusBadRequest, Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

// DecodeSendRequest parses and checks a send request as the provider would
// before looking at its destinations one by one. Unknown fields are
// ignored. Per-destination problems (a bad number) are not errors here:
// they get their own code in the answer.
func DecodeSendRequest(body []byte) (*infobank.SendRequest, *RequestError) {
	var req infobank.SendRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, jsonError(err)
	}
	if err := checkDestinations(req.Destinations); err != nil {
		return nil, err
	}
	if err := checkIdempotency(&req); err != nil {
		return nil, err
	}
	if err := checkFlow(req.MessageFlow); err != nil {
		return nil, err
	}
	return &req, nil
}

func jsonError(err error) *RequestError {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "body"
		}
		return badRequest(infobank.CodeMapping, field, "must be a JSON %s", te.Type.Kind())
	}
	return badRequest(infobank.CodeParse, "body", "is not JSON: %v", err)
}

func checkDestinations(ds []infobank.Destination) *RequestError {
	switch {
	case len(ds) == 0:
		return badRequest(infobank.CodeMapping, "destinations", "at least one is required")
	case len(ds) > infobank.MaxDestinations:
		return badRequest(infobank.CodeTooMany, "destinations", "%d is more than %d", len(ds), infobank.MaxDestinations)
	}
	return nil
}

func checkIdempotency(req *infobank.SendRequest) *RequestError {
	if req.IdempotencyKey == "" {
		return nil
	}
	if n := len(req.IdempotencyKey); n > infobank.MaxIdempotencyKey {
		return badRequest(infobank.CodeBadIdemKey, "idempotencyKey", "is %d characters, more than %d", n, infobank.MaxIdempotencyKey)
	}
	if req.IdempotencyTTL == nil {
		return badRequest(infobank.CodeBadIdemTTL, "idempotencyTtl", "is required with idempotencyKey")
	}
	if t := *req.IdempotencyTTL; t < 0 || t > infobank.MaxIdempotencyTTL {
		return badRequest(infobank.CodeBadIdemTTL, "idempotencyTtl", "%d is outside 0..%d", t, infobank.MaxIdempotencyTTL)
	}
	return nil
}

// checkFlow wants an AlimTalk item first, then at most SMS/LMS fallbacks.
func checkFlow(flow []infobank.FlowItem) *RequestError {
	if len(flow) == 0 {
		return badRequest(infobank.CodeMapping, "messageFlow", "at least one item is required")
	}
	if flow[0].Alimtalk == nil || flow[0].SMS != nil || flow[0].MMS != nil {
		return badRequest(infobank.CodeMapping, "messageFlow[0]", "must hold exactly one item, alimtalk")
	}
	if err := checkAlimtalk(flow[0].Alimtalk); err != nil {
		return err
	}
	for i, item := range flow[1:] {
		if err := checkFallback(fmt.Sprintf("messageFlow[%d]", i+1), item); err != nil {
			return err
		}
	}
	return nil
}

func checkAlimtalk(a *infobank.AlimtalkItem) *RequestError {
	const f = "messageFlow[0].alimtalk."
	switch {
	case a.SenderKey == "":
		return badRequest(infobank.CodeBadSenderKey, f+"senderKey", "is required")
	case a.TemplateCode == "":
		return badRequest(infobank.CodeBadTemplate, f+"templateCode", "is required")
	case a.SendType != "" && a.SendType != "template":
		return badRequest(infobank.CodeMapping, f+"sendType", "must be \"template\" or absent")
	case a.SendType == "template":
		return checkButtons(a.Attachment)
	case a.MsgType != "AT" && a.MsgType != "AI":
		return badRequest(infobank.CodeBadMsgType, f+"msgType", "must be AT or AI")
	case a.Text == "":
		return badRequest(infobank.CodeBadText, f+"text", "is required")
	case utf8.RuneCountInString(a.Text) > infobank.MaxTextLen:
		return badRequest(infobank.CodeTextTooLong, f+"text", "is longer than %d characters", infobank.MaxTextLen)
	}
	return checkButtons(a.Attachment)
}

func checkButtons(at *infobank.Attachment) *RequestError {
	if at == nil {
		return nil
	}
	const f = "messageFlow[0].alimtalk.attachment.button"
	if len(at.Button) > infobank.MaxButtons {
		return badRequest(infobank.CodeBadButton, f, "at most %d buttons", infobank.MaxButtons)
	}
	for i, b := range at.Button {
		if b.Type == "" {
			return badRequest(infobank.CodeBadButtonType, fmt.Sprintf("%s[%d].type", f, i), "is required")
		}
		if b.Name == "" {
			return badRequest(infobank.CodeBadButtonName, fmt.Sprintf("%s[%d].name", f, i), "is required")
		}
	}
	return nil
}

// checkFallback accepts an SMS (≤ 90 bytes EUC-KR) or an LMS (mms without
// files, ≤ 2000 bytes).
func checkFallback(field string, item infobank.FlowItem) *RequestError {
	switch {
	case item.Alimtalk == nil && item.SMS != nil && item.MMS == nil:
		return checkShortText(field+".sms", item.SMS.From, item.SMS.Text, template.SMSMaxBytes)
	case item.Alimtalk == nil && item.SMS == nil && item.MMS != nil:
		return checkShortText(field+".mms", item.MMS.From, item.MMS.Text, template.LMSMaxBytes)
	}
	return badRequest(infobank.CodeMapping, field, "must hold exactly one item, sms or mms")
}

func checkShortText(field, from, text string, maxBytes int) *RequestError {
	if from == "" {
		return badRequest(infobank.CodeBadFrom, field+".from", "is required")
	}
	if text == "" {
		return badRequest(infobank.CodeBadText, field+".text", "is required")
	}
	n, err := template.EUCKRLen(text)
	if err != nil {
		return badRequest(infobank.CodeFallbackLong, field+".text", "%v", err)
	}
	if n > maxBytes {
		return badRequest(infobank.CodeFallbackLong, field+".text", "is %d bytes in EUC-KR, more than %d", n, maxBytes)
	}
	return nil
}

// isKoreanMobile accepts 010 + 8 digits and the old 011/016–019 numbers
// with 7 or 8 digits, digits only.
func isKoreanMobile(s string) bool {
	if len(s) != 10 && len(s) != 11 || s[0] != '0' || s[1] != '1' {
		return false
	}
	for i := 2; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	switch s[2] {
	case '0':
		return len(s) == 11
	case '1', '6', '7', '8', '9':
		return true
	}
	return false
}
