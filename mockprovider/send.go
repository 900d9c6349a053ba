package mockprovider

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"

	"github.com/heraldhq/herald/infobank"
)

// fault is what the mock does to one request besides answering it.
type fault int

const (
	faultNone   fault = iota
	faultRefuse       // 503 A920 before accepting
	faultFail         // accept, then 500 A910
	faultHang         // accept, then never answer
)

// plan is the per-destination view of a decoded request: the text each
// recipient gets and the refusals found before acceptance.
type plan struct {
	valid   []int    // indexes of destinations that may be accepted
	texts   []string // the AlimTalk text per destination
	codes   []string // a refusal code per destination, "" when valid
	reasons []string
}

// handleSend serves POST /api/comm/v1/send/omni.
func (s *Server) handleSend(w http.ResponseWriter, r *http.Request) {
	if !s.gate.enter() {
		s.writeError(w, http.StatusServiceUnavailable, infobank.CodeBusy, "shutting down", "")
		return
	}
	defer s.gate.leave()
	s.counts.requests.Add(1)
	if !s.authorized(r) {
		s.counts.unauthorized.Add(1)
		s.writeUnauthorized(w)
		return
	}
	req, rerr := s.readSend(w, r)
	if rerr != nil {
		s.counts.badRequests.Add(1)
		s.writeError(w, rerr.Status, rerr.Code, rerr.Error(), "")
		return
	}
	s.serveSend(w, r, req)
}

// serveSend runs a valid request through faults, the limiter and the
// ledger, and answers.
func (s *Server) serveSend(w http.ResponseWriter, r *http.Request, req *infobank.SendRequest) {
	ph := s.currentPhase()
	if s.brownoutSend(w, ph, len(req.Destinations), req.Ref) {
		return
	}
	p := s.plan(req)
	f := s.pickFault()
	if f == faultRefuse {
		s.counts.refusedOther.Add(int64(len(req.Destinations)))
		s.writeError(w, http.StatusServiceUnavailable, infobank.CodeBusy, "Service busy", req.Ref)
		return
	}
	a := s.ledger.Load().admit(req, p.valid, s.cfg.Now(), s.keys.make)
	if a.rateLimited {
		s.writeRateLimited(w, "Too many recipients per second", req.Ref)
		return
	}
	s.counts.refusedOther.Add(int64(len(req.Destinations) - len(p.valid)))
	if n := a.fresh(); n > 0 {
		s.firstOnce.Do(func() { close(s.firstAccept) })
		if ph != nil {
			ph.accepted.Add(int64(n))
		}
	}
	s.emitReports(req, p, a)
	if !s.holdAnswer(r, ph) {
		panic(http.ErrAbortHandler) // the client gave up: nobody to answer
	}
	s.finish(w, r, f, req, p, a)
}

// readSend reads, decodes and checks the request as a whole.
func (s *Server) readSend(w http.ResponseWriter, r *http.Request) (*infobank.SendRequest, *RequestError) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, &RequestError{Status: http.StatusRequestEntityTooLarge, Code: infobank.CodeTooLarge, Field: "body", Message: "too large"}
		}
		return nil, badRequest(infobank.CodeParse, "body", "read: %v", err)
	}
	req, rerr := DecodeSendRequest(body)
	if rerr != nil {
		return nil, rerr
	}
	if rerr := s.checkAccount(req); rerr != nil {
		return nil, rerr
	}
	return req, nil
}

// checkAccount refuses what the account is not set up for, as the
// provider does, whole and before anything is accepted: a sender key the
// account does not own (A502), a template not registered or not approved
// for it (A505), an unregistered fallback sender number (A327).
func (s *Server) checkAccount(req *infobank.SendRequest) *RequestError {
	alim := req.MessageFlow[0].Alimtalk
	const f = "messageFlow[0].alimtalk."
	cat := s.catalog.Load()
	if len(s.cfg.SenderKeys) > 0 && !slices.Contains(s.cfg.SenderKeys, alim.SenderKey) {
		return badRequest(infobank.CodeBadSenderKey, f+"senderKey", "not a sender profile of this account")
	}
	if !cat.known(alim.TemplateCode) {
		return badRequest(infobank.CodeBadTemplate, f+"templateCode", "%q is not a registered template", alim.TemplateCode)
	}
	if !cat.approved(alim.TemplateCode) {
		return badRequest(infobank.CodeBadTemplate, f+"templateCode", "%q is %s, not approved (APR)", alim.TemplateCode, cat.inspection[alim.TemplateCode])
	}
	if alim.SendType == "template" {
		if cat.parsed[alim.TemplateCode] == nil {
			return badRequest(infobank.CodeBadTemplate, f+"sendType", "the mock renders only templates of its catalog")
		}
	}
	if len(s.cfg.RegisteredFrom) > 0 {
		for i, item := range req.MessageFlow[1:] {
			from, kind := "", ""
			switch {
			case item.SMS != nil:
				from, kind = item.SMS.From, "sms"
			case item.MMS != nil:
				from, kind = item.MMS.From, "mms"
			}
			if !slices.Contains(s.cfg.RegisteredFrom, from) {
				return badRequest(infobank.CodeUnregisteredFrom, fmt.Sprintf("messageFlow[%d].%s.from", i+1, kind), "unregistered sender number")
			}
		}
	}
	return nil
}

