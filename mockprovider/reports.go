package mockprovider

import (
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/infobank"
)

// emitReports makes the reports of the destinations accepted now (not the
// replays), keeps them for inquiry, and queues them for the webhook.
func (s *Server) emitReports(req *infobank.SendRequest, p plan, a admission) {
	if s.cfg.Reports == ReportsOff {
		return
	}
	due := a.at.Add(s.cfg.ReportDelay)
	for i, d := range req.Destinations {
		if a.msgKeys[i] == "" || a.replay[i] {
			continue
		}
		s.emit(s.reportsFor(req, d, p.texts[i], a.msgKeys[i], a.at, due), due)
	}
}

// reportsFor is the AlimTalk report of one recipient and, when that leg
// failed and the request has a fallback item, the fallback's report (the
// fallback is always delivered).
func (s *Server) reportsFor(req *infobank.SendRequest, d infobank.Destination, text, msgKey string, at, due time.Time) []herald.Report {
	alim := req.MessageFlow[0].Alimtalk
	code := s.cfg.resultFor(d.To)
	if !s.catalog.Load().matches(alim.TemplateCode, text) {
		code = codeMismatch
	}
	ref := d.Ref
	if ref == "" {
		ref = req.Ref
	}
	r := herald.Report{
		MsgKey: msgKey, Ref: ref, ServiceType: infobank.ServiceAlim, MsgType: alim.MsgType,
		SendTime: at.In(infobank.KST), ReportTime: due.In(infobank.KST), ReportType: "0",
		Code: code, Text: reportTexts[code],
	}
	if r.MsgType == "" {
		r.MsgType = "AT"
	}
	if !fallsBack(code) || len(req.MessageFlow) < 2 {
		return []herald.Report{r}
	}
	fb := r
	// An LMS is an MMS without files: it reports through the MMS channel.
	fb.ServiceType, fb.MsgType = "SMS", "SM"
	if req.MessageFlow[1].MMS != nil {
		fb.ServiceType, fb.MsgType = "MMS", "LM"
	}
	fb.Code, fb.Text = codeDelivered, reportTexts[codeDelivered]
	return []herald.Report{r, fb}
}

// fallsBack reports whether a Kakao result triggers the fallback leg: the
// message certainly did not reach KakaoTalk.
func fallsBack(code string) bool {
	return code == codeMismatch || code == codeNotUser || code == codeBlocked
}

// emit stores the reports of one recipient and, for the webhook, queues
// them, each unless the loss rate drops it; the duplicate rate posts one
// twice.
func (s *Server) emit(reports []herald.Report, due time.Time) {
	for _, r := range reports {
		s.store.add(infobank.BodyFromReport(r), due)
	}
	if s.cfg.Reports != ReportsWebhook {
		return
	}
	st := &s.delivery.stats
	p := pending{due: due, reports: make([]outgoing, 0, len(reports))}
	for _, r := range reports {
		if s.dice.roll(s.cfg.ReportLossRate) {
			st.lost.Add(1)
			continue
		}
		o := outgoing{report: r, copies: 1}
		if s.dice.roll(s.cfg.ReportDupRate) {
			st.duplicated.Add(1)
			o.copies = 2
		}
		p.reports = append(p.reports, o)
	}
	if len(p.reports) > 0 {
		s.delivery.enqueue(p)
	}
}
