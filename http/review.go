package http

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/review"
)

// fingerprintKey carries the fingerprint of the admin token that
// authenticated a request.
type fingerprintKey struct{}

// authenticate is Valid that also says which token matched, as its
// fingerprint: the first 16 hex digits of its SHA-256, never the token.
// Every digest is compared, in constant time, as in Valid.
func (b BearerTokens) authenticate(header string) (fingerprint string, ok bool) {
	match := b.match(header)
	if match < 0 {
		return "", false
	}
	return fingerprintOf(b.digests[match]), true
}

// match is the index of the token of an Authorization header, -1 when none.
func (b BearerTokens) match(header string) int {
	scheme, token, found := strings.Cut(header, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return -1
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(token)))
	match := -1
	for i := range b.digests {
		if subtle.ConstantTimeCompare(got[:], b.digests[i][:]) == 1 {
			match = i
		}
	}
	return match
}

// fingerprintOf names a token by its digest's first bytes: enough to tell
// admin tokens apart, nothing to recover one from.
func fingerprintOf(digest [sha256.Size]byte) string {
	return hex.EncodeToString(digest[:8])
}

// TokenFingerprint is the fingerprint of the admin token that
// authenticated the request of ctx; empty when none did.
func TokenFingerprint(ctx context.Context) string {
	fp, _ := ctx.Value(fingerprintKey{}).(string)
	return fp
}

func withFingerprint(r *http.Request, fp string) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), fingerprintKey{}, fp))
}

// reviewCampaign answers POST /v1/campaigns/{id}/review: what the campaign
// will do, before anything is sent (see internal/review).
func (s *Server) reviewCampaign(w http.ResponseWriter, r *http.Request) {
	c, ok := s.pathCampaign(w, r)
	if !ok {
		return
	}
	rev, err := review.Campaign(r.Context(), s.store, c, s.sending, s.now().UTC())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rev)
}

// approveCampaign schedules a draft. With RequireApprover the approving
// token must not be the one that created it (two-person rule).
func (s *Server) approveCampaign(w http.ResponseWriter, r *http.Request) {
	c, ok := s.pathCampaign(w, r)
	if !ok {
		return
	}
	id := c.ID
	fp := TokenFingerprint(r.Context())
	if s.requireApprover && (c.CreatedBy == "" || c.CreatedBy == fp) {
		s.writeError(w, r, apiError(http.StatusForbidden, CodeForbidden,
			"campaign %d was created with this token: another admin token must approve it (--require-approver)", id))
		return
	}
	c, err := s.store.ApproveCampaign(r.Context(), id, fp, s.now().UTC())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

// cloneCampaign makes a new draft with the same template, audience,
// variables, rate and send window, created by the calling token.
func (s *Server) cloneCampaign(w http.ResponseWriter, r *http.Request) {
	src, ok := s.pathCampaign(w, r)
	if !ok {
		return
	}
	id := src.ID
	if src.Kind == herald.KindMessages {
		s.writeError(w, r, herald.Conflict("campaign %d carries one-off messages; it cannot be cloned", id))
		return
	}
	name := src.Name
	if n := []rune(name); len(n) > herald.MaxCampaignNameLen-len(" (copy)") {
		name = string(n[:herald.MaxCampaignNameLen-len(" (copy)")])
	}
	req := campaignRequest{Name: name + " (copy)", TemplateCode: src.TemplateCode, Audience: src.Audience,
		Variables: src.Variables, TPS: src.TPS, SendWindow: src.SendWindow, Draft: true}
	s.storeCampaign(w, r, req)
}

// ReviewCampaign asks what the campaign will do before anything is sent.
func (c *Client) ReviewCampaign(ctx context.Context, id int64) (review.Review, error) {
	var out review.Review
	return out, c.send(ctx, http.MethodPost, campaignPath(id, "/review"), nil, &out)
}

// ApproveCampaign schedules a draft; herald.ErrConflict when it is not one.
func (c *Client) ApproveCampaign(ctx context.Context, id int64) (herald.Campaign, error) {
	return c.act(ctx, id, "approve")
}

// CloneCampaign makes a new draft with the campaign's template, audience
// and settings.
func (c *Client) CloneCampaign(ctx context.Context, id int64) (herald.Campaign, error) {
	var out herald.Campaign
	return out, c.send(ctx, http.MethodPost, campaignPath(id, "/clone"), nil, &out)
}

// pathCampaign reads the campaign of the request's {id}; on a bad id or a
// failed read it has answered already and reports false.
func (s *Server) pathCampaign(w http.ResponseWriter, r *http.Request) (herald.Campaign, bool) {
	id, err := campaignID(r)
	if err != nil {
		s.writeError(w, r, err)
		return herald.Campaign{}, false
	}
	c, err := s.store.GetCampaign(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return herald.Campaign{}, false
	}
	return c, true
}