// plan checks each destination's number and works out its text.
func (s *Server) plan(req *infobank.SendRequest) plan {
	n := len(req.Destinations)
	p := plan{texts: make([]string, n), codes: make([]string, n), reasons: make([]string, n)}
	alim := req.MessageFlow[0].Alimtalk
	for i, d := range req.Destinations {
		if !isKoreanMobile(d.To) {
			p.codes[i], p.reasons[i] = infobank.CodeBadTo, "Invalid or empty 'to'"
			continue
		}
		p.texts[i] = alim.Text
		if alim.SendType == "template" && d.ReplaceWords == nil {
			// The spec makes replaceWords required in this mode, also for
			// a template without variables.
			p.codes[i], p.reasons[i] = infobank.CodeMapping, "replaceWords is required with sendType template"
			continue
		}
		if alim.SendType == "template" {
			text, err := s.catalog.Load().parsed[alim.TemplateCode].Render(lookup(d.ReplaceWords))
			if err != nil {
				p.codes[i], p.reasons[i] = infobank.CodeMapping, "replaceWords: "+err.Error()
				continue
			}
			p.texts[i] = text
		}
		p.valid = append(p.valid, i)
	}
	return p
}

func lookup(m map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

// pickFault rolls the request's fault once, before acceptance, so the
// three rates add up.
func (s *Server) pickFault() fault {
	c := s.cfg
	if c.RefuseRate+c.FailAfterAcceptRate+c.HangRate == 0 {
		return faultNone
	}
	faults := [...]fault{faultRefuse, faultFail, faultHang, faultNone}
	return faults[pick(s.dice.float(), c.RefuseRate, c.FailAfterAcceptRate, c.HangRate)]
}

// finish answers an accepted request after the latency, or plays its fault.
func (s *Server) finish(w http.ResponseWriter, r *http.Request, f fault, req *infobank.SendRequest, p plan, a admission) {
	if f == faultHang {
		s.counts.hung.Add(1)
		select {
		case <-r.Context().Done():
		case <-s.stopping:
		}
		// Drop the connection without an answer, as a hung server would.
		panic(http.ErrAbortHandler)
	}
	if !s.pause(r, s.latency()) {
		panic(http.ErrAbortHandler)
	}
	if f == faultFail {
		s.counts.failedAfterAccept.Add(1)
		s.writeError(w, http.StatusInternalServerError, infobank.CodeInternal, "Internal error", req.Ref)
		return
	}
	s.writeSendResult(w, req, p, a)
}

// writeSendResult answers 200 with one result per destination. A request
// that is a replay through and through is answered, with DuplicateAnswer
// "request", 400 A301 for the whole request (the code table lists A301 as
// HTTP 400), without data.
func (s *Server) writeSendResult(w http.ResponseWriter, req *infobank.SendRequest, p plan, a admission) {
	if s.cfg.DuplicateAnswer == DuplicateRequest && allReplays(p, a) {
		s.writeError(w, http.StatusBadRequest, infobank.CodeDuplicate, "The same request has been processed already", req.Ref)
		return
	}
	results := make([]infobank.DestinationResult, len(req.Destinations))
	for i, d := range req.Destinations {
		res := infobank.DestinationResult{To: d.To, MsgKey: a.msgKeys[i], Code: infobank.CodeSuccess, Result: "Success"}
		switch {
		case p.codes[i] != "":
			res.Code, res.Result = p.codes[i], p.reasons[i]
		case a.replay[i]:
			res.Code, res.Result = infobank.CodeDuplicate, "Duplicate idempotencyKey: accepted earlier"
			if s.cfg.DuplicateAnswer == DuplicateNoMsgKey {
				res.MsgKey = ""
			}
		}
		results[i] = res
	}
	resp := infobank.SendResponse{
		Common: s.common(infobank.CodeSuccess, "Success"),
		Data: &infobank.Result[infobank.SendResult]{
			Code: infobank.CodeSuccess, Result: "Success", Ref: req.Ref,
			Data: &infobank.SendResult{Destinations: results},
		},
	}
	s.writeJSON(w, http.StatusOK, resp)
}

// allReplays reports whether every destination was a replay of an earlier
// acceptance (none new, none refused).
func allReplays(p plan, a admission) bool {
	if len(p.valid) == 0 {
		return false
	}
	for i := range p.codes {
		if p.codes[i] != "" || !a.replay[i] {
			return false
		}
	}
	return true
}
