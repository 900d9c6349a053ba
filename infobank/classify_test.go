package infobank

import (
	"context"
	"errors"
	"fmt"
	"testing"

	herald "github.com/heraldhq/herald"
)

func TestClassifySend(t *testing.T) {
	t.Parallel()
	two := []Destination{{To: "01011112222"}, {To: "01033334444"}}
	ok := `{"common":{"authCode":"A000"},"data":{"code":"A000","data":{"destinations":[
		{"to":"01011112222","msgKey":"K1","code":"A000"},{"to":"01033334444","msgKey":"K2","code":"A301"}]}}}`
	swapped := `{"common":{"authCode":"A000"},"data":{"code":"A000","data":{"destinations":[
		{"to":"01033334444","code":"A306"}]}}}`
	cases := []struct {
		name  string
		x     exchange
		kinds [2]herald.OutcomeKind
		code  string
	}{
		{"per destination", exchange{status: 200, body: []byte(ok)}, [2]herald.OutcomeKind{herald.Accepted, herald.Accepted}, "A000"},
		{"matched by number", exchange{status: 200, body: []byte(swapped)}, [2]herald.OutcomeKind{herald.InDoubt, herald.RefusedPermanent}, OutcomeMalformed},
		{"malformed 200", exchange{status: 200, body: []byte("{")}, [2]herald.OutcomeKind{herald.InDoubt, herald.InDoubt}, OutcomeMalformed},
		{"body cut", exchange{status: 200, body: []byte(ok), bodyErr: errors.New("reset")}, [2]herald.OutcomeKind{herald.InDoubt, herald.InDoubt}, OutcomeMalformed},
		{"429", exchange{status: 429, body: []byte(`{"data":{"code":"A020"}}`)}, [2]herald.OutcomeKind{herald.RefusedRetryable, herald.RefusedRetryable}, "A020"},
		{"503 no body", exchange{status: 503}, [2]herald.OutcomeKind{herald.InDoubt, herald.InDoubt}, "HTTP_503"},
		{"500", exchange{status: 500, body: []byte(`{"data":{"code":"A910"}}`)}, [2]herald.OutcomeKind{herald.InDoubt, herald.InDoubt}, "A910"},
		{"502 proxy", exchange{status: 502, body: []byte(`<html>`)}, [2]herald.OutcomeKind{herald.InDoubt, herald.InDoubt}, "HTTP_502"},
		{"401", exchange{status: 401, body: []byte(`{"common":{"authCode":"A401"}}`)}, [2]herald.OutcomeKind{herald.RefusedAccount, herald.RefusedAccount}, "A401"},
		{"moved", exchange{status: 301, body: []byte(`{"common":{"authCode":"A301"}}`)}, [2]herald.OutcomeKind{herald.RefusedPermanent, herald.RefusedPermanent}, "A301"},
		{"request duplicate", exchange{status: 400, body: []byte(`{"data":{"code":"A301"}}`)}, [2]herald.OutcomeKind{herald.Accepted, herald.Accepted}, "A301"},
		{"400", exchange{status: 400, body: []byte(`{"data":{"code":"A318"}}`)}, [2]herald.OutcomeKind{herald.RefusedPermanent, herald.RefusedPermanent}, "A318"},
		{"connect", exchange{err: errors.New("dial tcp: connection refused")}, [2]herald.OutcomeKind{herald.RefusedRetryable, herald.RefusedRetryable}, OutcomeNotSent},
		{"write failed", exchange{err: errors.New("broken pipe"), mayArrived: false}, [2]herald.OutcomeKind{herald.RefusedRetryable, herald.RefusedRetryable}, OutcomeNotSent},
		{"reset after write", exchange{err: errors.New("connection reset"), mayArrived: true}, [2]herald.OutcomeKind{herald.InDoubt, herald.InDoubt}, OutcomeTransport},
		{"timeout after write", exchange{err: fmt.Errorf("wrapped: %w", context.DeadlineExceeded), mayArrived: true}, [2]herald.OutcomeKind{herald.InDoubt, herald.InDoubt}, OutcomeTimeout},
	}
	for _, c := range cases {
		got := classifySend(c.x, two)
		if len(got) != 2 || got[0].Kind != c.kinds[0] || got[1].Kind != c.kinds[1] || got[0].Code != c.code {
			t.Errorf("%s: got %+v, want kinds %v code %s", c.name, got, c.kinds, c.code)
		}
	}
}

