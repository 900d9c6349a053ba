package herald

import "time"

// Report is one delivery report from the provider, in herald's terms.
type Report struct {
	MsgKey      string    `json:"msgKey"`
	Ref         string    `json:"ref,omitempty"`
	ServiceType string    `json:"serviceType"`
	MsgType     string    `json:"msgType,omitempty"`
	SendTime    time.Time `json:"sendTime,omitempty"`
	ReportTime  time.Time `json:"reportTime"`
	ReportType  string    `json:"reportType,omitempty"`
	Code        string    `json:"reportCode"`
	Text        string    `json:"reportText,omitempty"`
	// Raw is the body as received, kept for audit.
	Raw []byte `json:"-"`
}

// Report codes that matter to the state machine.
const (
	ReportDelivered = "10000"
)

// Delivered reports whether the report says the message reached the phone.
func (r Report) Delivered() bool { return r.Code == ReportDelivered }

// Fallback reports whether the report is for the SMS/LMS leg after Kakao.
func (r Report) Fallback() bool {
	switch r.ServiceType {
	case "SMS", "LMS", "MMS":
		return true
	}
	return false
}

// ReportState is the recipient state a report leads to: DELIVERED for a
// delivered Kakao message or fallback, FAILED otherwise.
func (r Report) ReportState() RecipientState {
	if r.Delivered() {
		return RecipientDelivered
	}
	return RecipientFailed
}

// ReportRank orders recipient states for reports, which only ever move a
// row to a higher rank: anything in flight < FAILED < DELIVERED. A failed
// Kakao leg followed by a delivered SMS fallback thus ends DELIVERED, in
// either arrival order, and a repeated report changes nothing. A report
// outranks CANCELLED and UNKNOWN too: it proves what the provider did.
func ReportRank(s RecipientState) int {
	switch s {
	case RecipientDelivered:
		return 3
	case RecipientFailed:
		return 2
	}
	return 1
}
