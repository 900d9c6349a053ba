package http

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/template"
)

// campaignRequest is the body of POST /v1/campaigns, for the server and the
// Client alike. Times travel as RFC 3339 strings so that a bad one is a 400
// naming its field (encoding/json does not say which time failed to parse).
type campaignRequest struct {
	Name         string            `json:"name"`
	TemplateCode string            `json:"templateCode"`
	Audience     herald.Audience   `json:"audience"`
	Variables    map[string]string `json:"variables,omitempty"`
	StartAt      string            `json:"startAt,omitempty"`
	TPS          int               `json:"tps"`
	SendWindow   string            `json:"sendWindow,omitempty"`
	// Draft creates the campaign as a draft: never sent until approved
	// (POST /v1/campaigns/{id}/approve).
	Draft bool `json:"draft,omitempty"`
}

func newCampaignRequest(c herald.Campaign) campaignRequest {
	return campaignRequest{Name: c.Name, TemplateCode: c.TemplateCode, Audience: c.Audience,
		Variables: c.Variables, StartAt: formatTime(c.StartAt), TPS: c.TPS, SendWindow: c.SendWindow,
		Draft: c.State == herald.CampaignDraft}
}

func (q campaignRequest) campaign() (herald.Campaign, error) {
	start, err := parseTime("startAt", q.StartAt)
	c := herald.Campaign{Name: q.Name, TemplateCode: q.TemplateCode, Audience: q.Audience,
		Variables: q.Variables, StartAt: start, TPS: q.TPS, SendWindow: q.SendWindow}
	if q.Draft {
		c.State = herald.CampaignDraft
	}
	return c, err
}

// patchRequest is the body of PATCH /v1/campaigns/{id}.
type patchRequest struct {
	StartAt *string `json:"startAt,omitempty"`
	TPS     *int    `json:"tps,omitempty"`
}

func newPatchRequest(p herald.CampaignPatch) patchRequest {
	q := patchRequest{TPS: p.TPS}
	if p.StartAt != nil {
		s := formatTime(*p.StartAt)
		q.StartAt = &s
	}
	return q
}

func (q patchRequest) patch() (herald.CampaignPatch, error) {
	p := herald.CampaignPatch{TPS: q.TPS}
	if q.StartAt != nil {
		t, err := parseTime("startAt", *q.StartAt)
		if err != nil {
			return p, err
		}
		if t.IsZero() {
			return p, herald.Invalid("startAt", "must not be empty")
		}
		p.StartAt = &t
	}
	return p, p.Validate()
}

func parseTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, herald.Invalid(field, "must be an RFC 3339 time such as 2026-01-02T15:04:05+09:00, not %q", s)
	}
	return t.UTC(), nil
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339Nano)
}

// createCampaign checks the campaign and its template before storing it, so
// that a campaign that cannot render for anyone is refused now, not at send.
func (s *Server) createCampaign(w http.ResponseWriter, r *http.Request) {
	var req campaignRequest
	if err := decodeJSON(w, r, maxCampaignBytes, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if s.requireApprover {
		req.Draft = true // two-person rule: nothing is scheduled by its creator alone
	}
	s.storeCampaign(w, r, req)
}

// storeCampaign checks req, stores it as created by the request's token and
// answers 201 with the campaign.
func (s *Server) storeCampaign(w http.ResponseWriter, r *http.Request, req campaignRequest) {
	c, err := s.newCampaign(r.Context(), req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	c.CreatedBy = TokenFingerprint(r.Context())
	if c, err = s.store.CreateCampaign(r.Context(), c); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", fmt.Sprintf("/v1/campaigns/%d", c.ID))
	writeJSON(w, http.StatusCreated, c)
}

func (s *Server) newCampaign(ctx context.Context, req campaignRequest) (herald.Campaign, error) {
	c, err := req.campaign()
	if err != nil {
		return c, err
	}
	now := s.now().UTC()
	if err := c.Validate(now); err != nil {
		return c, err
	}
	t, err := s.store.GetTemplate(ctx, c.TemplateCode)
	if errors.Is(err, herald.ErrNotFound) {
		return c, herald.Invalid("templateCode", "there is no template %q", c.TemplateCode)
	}
	if err != nil {
		return c, err
	}
	if err := template.CheckCampaign(ctx, s.store, t, c); err != nil {
		return c, err
	}
	c.CreatedAt, c.UpdatedAt = now, now
	return c, nil
}

// campaignList is the body of GET /v1/campaigns.
type campaignList struct {
	Campaigns []herald.Campaign `json:"campaigns"`
}

func (s *Server) listCampaigns(w http.ResponseWriter, r *http.Request) {
	cs, err := s.store.ListCampaigns(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, campaignList{Campaigns: nonNilSlice(cs)})
}

func (s *Server) getCampaign(w http.ResponseWriter, r *http.Request) {
	if c, ok := s.pathCampaign(w, r); ok {
		writeJSON(w, http.StatusOK, c)
	}
}

func (s *Server) patchCampaign(w http.ResponseWriter, r *http.Request) {
	id, err := campaignID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req patchRequest
	if err := decodeJSON(w, r, maxJSONBytes, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	p, err := req.patch()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	c, err := s.store.UpdateCampaign(r.Context(), id, p)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

// transition moves a campaign to state to; the store refuses what
// herald.CampaignState.CanMoveTo does not allow, with ErrConflict (409).
func (s *Server) transition(to herald.CampaignState) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := campaignID(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		c, err := s.store.TransitionCampaign(r.Context(), id, to, s.now().UTC())
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, c)
	}
}

func queryInt(s, field string, def, lo, hi int64) (int64, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, herald.Invalid(field, "must be an integer from %d to %d, not %q", lo, hi, s)
	}
	return n, nil
}

func campaignID(r *http.Request) (int64, error) {
	s := r.PathValue("id")
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, herald.Invalid("id", "campaign ids are positive integers, not %q", s)
	}
	return id, nil
}