// TestClassifySendAccountRefusals checks every account code, in each place
// it can come: the HTTP status alone, the gateway code, the request's
// service code (in a 4xx and in a 200), and one destination's code.
func TestClassifySendAccountRefusals(t *testing.T) {
	t.Parallel()
	two := []Destination{{To: "01011112222"}, {To: "01033334444"}}
	whole := func(kind herald.OutcomeKind) [2]herald.OutcomeKind { return [2]herald.OutcomeKind{kind, kind} }
	account := whole(herald.RefusedAccount)
	cases := []struct {
		name  string
		x     exchange
		kinds [2]herald.OutcomeKind
		code  string
	}{
		{"401 no body", exchange{status: 401}, account, "HTTP_401"},
		{"401 html", exchange{status: 401, body: []byte(`<html>`)}, account, "HTTP_401"},
		{"401 A401", exchange{status: 401, body: []byte(`{"common":{"authCode":"A401","authResult":"Unauthorized"}}`)}, account, "A401"},
		{"403 no body", exchange{status: 403}, account, "HTTP_403"},
		{"403 A403", exchange{status: 403, body: []byte(`{"common":{"authCode":"A403"}}`)}, account, "A403"},
		{"403 A802 any body", exchange{status: 403, body: []byte(`{"common":{"authCode":"A000"},"data":{"code":"A802"}}`)}, account, "A802"},
		{"200 gateway A401 no data", exchange{status: 200, body: []byte(`{"common":{"authCode":"A401"}}`)}, account, "A401"},
		{"200 gateway A403 no data", exchange{status: 200, body: []byte(`{"common":{"authCode":"A403"}}`)}, account, "A403"},
		{"200 gateway A502 is bad gateway", exchange{status: 200, body: []byte(`{"common":{"authCode":"A502"}}`)}, whole(herald.InDoubt), OutcomeMalformed},
		{"200 A020", exchange{status: 200, body: []byte(`{"common":{"authCode":"A000"},"data":{"code":"A020"}}`)}, whole(herald.RefusedRetryable), "A020"},
		{"429 A020", exchange{status: 429, body: []byte(`{"common":{"authCode":"A000"},"data":{"code":"A020"}}`)}, whole(herald.RefusedRetryable), "A020"},
		{"503 gateway A401 stays in doubt", exchange{status: 503, body: []byte(`{"common":{"authCode":"A401"}}`)}, whole(herald.InDoubt), "A401"},
		{"400 service A401 is paymentCode", exchange{status: 400, body: []byte(`{"common":{"authCode":"A000"},"data":{"code":"A401"}}`)}, whole(herald.RefusedPermanent), "A401"},
		{"400 service A403 is transferTime", exchange{status: 400, body: []byte(`{"common":{"authCode":"A000"},"data":{"code":"A403"}}`)}, whole(herald.RefusedPermanent), "A403"},
		{"400 A306 stays permanent", exchange{status: 400, body: []byte(`{"data":{"code":"A306"}}`)}, whole(herald.RefusedPermanent), "A306"},
		{"per destination A502", exchange{status: 200, body: []byte(`{"common":{"authCode":"A000"},"data":{"code":"A000","data":{"destinations":[
			{"to":"01011112222","code":"A502"},{"to":"01033334444","msgKey":"K2","code":"A000"}]}}}`)}, [2]herald.OutcomeKind{herald.RefusedAccount, herald.Accepted}, "A502"},
		{"per destination A327", exchange{status: 200, body: []byte(`{"common":{"authCode":"A000"},"data":{"code":"A000","data":{"destinations":[
			{"to":"01011112222","code":"A327"},{"to":"01033334444","code":"A327"}]}}}`)}, account, "A327"},
		{"per destination A401 is paymentCode", exchange{status: 200, body: []byte(`{"common":{"authCode":"A000"},"data":{"code":"A000","data":{"destinations":[
			{"to":"01011112222","code":"A401"},{"to":"01033334444","code":"A401"}]}}}`)}, whole(herald.RefusedPermanent), "A401"},
	}
	for code := range gatewayAccountCodes {
		cases = append(cases,
			struct {
				name  string
				x     exchange
				kinds [2]herald.OutcomeKind
				code  string
			}{"400 gateway " + code, exchange{status: 400, body: []byte(`{"common":{"authCode":"` + code + `"}}`)}, account, code})
	}
	for code := range serviceAccountCodes {
		for _, status := range []int{200, 400} {
			cases = append(cases,
				struct {
					name  string
					x     exchange
					kinds [2]herald.OutcomeKind
					code  string
				}{fmt.Sprintf("%d service %s", status, code), exchange{status: status, body: []byte(`{"common":{"authCode":"A000"},"data":{"code":"` + code + `","result":"r"}}`)}, account, code})
		}
	}
	for _, c := range cases {
		got := classifySend(c.x, two)
		if len(got) != 2 || got[0].Kind != c.kinds[0] || got[1].Kind != c.kinds[1] || got[0].Code != c.code {
			t.Errorf("%s: got %+v, want kinds %v code %s", c.name, got, c.kinds, c.code)
		}
		if got[0].Kind == herald.RefusedAccount && got[0].Text == "" {
			t.Errorf("%s: an account refusal without a text: %+v", c.name, got[0])
		}
	}
}

// TestAccountCodes pins the account codes and their meanings.
func TestAccountCodes(t *testing.T) {
	t.Parallel()
	gateway := []string{"A001", "A002", "A100", "A110", "A111", "A113", "A401", "A403"}
	service := []string{"A001", "A002", "A100", "A110", "A111", "A113", "A320", "A323", "A325", "A326", "A327", "A502", "A505"}
	check := func(layer string, table map[string]string, want []string) {
		if len(table) != len(want) {
			t.Errorf("%s: %d codes, want %d", layer, len(table), len(want))
		}
		for _, code := range want {
			if table[code] == "" {
				t.Errorf("%s: %s is not an account code (or has no meaning)", layer, code)
			}
			if o := codeOutcome(code, "", ""); layer == "service" && (o.Kind != herald.RefusedAccount || o.Text == "") {
				t.Errorf("codeOutcome(%s) = %+v", code, o)
			}
		}
	}
	check("gateway", gatewayAccountCodes, gateway)
	check("service", serviceAccountCodes, service)
	for _, code := range []string{CodeSuccess, CodeDuplicate, CodeRateLimited, CodeBusy, CodeInternal, "A999", CodeBadTo, CodeTooMany, CodeUnauthorized, CodeBadButton} {
		if o := codeOutcome(code, "", ""); o.Kind == herald.RefusedAccount {
			t.Errorf("codeOutcome(%s) = %+v, not an account code", code, o)
		}
	}
}

func TestCodeOutcomeDuplicateKeepsMsgKey(t *testing.T) {
	t.Parallel()
	o := codeOutcome(CodeDuplicate, "dup", "K7")
	if o.Kind != herald.Accepted || !o.Duplicate || o.MsgKey != "K7" {
		t.Errorf("got %+v", o)
	}
}
