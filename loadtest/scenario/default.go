package scenario

import "fmt"

// defaultScenario is herald's own report webhook: one Bizgo report per
// arrival. %s is the authentication: functions and headers.
const defaultScenario = `config:
  phases:
    - duration: 60
      arrivalRate: 100
      name: default
scenarios:
  - name: bizgo report
    flow:
      - function: generateReport
%s      - post:
          url: /v1/reports
          headers:
%s          json:
            msgKey: "{{ msgKey }}"
            serviceType: ALIMTALK
            msgType: AT
            sendTime: "{{ sendTime }}"
            reportTime: "{{ reportTime }}"
            reportType: "0"
            reportCode: "10000"
            reportText: Success
            ref: "{{ ref }}"
`

// Default is the flow used when no scenario file is given: a
// Bizgo report POSTed to /v1/reports, authenticated with the bearer token
// in the variable reportToken or, when signed, with the provider's HMAC
// signature made from the variable reportSecret. Its one phase is 100/s
// for 60 s.
func Default(signed bool) *Scenario {
	fn, hdr := "", "            Authorization: \"Bearer {{ reportToken }}\"\n"
	if signed {
		fn = "      - function: signReport\n"
		hdr = "            X-IB-Timestamp: \"{{ ibTimestamp }}\"\n            X-IB-Signature: \"{{ ibSignature }}\"\n"
	}
	sc, err := Parse(fmt.Appendf(nil, defaultScenario, fn, hdr))
	if err != nil {
		panic("scenario: the default scenario does not parse: " + err.Error()) // a test covers both forms
	}
	return sc
}
