// Package infobank speaks the Bizgo Communication API of Infobank, the
// reseller herald sends AlimTalk through (see PROVIDER.md): the wire types,
// a Client that implements herald.Provider, the report codec and the
// webhook signature. The mock provider uses the same wire types, so the two
// cannot drift apart.
package infobank

// API paths, relative to the base URL.
const (
	PathSend    = "/api/comm/v1/send/omni"
	PathInquiry = "/api/comm/v1/report/inquiry/" // + msgKey
	PathPolling = "/api/comm/v1/report/polling"  // GET; DELETE + "/" + reportId acks
)

// Webhook headers.
const (
	HeaderTimestamp = "X-IB-Timestamp"
	HeaderSignature = "X-IB-Signature"
)

// Gateway (common.authCode) and service (data.code) codes herald uses.
const (
	CodeSuccess       = "A000"
	CodeParse         = "A010" // body is not JSON
	CodeMapping       = "A011" // a field has the wrong type or is missing
	CodeRateLimited   = "A020"
	CodeDuplicate     = "A301" // service layer: duplicate idempotency key
	CodeBadFrom       = "A302"
	CodeBadText       = "A303"
	CodeBadTo         = "A306"
	CodeBadIdemKey    = "A308"
	CodeBadIdemTTL    = "A309"
	CodeTooMany       = "A318"
	CodeTextTooLong   = "A328"
	CodeFallbackLong  = "A329"
	CodeBadSenderKey  = "A502"
	CodeBadButton     = "A503"
	CodeBadTemplate   = "A505"
	CodeBadMsgType    = "A523"
	CodeBadButtonType = "A524"
	CodeBadButtonName = "A525"
	CodeNoPolling     = "A801" // HTTP 400: the API key takes reports by webhook, not polling
	CodeBadReportID   = "A802" // HTTP 403: unknown or already acknowledged reportId
	CodeUnauthorized  = "A401"
	CodeNotFound      = "A404"
	CodeTooLarge      = "A413"
	CodeInternal      = "A910"
	CodeBusy          = "A920"
)

// Limits of the send API.
const (
	MaxDestinations   = 200
	MaxIdempotencyKey = 200
	MaxIdempotencyTTL = 86400 // seconds
	MaxTextLen        = 1300  // characters of an AlimTalk text
	MaxButtons        = 5
	MaxPollingBatch   = 1000
)

// Envelope is every Bizgo response: the gateway result, then the service
// result when the gateway let the request through.
type Envelope[T any] struct {
	Common Common     `json:"common"`
	Data   *Result[T] `json:"data,omitempty"`
}

// Common is the gateway layer of a response.
type Common struct {
	AuthCode     string `json:"authCode"`
	AuthResult   string `json:"authResult"`
	InfobankTrID string `json:"infobankTrId,omitempty"`
}

// Result is the service layer of a response.
type Result[T any] struct {
	Code   string `json:"code"`
	Result string `json:"result"`
	Ref    string `json:"ref,omitempty"`
	Data   *T     `json:"data,omitempty"`
}

// SendRequest is the body of POST /api/comm/v1/send/omni. Slices and maps
// are omitzero, not omitempty, so that decode → encode → decode is exact.
type SendRequest struct {
	Destinations   []Destination `json:"destinations,omitzero"`
	MessageFlow    []FlowItem    `json:"messageFlow,omitzero"`
	Ref            string        `json:"ref,omitempty"`
	GroupKey       string        `json:"groupKey,omitempty"`
	PaymentCode    string        `json:"paymentCode,omitempty"`
	IdempotencyKey string        `json:"idempotencyKey,omitempty"`
	// IdempotencyTTL is in seconds; a pointer because 0 is valid and
	// absence is an error (A309) when a key is given.
	IdempotencyTTL *int `json:"idempotencyTtl,omitempty"`
}

// Destination is one recipient of a send request.
type Destination struct {
	To           string            `json:"to"`
	ReplaceWords map[string]string `json:"replaceWords,omitzero"`
	Ref          string            `json:"ref,omitempty"`
}

// FlowItem is one channel of the message flow; exactly one field is set.
// Items after the first are the fallback chain.
type FlowItem struct {
	Alimtalk *AlimtalkItem `json:"alimtalk,omitempty"`
	SMS      *SMSItem      `json:"sms,omitempty"`
	MMS      *MMSItem      `json:"mms,omitempty"`
}

// AlimtalkItem is the AlimTalk leg of a message flow.
type AlimtalkItem struct {
	SenderKey    string `json:"senderKey"`
	TemplateCode string `json:"templateCode"`
	MsgType      string `json:"msgType,omitempty"`
	// SendType "template" asks the provider to render the approved template
	// with each destination's replaceWords; Text is then empty.
	SendType   string      `json:"sendType,omitempty"`
	Text       string      `json:"text,omitempty"`
	Title      string      `json:"title,omitempty"`
	Attachment *Attachment `json:"attachment,omitempty"`
}

