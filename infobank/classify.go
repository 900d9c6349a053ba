package infobank

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	herald "github.com/heraldhq/herald"
)

// Outcome codes the client sets itself; the provider's codes start with A.
const (
	OutcomeInvalid   = "INVALID"   // the client refused the batch: it breaks the API's rules
	OutcomeNotSent   = "NOT_SENT"  // the request never reached the provider (connect error, cancelled before writing)
	OutcomeTransport = "TRANSPORT" // the exchange failed after the request may have arrived
	OutcomeTimeout   = "TIMEOUT"   // no answer in time after the request may have arrived
	OutcomeMalformed = "MALFORMED" // an answer came but could not be read
)

// classifySend turns one exchange into an outcome per destination:
//
//   - a transport error before the request could have arrived, 429 (the
//     provider refuses the whole request: nothing in it accepted) and 408
//     are refusals the caller may retry with a new request;
//   - 401 and 403 (whatever the body), and any other readable refusal whose
//     code says the account or its configuration is wrong (see
//     gatewayAccountCodes and serviceAccountCodes: bad or expired key,
//     caller IP not allow-listed, blocked account, unknown sender key,
//     unregistered sender number, template not usable…) are account
//     refusals (herald.RefusedAccount): nothing was taken, no recipient is
//     at fault, and an operator must fix the account before anything can
//     go out;
//   - other 4xx and 3xx are permanent refusals;
//   - a transport error after the request may have arrived (timeout,
//     connection reset), every 5xx — 503 included: PROVIDER.md §1 makes any
//     5xx after the write in doubt, and a 503 cannot prove it came before
//     acceptance — and an unreadable 2xx are in doubt: only a resend under
//     the same idempotency key may settle them;
//   - a 2xx is decided per destination by its code (an account code there
//     is an account refusal too); a readable 2xx without data whose
//     gateway code is an account code is an account refusal.
func classifySend(x exchange, dests []Destination) []herald.Outcome {
	n := len(dests)
	if x.err != nil {
		return repeat(n, transportOutcome(x))
	}
	var resp SendResponse
	decodeErr := x.bodyErr
	if decodeErr == nil {
		decodeErr = json.Unmarshal(x.body, &resp)
	}
	s := x.status
	switch {
	case s/100 == 2:
		if decodeErr == nil && resp.Data == nil && gatewayAccountCodes[resp.Common.AuthCode] != "" {
			return repeat(n, explainAccount(statusOutcome(herald.RefusedAccount, resp, s), http.StatusText(s)))
		}
		if decodeErr != nil || resp.Data == nil {
			return repeat(n, malformed(s))
		}
		return perDestination(*resp.Data, dests)
	case s == http.StatusTooManyRequests || s == http.StatusRequestTimeout:
		return repeat(n, statusOutcome(herald.RefusedRetryable, resp, s))
	case s == http.StatusBadRequest && resp.Data != nil && resp.Data.Code == CodeDuplicate:
		// The whole request was a copy of one accepted earlier.
		return repeat(n, herald.Outcome{Kind: herald.Accepted, Duplicate: true, Code: CodeDuplicate, Text: resp.Data.Result})
	case s >= 500:
		return repeat(n, statusOutcome(herald.InDoubt, resp, s))
	case s == http.StatusUnauthorized || s == http.StatusForbidden || accountRefusal(resp):
		return repeat(n, explainAccount(statusOutcome(herald.RefusedAccount, resp, s), http.StatusText(s)))
	}
	return repeat(n, statusOutcome(herald.RefusedPermanent, resp, s))
}

