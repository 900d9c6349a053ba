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
