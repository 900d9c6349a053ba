package mockprovider

import (
	"encoding/json"
	"net/http"

	"github.com/heraldhq/herald/infobank"
)

// handleInquiry serves GET …/report/inquiry/{msgKey}: the reports kept for
// msgKey, an empty list when none.
func (s *Server) handleInquiry(w http.ResponseWriter, r *http.Request) {
	if !s.enterAPI(w, r, "inquiry") {
		return
	}
	reports := s.store.inquire(r.PathValue("msgKey"), s.cfg.Now())
	s.writeJSON(w, http.StatusOK, infobank.InquiryResponse{
		Common: s.common(infobank.CodeSuccess, "Success"),
		Data: &infobank.Result[infobank.ReportList]{
			Code: infobank.CodeSuccess, Result: "Success",
			Data: &infobank.ReportList{Report: reports},
		},
	})
}

// handlePoll serves GET …/report/polling: the unacknowledged batch again,
// or the next one; reportId "" and report null when there is nothing. A
// mock that posts reports to a webhook is an API key set to WEBHOOK: it
// answers polling 400 A801, as the provider does.
func (s *Server) handlePoll(w http.ResponseWriter, r *http.Request) {
	if !s.enterAPI(w, r, "poll") {
		return
	}
	if s.cfg.Reports == ReportsWebhook {
		s.writeError(w, http.StatusBadRequest, infobank.CodeNoPolling, "No permission for the report POLLING API: this key takes reports by WEBHOOK", "")
		return
	}
	batch := s.store.poll(s.cfg.Now())
	if batch == nil {
		batch = &infobank.PollingBatch{}
	}
	s.writeJSON(w, http.StatusOK, infobank.PollingResponse{
		Common: s.common(infobank.CodeSuccess, "Success"),
		Data:   &infobank.Result[infobank.PollingBatch]{Code: infobank.CodeSuccess, Result: "Success", Data: batch},
	})
}

// handleAck serves DELETE …/report/polling/{reportId}.
func (s *Server) handleAck(w http.ResponseWriter, r *http.Request) {
	if !s.enterAPI(w, r, "ack") {
		return
	}
	if !s.store.ack(r.PathValue("reportId")) {
		s.writeError(w, http.StatusForbidden, infobank.CodeBadReportID, "Invalid Report ID", "")
		return
	}
	s.writeError(w, http.StatusOK, infobank.CodeSuccess, "Success", "")
}

// handleStats serves GET /mock/stats.
func (s *Server) handleStats(w http.ResponseWriter, _ *http.Request) {
	s.writeJSON(w, http.StatusOK, s.Stats())
}

// handleReset serves POST /mock/reset.
func (s *Server) handleReset(w http.ResponseWriter, _ *http.Request) {
	s.Reset()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]bool{"reset": true})
}