// Attachment carries the buttons of an AlimTalk item.
type Attachment struct {
	Button []Button `json:"button,omitzero"`
}

// Button is an AlimTalk button on the wire.
type Button struct {
	Type          string `json:"type"`
	Name          string `json:"name"`
	URLMobile     string `json:"urlMobile,omitempty"`
	URLPC         string `json:"urlPc,omitempty"`
	SchemeIOS     string `json:"schemeIos,omitempty"`
	SchemeAndroid string `json:"schemeAndroid,omitempty"`
	Target        string `json:"target,omitempty"`
	ChatExtra     string `json:"chatExtra,omitempty"`
	ChatEvent     string `json:"chatEvent,omitempty"`
	PluginID      string `json:"pluginId,omitempty"`
	TelNumber     string `json:"telNumber,omitempty"`
}

// SMSItem is an SMS fallback (≤ 90 bytes EUC-KR).
type SMSItem struct {
	From string `json:"from"`
	Text string `json:"text"`
}

// MMSItem without files is an LMS fallback (≤ 2000 bytes EUC-KR).
type MMSItem struct {
	From  string `json:"from"`
	Title string `json:"title,omitempty"`
	Text  string `json:"text"`
}

// SendResponse is the answer to a send request.
type SendResponse = Envelope[SendResult]

// SendResult lists the per-destination results, in request order.
type SendResult struct {
	Destinations []DestinationResult `json:"destinations"`
}

// DestinationResult is the provider's answer for one destination.
type DestinationResult struct {
	To     string `json:"to"`
	MsgKey string `json:"msgKey,omitempty"`
	Code   string `json:"code"`
	Result string `json:"result"`
}

// InquiryResponse is the answer to GET …/report/inquiry/{msgKey}.
type InquiryResponse = Envelope[ReportList]

// ReportList holds the reports known for one msgKey.
type ReportList struct {
	Report []ReportBody `json:"report"`
}

// PollingResponse is the answer to GET …/report/polling. An empty ReportID
// and a null Report mean there is nothing to fetch.
type PollingResponse = Envelope[PollingBatch]

// PollingBatch is one batch of polled reports, acknowledged by ReportID.
type PollingBatch struct {
	ReportID string       `json:"reportId"`
	Report   []ReportBody `json:"report"`
}

// AckResponse is the answer to DELETE …/report/polling/{reportId}.
type AckResponse = Envelope[struct{}]

// Template API paths (docs/PROVIDER.md §6).
const (
	PathTemplateList = "/api/comm/v1/center/alimtalk/template/list" // GET ?senderKey=&inspectionStatus=&offset=&limit=
	PathTemplate     = "/api/comm/v1/center/alimtalk/template"      // GET ?senderKey=&templateCode=
)

// Inspection states of an AlimTalk template at Kakao.
const (
	InspectionRegistered = "REG" // registered, not submitted for inspection
	InspectionRequested  = "REQ" // under inspection
	InspectionApproved   = "APR" // approved: the only state that can be sent
	InspectionRejected   = "REJ" // rejected
)

// MaxTemplatePage is the page size herald asks for (the documented example).
const MaxTemplatePage = 100

// TemplateListResponse is the answer to GET …/template/list.
type TemplateListResponse = Envelope[TemplateList]

// TemplateList is data.data of a template list.
type TemplateList struct {
	Alimtalk *struct {
		Templates []WireTemplate `json:"templates"`
	} `json:"alimtalk,omitempty"`
}

// TemplateResponse is the answer to GET …/template (one template).
type TemplateResponse = Envelope[TemplateDetail]

// TemplateDetail is data.data of one template.
type TemplateDetail struct {
	Alimtalk *WireTemplate `json:"alimtalk,omitempty"`
}

// WireTemplate is an AlimTalk template as the template API describes it;
// only the fields herald keeps are named (unknown ones are ignored).
type WireTemplate struct {
	SenderKey        string      `json:"senderKey,omitempty"`
	TemplateCode     string      `json:"templateCode"`
	TemplateName     string      `json:"templateName,omitempty"`
	MsgType          string      `json:"msgType,omitempty"`
	Text             string      `json:"text"`
	Title            string      `json:"title,omitempty"`
	Attachment       *Attachment `json:"attachment,omitempty"`
	InspectionStatus string      `json:"inspectionStatus"`
	Status           string      `json:"status,omitempty"`
	Block            string      `json:"block,omitempty"`
	Dormant          string      `json:"dormant,omitempty"`
	ModifiedAt       string      `json:"modifiedAt,omitempty"`
}
