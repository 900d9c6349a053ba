package http

import (
	"errors"
	"reflect"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/infobank"
)

var decodeSeeds = []string{
	`{"msgKey":"K1","serviceType":"ALIMTALK","msgType":"AT","sendTime":"2026-11-25T10:30:00.123+09:00","reportTime":"2026-11-25T10:30:02.456+09:00","reportType":"0","reportCode":"10000","reportText":"Success","ref":"h1-1"}`,
	`{"messageId":"h1-1","resultCode":"SUC","errorText":"","reportTime":"2024-11-25 11:12:12","brandtalkType":"","ref":"r"}`,
	` { "messageId" : "h1-1" , "resultCode" : "E105" , "reportTime" : "2024-11-25T11:12:12" } `,
	`{"messageId":null,"msgKey":"","resultCode":"SUC"}`,
	`{"MSGKEY":"K","serviceType":"SMS","reportTime":"2026-11-25T10:30:02Z","reportType":"0","reportCode":"1"}`,
	`{"msgKey":"K\u0041","serviceType":"SMS","reportTime":"2026-11-25T10:30:02Z","reportType":"0","reportCode":"1"}`,
	`{"msgKey":"가나","serviceType":"SMS","reportTime":"bad","reportType":"0","reportCode":"1","x":null}`,
	`{"msgKey":12}`, `[]`, `null`, `{}`, `{"msgKey":"a"} x`, "{\"msgKey\":\"\xff\"}",
}

// TestDecodeReportFastPath: the bodies providers send take the fast path,
// and decode as infobank.DecodeReport decodes them.
func TestDecodeReportFastPath(t *testing.T) {
	for _, body := range decodeSeeds {
		sameDecode(t, []byte(body))
	}
	var f reportFields
	if !f.scan([]byte(decodeSeeds[0])) || !f.scan([]byte(decodeSeeds[1])) {
		t.Fatal("a provider's body did not take the fast path")
	}
	if f.scan([]byte(decodeSeeds[4])) || f.scan([]byte(decodeSeeds[5])) {
		t.Fatal("a case-folded key or an escape took the fast path")
	}
}

// FuzzReportDecode holds the fast decoder to infobank.DecodeReport's
// results on any body: the same report, or an error naming the same field.
func FuzzReportDecode(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(sameDecode)
}

func sameDecode(t *testing.T, body []byte) {
	got, gotErr := decodeReport(body)
	want, wantErr := infobank.DecodeReport(body)
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("body %q: error %v, infobank's %v", body, gotErr, wantErr)
	}
	if gotErr != nil {
		var g, w *herald.InvalidError
		if errors.As(gotErr, &g) != errors.As(wantErr, &w) || (g != nil && g.Field != w.Field) {
			t.Fatalf("body %q: error %v, infobank's %v", body, gotErr, wantErr)
		}
		return
	}
	if !got.ReportTime.Equal(want.ReportTime) || !got.SendTime.Equal(want.SendTime) {
		t.Fatalf("body %q: times %v %v, infobank's %v %v", body, got.ReportTime, got.SendTime, want.ReportTime, want.SendTime)
	}
	got.ReportTime, got.SendTime, want.ReportTime, want.SendTime = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("body %q:\n got %+v\nwant %+v", body, got, want)
	}
}

// BenchmarkDecodeReport compares the fast path with encoding/json's on the
// two shapes: go test -run '^$' -bench DecodeReport -benchmem ./http
func BenchmarkDecodeReport(b *testing.B) {
	for _, c := range []struct{ name, body string }{{"bizgo", decodeSeeds[0]}, {"seed", decodeSeeds[1]}} {
		body := []byte(c.body)
		b.Run(c.name+"/fast", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := decodeReport(body); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/encoding-json", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := infobank.DecodeReport(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