// transportOutcome classifies an exchange that got no answer.
func transportOutcome(x exchange) herald.Outcome {
	text := errorText(x.err)
	if !x.mayArrived {
		return refused(herald.RefusedRetryable, OutcomeNotSent, text)
	}
	code := OutcomeTransport
	if errors.Is(x.err, context.DeadlineExceeded) || isTimeout(x.err) {
		code = OutcomeTimeout
	}
	return refused(herald.InDoubt, code, text)
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

func malformed(status int) herald.Outcome {
	return refused(herald.InDoubt, OutcomeMalformed, "unreadable answer with HTTP "+strconv.Itoa(status))
}

// statusOutcome uses the most specific code the answer has: data.code,
// then common.authCode, then the HTTP status.
func statusOutcome(kind herald.OutcomeKind, resp SendResponse, status int) herald.Outcome {
	switch {
	case resp.Data != nil && resp.Data.Code != "":
		return refused(kind, resp.Data.Code, resp.Data.Result)
	case resp.Common.AuthCode != "" && resp.Common.AuthCode != CodeSuccess:
		return refused(kind, resp.Common.AuthCode, resp.Common.AuthResult)
	}
	return refused(kind, "HTTP_"+strconv.Itoa(status), http.StatusText(status))
}

// perDestination matches the provider's results to the request's
// destinations: by position when the counts agree, else by number in order.
// A destination without a result is in doubt.
func perDestination(r Result[SendResult], dests []Destination) []herald.Outcome {
	if r.Data == nil || len(r.Data.Destinations) == 0 {
		if r.Code == "" || r.Code == CodeSuccess {
			return repeat(len(dests), malformed(http.StatusOK))
		}
		return repeat(len(dests), codeOutcome(r.Code, r.Result, ""))
	}
	results := r.Data.Destinations
	out := make([]herald.Outcome, len(dests))
	if len(results) == len(dests) {
		for i, d := range results {
			out[i] = codeOutcome(d.Code, d.Result, d.MsgKey)
		}
		return out
	}
	used := make([]bool, len(results))
	for i, d := range dests {
		out[i] = malformed(http.StatusOK)
		for j, res := range results {
			if !used[j] && res.To == d.To {
				used[j], out[i] = true, codeOutcome(res.Code, res.Result, res.MsgKey)
				break
			}
		}
	}
	return out
}

// codeOutcome classifies one service code: A000 accepted, A301 accepted
// earlier (a duplicate the provider dropped), A020/A920 refused for now,
// an account code (serviceAccountCodes) an account refusal, other A9xx in
// doubt, anything else refused for good.
func codeOutcome(code, text, msgKey string) herald.Outcome {
	o := herald.Outcome{MsgKey: msgKey, Code: code, Text: text}
	switch {
	case code == CodeSuccess:
		o.Kind = herald.Accepted
	case code == CodeDuplicate:
		o.Kind, o.Duplicate = herald.Accepted, true
	case code == CodeRateLimited || code == CodeBusy:
		o.Kind = herald.RefusedRetryable
	case serviceAccountCodes[code] != "":
		o.Kind = herald.RefusedAccount
		o = explainAccount(o, "")
	case strings.HasPrefix(code, "A9"):
		o.Kind = herald.InDoubt
	default:
		o.Kind = herald.RefusedPermanent
	}
	return o
}

func repeat(n int, o herald.Outcome) []herald.Outcome {
	out := make([]herald.Outcome, n)
	fill(out, o)
	return out
}

// Account codes: the codes that say the account or its configuration is
// wrong, not the request's recipients. Every request fails alike until an
// operator fixes the account, so herald pauses the campaign instead of
// failing its audience. A code string means different things in the two
// layers (gateway A401 is a bad key, service A401 an invalid paymentCode;
// gateway A502 is Bad Gateway, service A502 a bad senderKey), so each layer
// has its own list. Sources: PROVIDER.md §1 and §3a and the Bizgo error-code
// table (developers.bizgo.io/api-sdk/api-reference/error-codes, as
// published in github.com/icomm-api/bizgo-api-spec and bizgo-sdk-comm-go).
// CodeUnauthorized (A401), CodeBadSenderKey (A502) and CodeBadTemplate
// (A505) are in wire.go.
const (
	CodeForbidden        = "A403" // gateway layer: forbidden (service layer: transferTime)
	CodeTokenExpired     = "A001"
	CodeTokenDenied      = "A002"
	CodeBadCredentials   = "A100"
	CodeAccountBlocked   = "A110"
	CodeAccountBlocked2  = "A111"
	CodeBadExpirySet     = "A113"
	CodeQuotaExceeded    = "A320"
	CodeSpamSender       = "A323"
	CodeNoChannel        = "A325"
	CodeNoFallback       = "A326"
	CodeUnregisteredFrom = "A327"
)

var (
	// gatewayAccountCodes are the account codes of common.authCode, with
	// their meaning.
	gatewayAccountCodes = map[string]string{
		CodeUnauthorized:    "unauthorized: wrong or missing API key, or the caller's IP is not allow-listed for it",
		CodeForbidden:       "forbidden: the account may not use this API (permission, allow-listed IP)",
		CodeTokenExpired:    "expired token",
		CodeTokenDenied:     "token without permission",
		CodeBadCredentials:  "invalid credentials",
		CodeAccountBlocked:  "blocked account",
		CodeAccountBlocked2: "blocked account",
		CodeBadExpirySet:    "invalid expiry setting of the credentials",
	}
	// serviceAccountCodes are the account codes of data.code, of a whole
	// request or of one destination (data.data.destinations[].code), with
	// their meaning.
	serviceAccountCodes = map[string]string{
		CodeTokenExpired:     "expired token",
		CodeTokenDenied:      "token without permission",
		CodeBadCredentials:   "invalid credentials",
		CodeAccountBlocked:   "blocked account",
		CodeAccountBlocked2:  "blocked account",
		CodeBadExpirySet:     "invalid expiry setting of the credentials",
		CodeQuotaExceeded:    "the account's message allowance is used up",
		CodeSpamSender:       "the sender number is blocked as spam",
		CodeNoChannel:        "the account has no permission for the channel",
		CodeNoFallback:       "the account has no permission for SMS/LMS fallback",
		CodeUnregisteredFrom: "unregistered sender number",
		CodeBadSenderKey:     "unknown or empty sender key: not a Kakao sender profile of the account",
		CodeBadTemplate:      "unknown or empty template code: not registered, not approved or not inspected for the sender key",
	}
)

// explainAccount gives an account refusal without the provider's text the
// meaning of its code (or the fallback when the code is none of ours), for
// the campaign's reason.
func explainAccount(o herald.Outcome, fallback string) herald.Outcome {
	if o.Text != "" {
		return o
	}
	if m := serviceAccountCodes[o.Code]; m != "" {
		o.Text = m
	} else if m := gatewayAccountCodes[o.Code]; m != "" {
		o.Text = m
	} else {
		o.Text = fallback
	}
	return o
}

// accountRefusal reports whether a refused answer's code, in either layer,
// says the account or its configuration is wrong.
func accountRefusal(resp SendResponse) bool {
	if gatewayAccountCodes[resp.Common.AuthCode] != "" {
		return true
	}
	return resp.Data != nil && serviceAccountCodes[resp.Data.Code] != ""
}
