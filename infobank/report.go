package infobank

import (
	"encoding/json"
	"errors"
	"strings"
	"time"

	herald "github.com/heraldhq/herald"
)

// TimeLayout is how Bizgo writes times (yyyy-MM-dd'T'HH:mm:ss.SSSXXX).
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// TimeLayoutSeconds is how the polling and inquiry APIs write times: no
// fractional seconds (yyyy-MM-dd'T'HH:mm:ssXXX).
const TimeLayoutSeconds = "2006-01-02T15:04:05Z07:00"

// SeedTimeLayout is how the seed's provider wrote times, in Asia/Seoul.
const SeedTimeLayout = "2006-01-02 15:04:05"

// KST is Asia/Seoul (UTC+9, no daylight saving), fixed so that no tzdata
// is needed.
var KST = time.FixedZone("KST", 9*3600)

// SeedDelivered is the seed shape's resultCode for a delivered message.
const SeedDelivered = "SUC"

// ServiceAlim is the serviceType of an AlimTalk report; fallback reports
// carry SMS, LMS or MMS.
const ServiceAlim = "ALIMTALK"

// ReportBody is one report as Bizgo posts it to the webhook and returns it
// from inquiry and polling.
type ReportBody struct {
	MsgKey      string `json:"msgKey"`
	ServiceType string `json:"serviceType"`
	MsgType     string `json:"msgType,omitempty"`
	SendTime    string `json:"sendTime,omitempty"`
	ReportTime  string `json:"reportTime"`
	ReportType  string `json:"reportType"`
	ReportCode  string `json:"reportCode"`
	ReportText  string `json:"reportText,omitempty"`
	Carrier     string `json:"carrier,omitempty"`
	Ref         string `json:"ref,omitempty"`
}

// SeedReport is the report shape of the seed's provider ("Open API").
type SeedReport struct {
	MessageID     string `json:"messageId"`
	ResultCode    string `json:"resultCode"`
	ErrorText     string `json:"errorText"`
	ReportTime    string `json:"reportTime"`
	BrandtalkType string `json:"brandtalkType"`
	Ref           string `json:"ref"`
}

// anyReport holds the fields of both shapes, so one decode serves both.
type anyReport struct {
	ReportBody
	MessageID  *string `json:"messageId"`
	ResultCode string  `json:"resultCode"`
	ErrorText  string  `json:"errorText"`
}

// EncodeReport writes r in the Bizgo shape.
func EncodeReport(r herald.Report) []byte {
	b, _ := json.Marshal(BodyFromReport(r)) // only strings: cannot fail
	return b
}

// BodyFromReport converts a report to its Bizgo wire form; times keep
// their location.
func BodyFromReport(r herald.Report) ReportBody {
	b := ReportBody{
		MsgKey: r.MsgKey, ServiceType: r.ServiceType, MsgType: r.MsgType,
		ReportTime: r.ReportTime.Format(TimeLayout), ReportType: r.ReportType,
		ReportCode: r.Code, ReportText: r.Text, Ref: r.Ref,
	}
	if !r.SendTime.IsZero() {
		b.SendTime = r.SendTime.Format(TimeLayout)
	}
	return b
}

// EncodeSeedReport writes r in the seed's shape: messageId is the msgKey,
// ref is herald's message id, a delivered report is "SUC" and any other
// code is written as it is, with the report text as errorText.
func EncodeSeedReport(r herald.Report) []byte {
	s := SeedReport{
		MessageID: r.MsgKey, ResultCode: r.Code, ErrorText: r.Text,
		ReportTime: r.ReportTime.In(KST).Format(SeedTimeLayout), Ref: r.Ref,
	}
	if r.Delivered() {
		s.ResultCode, s.ErrorText = SeedDelivered, ""
	}
	b, _ := json.Marshal(s) // only strings: cannot fail
	return b
}

