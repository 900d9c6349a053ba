package infobank

import (
	"encoding/json"
	"testing"
)

// FuzzDecodeTemplateList feeds template list answers (outside input) to
// the decoder and the conversion sync uses: it must never panic, and a
// converted template must hash the same twice (sync compares hashes).
func FuzzDecodeTemplateList(f *testing.F) {
	f.Add([]byte(`{"common":{"authCode":"A000"},"data":{"code":"A000","data":{"alimtalk":{"templates":[
		{"templateCode":"T","text":"#{name}님","title":"t","inspectionStatus":"APR","block":"false",
		 "attachment":{"button":[{"type":"WL","name":"go","urlMobile":"https://e.com"}]}}]}}}}`))
	f.Add([]byte(`{"common":{"authCode":"A000"},"data":{"code":"A000","data":{}}}`))
	f.Add([]byte(`{"data":{"data":{"alimtalk":{"templates":null}}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var resp TemplateListResponse
		if json.Unmarshal(body, &resp) != nil || resp.Data == nil || resp.Data.Data == nil || resp.Data.Data.Alimtalk == nil {
			return
		}
		for _, w := range resp.Data.Data.Alimtalk.Templates {
			pt := FromWireTemplate(w, "SK")
			tpl := pt.Template()
			if tpl.ContentHash() != pt.Template().ContentHash() {
				t.Fatalf("hash of %+v is not stable", tpl)
			}
			if pt.Status() == "approved" && (pt.Inspection != InspectionApproved || pt.Blocked || pt.Dormant) {
				t.Fatalf("%+v approved", pt)
			}
		}
	})
}

// FuzzDecodePolling feeds polling answers to the client's decoder: never a
// panic, and every report it keeps is valid (ReportFromBody accepts it).
func FuzzDecodePolling(f *testing.F) {
	f.Add([]byte(`{"common":{"authCode":"A000"},"data":{"code":"A000","data":{"reportId":"R1","report":[
		{"msgKey":"K","serviceType":"ALIMTALK","reportTime":"2026-11-25T10:30:02+09:00","reportType":"0","reportCode":"10000"},
		{"msgKey":"","serviceType":"SMS"}]}}}`))
	f.Add([]byte(`{"common":{"authCode":"A000"},"data":{"code":"A000","data":{"reportId":"","report":null}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var resp PollingResponse
		if json.Unmarshal(body, &resp) != nil || resp.Data == nil || resp.Data.Data == nil {
			return
		}
		for _, b := range resp.Data.Data.Report {
			r, err := ReportFromBody(b)
			if err != nil {
				continue
			}
			if r.MsgKey == "" || r.Code == "" || r.ReportTime.IsZero() {
				t.Fatalf("kept an invalid report %+v", r)
			}
		}
	})
}
