package herald

import (
	"strings"
	"time"
	"unicode/utf8"
)

// CampaignState is where a campaign is in its life.
type CampaignState string

// Campaign states.
const (
	CampaignDraft     CampaignState = "draft"
	CampaignScheduled CampaignState = "scheduled"
	CampaignPreparing CampaignState = "preparing"
	CampaignRunning   CampaignState = "running"
	CampaignPaused    CampaignState = "paused"
	CampaignCompleted CampaignState = "completed"
	CampaignCancelled CampaignState = "cancelled"
	CampaignFailed    CampaignState = "failed"
)

// Terminal reports whether nothing more can happen to the campaign.
func (s CampaignState) Terminal() bool {
	return s == CampaignCompleted || s == CampaignCancelled || s == CampaignFailed
}

// CanMoveTo reports whether the operator or the scheduler may move a
// campaign from s to next. Pause is allowed before and while running;
// resume only from paused (back to scheduled when it was paused before its
// recipients were prepared); cancel from any state that is not terminal.
func (s CampaignState) CanMoveTo(next CampaignState) bool {
	if s.Terminal() {
		return false
	}
	switch next {
	case CampaignScheduled:
		return s == CampaignDraft || s == CampaignPaused
	case CampaignPreparing:
		return s == CampaignScheduled
	case CampaignRunning:
		return s == CampaignPreparing || s == CampaignPaused
	case CampaignPaused:
		return s == CampaignScheduled || s == CampaignPreparing || s == CampaignRunning
	case CampaignCompleted, CampaignFailed:
		return s == CampaignRunning || s == CampaignPreparing || s == CampaignPaused
	case CampaignCancelled:
		return true
	}
	return false
}

// Audience selects the members a campaign goes to: exactly one of the three
// an operator may give, or Retry for the follow-up of a retry.
type Audience struct {
	All        bool              `json:"all,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
	MemberIDs  []string          `json:"memberIds,omitempty"`
	// Retry is the audience of a follow-up campaign made by
	// Store.RetryCampaign: a fixed set of members stored with the campaign.
	Retry *RetryAudience `json:"retry,omitempty"`
}

// RetryAudience says which recipients of a source campaign a follow-up
// campaign retries. Their members are fixed when the follow-up is created
// (stored apart from the audience, which only describes them).
type RetryAudience struct {
	// Campaign is the source campaign.
	Campaign int64 `json:"campaignId"`
	// States are the states of the source rows taken (FAILED, UNKNOWN).
	States []RecipientState `json:"states"`
	// Codes are the result codes taken; empty takes every code.
	Codes []string `json:"codes,omitempty"`
	// Members is how many members the follow-up was made with.
	Members int `json:"members"`
}

// Validate checks a retry selection: FAILED and UNKNOWN rows only, since
// every other state was sent, is being sent, or will be.
func (r RetryAudience) Validate() error {
	if len(r.States) == 0 {
		return Invalid("states", "name at least one of %s, %s", RecipientFailed, RecipientUnknown)
	}
	for _, s := range r.States {
		if s != RecipientFailed && s != RecipientUnknown {
			return Invalid("states", "only %s and %s recipients can be retried, not %q", RecipientFailed, RecipientUnknown, s)
		}
	}
	for _, c := range r.Codes {
		if strings.TrimSpace(c) == "" {
			return Invalid("codes", "codes must not be empty")
		}
	}
	return nil
}

// Took records how many members a store's follow-up took from the source;
// none is a conflict, since such a follow-up would send to nobody.
func (r *RetryAudience) Took(members int64) error {
	if members == 0 {
		return Conflict("campaign %d has no recipient left to retry in %v with codes %v", r.Campaign, r.States, r.Codes)
	}
	r.Members = int(members)
	return nil
}

// MaxAudienceIDs bounds an explicit member list in one campaign request.
const MaxAudienceIDs = 1_000_000

// Validate checks that exactly one selector is set.
func (a Audience) Validate() error {
	n := 0
	if a.All {
		n++
	}
	if len(a.Attributes) > 0 {
		n++
	}
	if len(a.MemberIDs) > 0 {
		n++
	}
	if n != 1 || a.Retry != nil {
		return Invalid("audience", `set exactly one of "all": true, "attributes" or "memberIds" (a retry's audience is made by POST /v1/campaigns/{id}/retry)`)
	}
	if len(a.MemberIDs) > MaxAudienceIDs {
		return Invalid("audience.memberIds", "at most %d ids", MaxAudienceIDs)
	}
	for _, id := range a.MemberIDs {
		if strings.TrimSpace(id) == "" {
			return Invalid("audience.memberIds", "ids must not be empty")
		}
	}
	return nil
}

