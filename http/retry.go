package http

import (
	"context"
	"fmt"
	"net/http"
	"slices"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/infobank"
)

// Failure is one row of GET /v1/campaigns/{id}/failures: how many
// recipients ended in State with Code, what the code means (Known false
// for a code herald does not know) and whether a retry takes them by
// default.
type Failure struct {
	Code      string                `json:"code"`
	State     herald.RecipientState `json:"state"`
	Count     int                   `json:"count"`
	Ko        string                `json:"ko"`
	En        string                `json:"en"`
	Retryable bool                  `json:"retryable"`
	Known     bool                  `json:"known"`
}

// failureList is the body of GET /v1/campaigns/{id}/failures.
type failureList struct {
	Failures []Failure `json:"failures"`
}

func (s *Server) listFailures(w http.ResponseWriter, r *http.Request) {
	id, err := campaignID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	fs, err := s.failures(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, failureList{Failures: fs})
}

func (s *Server) failures(ctx context.Context, id int64) ([]Failure, error) {
	if _, err := s.store.GetCampaign(ctx, id); err != nil {
		return nil, err // 404 rather than an empty list for a wrong id
	}
	counts, err := s.store.CampaignFailures(ctx, id)
	if err != nil {
		return nil, err
	}
	out := make([]Failure, len(counts))
	for i, c := range counts {
		m := infobank.CodeMeaning(c.Code)
		// Only a FAILED row can be retryable: UNKNOWN may have arrived.
		out[i] = Failure{Code: c.Code, State: c.State, Count: c.Count, Ko: m.Ko, En: m.En,
			Retryable: m.Retryable && c.State == herald.RecipientFailed, Known: m.Known}
	}
	return out, nil
}

// retryRequest is the body of POST /v1/campaigns/{id}/retry; both fields
// are optional (see retrySelection).
type retryRequest struct {
	States []herald.RecipientState `json:"states,omitempty"`
	Codes  []string                `json:"codes,omitempty"`
}

// retryCampaign creates the follow-up campaign of a retry: the source's
// template, variables and rate, to the members chosen (Store.RetryCampaign),
// starting now.
func (s *Server) retryCampaign(w http.ResponseWriter, r *http.Request) {
	var req retryRequest
	if r.ContentLength != 0 {
		if err := decodeJSON(w, r, maxJSONBytes, &req); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	src, ok := s.pathCampaign(w, r)
	if !ok {
		return
	}
	id := src.ID
	sel, err := s.retrySelection(r.Context(), id, req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	now := s.now().UTC()
	c := herald.Campaign{Name: retryName(src), TemplateCode: src.TemplateCode, Variables: src.Variables, TPS: src.TPS,
		StartAt: now, State: herald.CampaignScheduled, CreatedAt: now, UpdatedAt: now,
		Audience: herald.Audience{Retry: &sel}}
	if c, err = s.store.RetryCampaign(r.Context(), c); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", fmt.Sprintf("/v1/campaigns/%d", c.ID))
	writeJSON(w, http.StatusCreated, c)
}

// retrySelection fills the defaults of a retry: states FAILED; codes, when
// none are named, the retryable codes (infobank.CodeMeaning) for FAILED
// rows and, when UNKNOWN rows are asked for by name, the codes they have.
func (s *Server) retrySelection(ctx context.Context, id int64, req retryRequest) (herald.RetryAudience, error) {
	sel := herald.RetryAudience{Campaign: id, States: req.States, Codes: req.Codes}
	if len(sel.States) == 0 {
		sel.States = []herald.RecipientState{herald.RecipientFailed}
	}
	if err := sel.Validate(); err != nil {
		return sel, err
	}
	if len(sel.Codes) > 0 {
		return sel, nil
	}
	if slices.Contains(sel.States, herald.RecipientFailed) {
		sel.Codes = infobank.RetryableCodes()
	}
	if slices.Contains(sel.States, herald.RecipientUnknown) {
		counts, err := s.store.CampaignFailures(ctx, id)
		if err != nil {
			return sel, err
		}
		for _, c := range counts {
			if c.State == herald.RecipientUnknown && !slices.Contains(sel.Codes, c.Code) {
				sel.Codes = append(sel.Codes, c.Code)
			}
		}
	}
	if len(sel.Codes) == 0 {
		return sel, herald.Conflict("campaign %d has no recipient left to retry in %v", id, sel.States)
	}
	return sel, nil
}

func retryName(src herald.Campaign) string {
	name := []rune(fmt.Sprintf("%s (retry of %d)", src.Name, src.ID))
	if len(name) > herald.MaxCampaignNameLen {
		name = name[:herald.MaxCampaignNameLen]
	}
	return string(name)
}
