package mockprovider_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/heraldhq/herald/mockprovider"
)

func FuzzDecodeSendRequest(f *testing.F) {
	f.Add([]byte(sendBody(2, "", "")))
	f.Add([]byte(`{"destinations":[{"to":"01012345678","replaceWords":{},"ref":"r"}],"messageFlow":[{"alimtalk":{"senderKey":"S","templateCode":"T","sendType":"template","attachment":{"button":[]}}},{"mms":{"from":"02","text":"x","title":"t"}}],"idempotencyKey":"k","idempotencyTtl":0,"unknown":[1,2]}`))
	f.Add([]byte(`{"destinations":[{"to":"0"}],"messageFlow":[{"alimtalk":{"senderKey":"S","templateCode":"T","msgType":"AT","text":"\u00ff\ud800"}},{"sms":{"from":"1","text":"가"}}]}`))
	f.Add([]byte(`{"DESTINATIONS":[{"TO":"x"}],"messageFlow":[{"alimtalk":null}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, rerr := mockprovider.DecodeSendRequest(body)
		if rerr != nil {
			if rerr.Status < 400 || rerr.Code == "" || rerr.Field == "" {
				t.Fatalf("refusal without status, code or field: %+v", rerr)
			}
			return
		}
		again, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		req2, rerr := mockprovider.DecodeSendRequest(again)
		if rerr != nil {
			t.Fatalf("re-encoded request refused: %v\n%s", rerr, again)
		}
		if !reflect.DeepEqual(req, req2) {
			t.Fatalf("round trip changed the request:\n%#v\n%#v", req, req2)
		}
	})
}

// FuzzParseCatalog: a catalog file is outside input to the mock; parsing
// never panics, and every inspection state belongs to a template read.
func FuzzParseCatalog(f *testing.F) {
	f.Add([]byte("- code: A\n  text: \"#{name}님\"\n  inspectionStatus: REQ\n"))
	f.Add([]byte(`[{"code":"A","text":"x","buttons":[{"type":"WL","name":"n"}]}]`))
	f.Add([]byte("{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ts, insp, err := mockprovider.ParseCatalog(data)
		if err != nil {
			return
		}
		codes := map[string]bool{}
		for _, tpl := range ts {
			codes[tpl.Code] = true
		}
		for code := range insp {
			if !codes[code] {
				t.Fatalf("inspection state for %q, which is no template of %v", code, codes)
			}
		}
	})
}