// Campaign is one send of one template to an audience at a paced rate.
type Campaign struct {
	ID           int64             `json:"id"`
	Name         string            `json:"name"`
	TemplateCode string            `json:"templateCode"`
	Audience     Audience          `json:"audience"`
	Variables    map[string]string `json:"variables,omitempty"`
	StartAt      time.Time         `json:"startAt"`
	TPS          int               `json:"tps"`
	// SendWindow is when, in Asia/Seoul, the campaign may send
	// ("08:00-20:50", see SendWindow); empty takes the server's default.
	SendWindow string        `json:"sendWindow,omitempty"`
	State      CampaignState `json:"state"`
	// CreatedBy and ApprovedBy are fingerprints (a hash, never the token)
	// of the admin tokens that created and approved the campaign.
	CreatedBy  string `json:"createdBy,omitempty"`
	ApprovedBy string `json:"approvedBy,omitempty"`
	// Kind is "messages" for the hidden campaign of one template's one-off
	// messages; empty for a campaign.
	Kind CampaignKind `json:"kind,omitempty"`
	// Reason says why the dispatcher paused or failed the campaign (an
	// account-level refusal, the error breaker, a template that cannot be
	// used); empty otherwise.
	Reason string `json:"reason,omitempty"`
	// RetryOf is the campaign this one retries (Store.RetryCampaign); 0
	// for a campaign of its own.
	RetryOf   int64     `json:"retryOf,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	// Counts holds the number of recipients per state; its values add up to Total.
	Counts map[RecipientState]int `json:"counts,omitempty"`
	Total  int                    `json:"total"`
}

// Limits on campaign fields.
const (
	MaxCampaignNameLen = 200
	MaxTPS             = 100_000
)

// Validate checks a new campaign and fills defaults (start now, state
// scheduled; a draft stays a draft until approved).
func (c *Campaign) Validate(now time.Time) error {
	c.Name = strings.TrimSpace(c.Name)
	if c.Name == "" {
		return Invalid("name", "is required")
	}
	if utf8.RuneCountInString(c.Name) > MaxCampaignNameLen {
		return Invalid("name", "is longer than %d characters", MaxCampaignNameLen)
	}
	if strings.TrimSpace(c.TemplateCode) == "" {
		return Invalid("templateCode", "is required")
	}
	if err := c.Audience.Validate(); err != nil {
		return err
	}
	if err := ValidateTPS(c.TPS); err != nil {
		return err
	}
	w, err := ParseSendWindow(c.SendWindow)
	if err != nil {
		return err
	}
	if c.SendWindow != "" && w.Always() {
		c.SendWindow = "00:00-24:00" // always, overriding the server's default
	} else {
		c.SendWindow = w.String()
	}
	if c.StartAt.IsZero() {
		c.StartAt = now
	}
	if c.State == "" {
		c.State = CampaignScheduled
	}
	return nil
}

// ValidateTPS checks a sending rate.
func ValidateTPS(tps int) error {
	if tps < 1 || tps > MaxTPS {
		return Invalid("tps", "must be between 1 and %d", MaxTPS)
	}
	return nil
}

// CampaignPatch changes what may change after creation.
type CampaignPatch struct {
	StartAt *time.Time `json:"startAt,omitempty"`
	TPS     *int       `json:"tps,omitempty"`
}

// Validate checks the patch.
func (p CampaignPatch) Validate() error {
	if p.StartAt == nil && p.TPS == nil {
		return Invalid("", "nothing to change: give startAt or tps")
	}
	if p.TPS != nil {
		return ValidateTPS(*p.TPS)
	}
	return nil
}

// SetCounts sets the recipient counts and the total they add up to. Every
// state is present, zero or not, so that clients see the whole picture.
func (c *Campaign) SetCounts(counts map[RecipientState]int) {
	c.Counts = make(map[RecipientState]int, len(RecipientStates))
	c.Total = 0
	for _, s := range RecipientStates {
		c.Counts[s] = counts[s]
		c.Total += counts[s]
	}
}

// NextState resolves an operator's or scheduler's request to move a campaign
// from its current state. Resuming a campaign paused before its recipients
// were prepared sends it back to scheduled. ErrConflict when not allowed.
func NextState(from, to CampaignState, prepared bool) (CampaignState, error) {
	if to == CampaignRunning && from == CampaignPaused && !prepared {
		to = CampaignScheduled
	}
	if !from.CanMoveTo(to) {
		return "", Conflict("campaign is %s and cannot become %s", from, to)
	}
	return to, nil
}

// CheckHalt says whether a campaign may halt in state to: a halt with a
// reason pauses it or fails it; the other moves are transitions.
func CheckHalt(to CampaignState) error {
	if to != CampaignPaused && to != CampaignFailed {
		return Invalid("state", "a campaign halts as %s or %s, not %s", CampaignPaused, CampaignFailed, to)
	}
	return nil
}

// CheckPatch says whether a patch may be applied in the given state: the rate
// may change until the campaign ends, the start time only before the
// recipients are prepared.
func CheckPatch(state CampaignState, prepared bool, p CampaignPatch) error {
	if state.Terminal() {
		return Conflict("campaign is %s and can no longer change", state)
	}
	if p.StartAt != nil && (prepared || state == CampaignPreparing) {
		return Conflict("campaign has started; startAt can no longer change")
	}
	return nil
}

// CheckRetrySource says whether a campaign in state may be retried: only
// once it is over. Before, its rows still move (a paused campaign resumes,
// an in-doubt send settles), and a follow-up made from them could send to
// someone the source is about to send to.
func CheckRetrySource(state CampaignState) error {
	if !state.Terminal() {
		return Conflict("campaign is %s: retry it once it is completed, cancelled or failed", state)
	}
	return nil
}