// DecodeReport parses a webhook body in either shape, told apart by its
// fields: Bizgo has msgKey, the seed has messageId. Unknown fields are
// ignored; a missing required field is a *herald.InvalidError naming it.
//
// The seed shape maps to: MsgKey = messageId; Ref = ref, or messageId when
// ref is empty (herald matches by ref first, then by msgKey, so either
// kind of id in messageId finds its message); resultCode "SUC" → Code
// "10000", any other resultCode is kept as the Code (a failure);
// Text = errorText; ServiceType "ALIMTALK".
func DecodeReport(body []byte) (herald.Report, error) {
	var a anyReport
	if err := json.Unmarshal(body, &a); err != nil {
		return herald.Report{}, jsonInvalid(err)
	}
	var r herald.Report
	var err error
	if a.MsgKey == "" && a.MessageID != nil {
		r, err = seedToReport(a)
	} else {
		r, err = ReportFromBody(a.ReportBody)
	}
	r.Raw = body
	return r, err
}

// ReportFromBody validates a Bizgo report and converts it. An unparsable
// sendTime is left zero rather than refused: it is informational, and a
// refusal would only make the provider retry and then drop the report.
func ReportFromBody(b ReportBody) (herald.Report, error) {
	if err := requireFields(
		"msgKey", b.MsgKey, "serviceType", b.ServiceType, "reportTime", b.ReportTime,
		"reportType", b.ReportType, "reportCode", b.ReportCode); err != nil {
		return herald.Report{}, err
	}
	at, err := ParseTime(b.ReportTime)
	if err != nil {
		return herald.Report{}, herald.Invalid("reportTime", "%q is not a time like %s", b.ReportTime, TimeLayout)
	}
	var sent time.Time
	if b.SendTime != "" {
		sent, _ = ParseTime(b.SendTime) // optional: a bad one is dropped, not refused
	}
	return herald.Report{
		MsgKey: b.MsgKey, Ref: b.Ref, ServiceType: b.ServiceType, MsgType: b.MsgType,
		SendTime: sent, ReportTime: at, ReportType: b.ReportType,
		Code: b.ReportCode, Text: b.ReportText,
	}, nil
}

func seedToReport(a anyReport) (herald.Report, error) {
	if err := requireFields("messageId", *a.MessageID, "resultCode", a.ResultCode,
		"reportTime", a.ReportTime); err != nil {
		return herald.Report{}, err
	}
	at, err := ParseTime(a.ReportTime)
	if err != nil {
		return herald.Report{}, herald.Invalid("reportTime", "%q is not a time like %s", a.ReportTime, SeedTimeLayout)
	}
	r := herald.Report{
		MsgKey: *a.MessageID, Ref: a.Ref, ServiceType: ServiceAlim,
		ReportTime: at, Code: a.ResultCode, Text: a.ErrorText,
	}
	if r.Ref == "" {
		r.Ref = r.MsgKey
	}
	if r.Code == SeedDelivered {
		r.Code = herald.ReportDelivered
	}
	return r, nil
}

// requireFields takes name, value pairs and names the first empty value.
func requireFields(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			return herald.Invalid(pairs[i], "is required")
		}
	}
	return nil
}

// ParseTime reads a report time: RFC 3339 with or without fractional
// seconds, or the seed's "2006-01-02 15:04:05" (also with a "T") in Asia/Seoul.
func ParseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation(SeedTimeLayout, s, KST); err == nil {
		return t, nil
	}
	return time.ParseInLocation("2006-01-02T15:04:05", s, KST)
}

// jsonInvalid turns a JSON decoding error into an *herald.InvalidError,
// naming the field when the decoder knows it (reports are flat, so the
// last element of the path is the field).
func jsonInvalid(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		field := te.Field[strings.LastIndexByte(te.Field, '.')+1:]
		return herald.Invalid(field, "must be a JSON %s", te.Type.Kind())
	}
	return herald.Invalid("body", "is not a JSON object: %v", err)
}
