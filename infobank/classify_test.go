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
		{"401", exchange{status: 401, body: []byte(`{"common":{"authCode":"A401"}}`)}, [2]herald.OutcomeKind{herald.RefusedPermanent, herald.RefusedPermanent}, "A401"},
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

func TestCodeOutcomeDuplicateKeepsMsgKey(t *testing.T) {
	t.Parallel()
	o := codeOutcome(CodeDuplicate, "dup", "K7")
	if o.Kind != herald.Accepted || !o.Duplicate || o.MsgKey != "K7" {
		t.Errorf("got %+v", o)
	}
}
