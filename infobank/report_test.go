package infobank

import (
	"errors"
	"testing"
	"time"
	"unicode/utf8"

	herald "github.com/heraldhq/herald"
)

func sampleReport() herald.Report {
	at := time.Date(2026, 11, 25, 10, 30, 2, 456e6, KST)
	return herald.Report{
		MsgKey: "20261125103000123ABCDEFGHIJKLMNO", Ref: "m-1", ServiceType: "ALIMTALK", MsgType: "AT",
		SendTime: at.Add(-2 * time.Second), ReportTime: at, ReportType: "0", Code: "63019", Text: "Not a KakaoTalk user",
	}
}

func TestReportRoundTrip(t *testing.T) {
	t.Parallel()
	want := sampleReport()
	body := EncodeReport(want)
	got, err := DecodeReport(body)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Raw) != string(body) {
		t.Errorf("Raw = %s, want the body", got.Raw)
	}
	assertSameReport(t, got, want)
}

func assertSameReport(t *testing.T, got, want herald.Report) {
	t.Helper()
	if !got.ReportTime.Equal(want.ReportTime) || !got.SendTime.Equal(want.SendTime) {
		t.Errorf("times = %v, %v; want %v, %v", got.SendTime, got.ReportTime, want.SendTime, want.ReportTime)
	}
	got.Raw, got.ReportTime, got.SendTime = nil, want.ReportTime, want.SendTime
	want.Raw = nil
	if got.MsgKey != want.MsgKey || got.Ref != want.Ref || got.ServiceType != want.ServiceType ||
		got.MsgType != want.MsgType || got.ReportType != want.ReportType || got.Code != want.Code || got.Text != want.Text {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

func TestDecodeReportBizgoExample(t *testing.T) {
	t.Parallel()
	body := `{"msgKey":"K1","serviceType":"SMS","msgType":"SM","reportTime":"2026-11-25T10:30:02+09:00",
	  "reportType":"0","reportCode":"10000","carrier":"10001","extra":{"x":1},"ref":"m-9","sendTime":"garbage"}`
	r, err := DecodeReport([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2026, 11, 25, 1, 30, 2, 0, time.UTC)
	if r.MsgKey != "K1" || r.Ref != "m-9" || !r.Delivered() || !r.Fallback() || !r.ReportTime.Equal(want) || !r.SendTime.IsZero() {
		t.Errorf("got %+v", r)
	}
}

func TestDecodeReportSeed(t *testing.T) {
	t.Parallel()
	cases := []struct {
		body, msgKey, ref, code, text string
	}{
		{`{"messageId":"M1","resultCode":"SUC","errorText":"","reportTime":"2024-11-25 11:12:12","brandtalkType":"F","ref":""}`,
			"M1", "M1", "10000", ""},
		{`{"messageId":"K2","resultCode":"3019","errorText":"not a user","reportTime":"2024-11-25 11:12:12","ref":"m-2"}`,
			"K2", "m-2", "3019", "not a user"},
	}
	for _, c := range cases {
		r, err := DecodeReport([]byte(c.body))
		if err != nil {
			t.Fatalf("%s: %v", c.body, err)
		}
		want := time.Date(2024, 11, 25, 2, 12, 12, 0, time.UTC)
		if r.MsgKey != c.msgKey || r.Ref != c.ref || r.Code != c.code || r.Text != c.text ||
			r.ServiceType != "ALIMTALK" || !r.ReportTime.Equal(want) {
			t.Errorf("%s: got %+v", c.body, r)
		}
	}
}

func TestSeedRoundTrip(t *testing.T) {
	t.Parallel()
	for _, code := range []string{"10000", "63020"} {
		want := sampleReport()
		want.Code, want.MsgType, want.ReportType, want.SendTime = code, "", "", time.Time{}
		want.ReportTime = want.ReportTime.Truncate(time.Second)
		if want.Delivered() {
			want.Text = ""
		}
		got, err := DecodeReport(EncodeSeedReport(want))
		if err != nil {
			t.Fatal(err)
		}
		assertSameReport(t, got, want)
	}
}

func TestDecodeReportNamesTheField(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		`{"msgKey":"K","serviceType":"ALIMTALK","reportTime":"2026-11-25T10:30:02.456+09:00","reportType":"0"}`: "reportCode",
		`{"msgKey":"K","reportTime":"2026-11-25T10:30:02.456+09:00","reportType":"0","reportCode":"1"}`:         "serviceType",
		`{"msgKey":"K","serviceType":"S","reportTime":"yesterday","reportType":"0","reportCode":"1"}`:           "reportTime",
		`{"serviceType":"S"}`: "msgKey",
		`{"messageId":"M","reportTime":"2024-11-25 11:12:12"}`: "resultCode",
		`{"messageId":"","resultCode":"SUC"}`:                  "messageId",
		`{"msgKey":7}`:                                         "msgKey",
		`not json`:                                             "body",
		`[]`:                                                   "body",
	}
	for body, field := range cases {
		_, err := DecodeReport([]byte(body))
		var ie *herald.InvalidError
		if !errors.As(err, &ie) || ie.Field != field {
			t.Errorf("%s: err = %v, want an InvalidError on %s", body, err, field)
		}
	}
}

func TestParseTimeLayouts(t *testing.T) {
	t.Parallel()
	want := time.Date(2026, 11, 25, 1, 30, 2, 0, time.UTC)
	for _, s := range []string{
		"2026-11-25T10:30:02.000+09:00", "2026-11-25T10:30:02+09:00", "2026-11-25T01:30:02Z",
		"2026-11-25 10:30:02", "2026-11-25T10:30:02",
	} {
		got, err := ParseTime(s)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseTime(%q) = %v, %v", s, got, err)
		}
	}
}

func FuzzReportRoundTrip(f *testing.F) {
	r := sampleReport()
	f.Add([]byte(EncodeReport(r)), r.MsgKey, r.Code, r.Text, int64(1764034202456), false)
	f.Add([]byte(EncodeSeedReport(r)), "m", "SUC", "", int64(0), true)
	f.Add([]byte(`{"messageId":null}`), "", "", "", int64(-1), false)
	f.Fuzz(func(t *testing.T, body []byte, key, code, text string, ms int64, seed bool) {
		_, _ = DecodeReport(body) // must not panic, whatever the bytes
		if key == "" || code == "" || code == SeedDelivered || ms < 0 || ms > 1e14 ||
			!utf8.ValidString(key) || !utf8.ValidString(code) || !utf8.ValidString(text) {
			return
		}
		want := herald.Report{
			MsgKey: key, Ref: "ref-" + key, ServiceType: "ALIMTALK", ReportType: "0", Code: code, Text: text,
			ReportTime: time.UnixMilli(ms).In(KST),
		}
		encode := EncodeReport
		if seed {
			encode = EncodeSeedReport
			want.ReportType, want.ReportTime = "", want.ReportTime.Truncate(time.Second)
			if want.Delivered() {
				want.Text = ""
			}
		}
		got, err := DecodeReport(encode(want))
		if err != nil {
			t.Fatalf("decode of an encoded report: %v", err)
		}
		assertSameReport(t, got, want)
	})
}
