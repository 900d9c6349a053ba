// Package herald holds the domain of herald: members, templates, campaigns,
// recipients and delivery reports, and the interfaces (Store, Provider) that
// the rest of the program implements. It imports only the standard library.
package herald

import (
	"context"
	"time"
)

// Store is the persistence contract. Every backend (sqlite, postgres) passes
// the same conformance suite in storetest. Batching lives here: methods take
// and return slices so that one call is one transaction.
type Store interface {
	// Ping reports whether the database is reachable.
	Ping(ctx context.Context) error
	// Close releases the connections.
	Close() error

	// UpsertMembers inserts or updates members by id in one transaction.
	// Within one call a later element with the same id wins.
	UpsertMembers(ctx context.Context, members []Member) (UpsertResult, error)
	// GetMember returns ErrNotFound when the id is unknown.
	GetMember(ctx context.Context, id string) (Member, error)
	// WithdrawMember marks a member withdrawn; withdrawn members are never sent to.
	WithdrawMember(ctx context.Context, id string, at time.Time) (Member, error)

	// CreateTemplate returns ErrConflict when the code exists.
	CreateTemplate(ctx context.Context, t Template) (Template, error)
	GetTemplate(ctx context.Context, code string) (Template, error)
	ListTemplates(ctx context.Context) ([]Template, error)

	// CreateCampaign assigns the id and timestamps.
	CreateCampaign(ctx context.Context, c Campaign) (Campaign, error)
	// GetCampaign returns the campaign with its recipient counts.
	GetCampaign(ctx context.Context, id int64) (Campaign, error)
	ListCampaigns(ctx context.Context) ([]Campaign, error)
	// UpdateCampaign applies a patch; ErrConflict when the state forbids it.
	UpdateCampaign(ctx context.Context, id int64, p CampaignPatch) (Campaign, error)
	// TransitionCampaign moves a campaign to a new state when the transition
	// is allowed (see CampaignState.CanMoveTo); cancelling also cancels every
	// recipient not yet claimed, in the same transaction.
	TransitionCampaign(ctx context.Context, id int64, to CampaignState, at time.Time) (Campaign, error)

	// AcquireCampaignLease gives owner the preparation/run lease of one
	// scheduled or running campaign that is due (start_at <= now) and whose
	// lease is free or expired. ErrNotFound when none is due.
	AcquireCampaignLease(ctx context.Context, owner string, now time.Time, ttl time.Duration) (Campaign, error)
	// PrepareRecipients materialises the audience in one INSERT…SELECT;
	// unique per (campaign, member), so a second call adds nothing.
	// It moves the campaign to running. Returns the number inserted.
	PrepareRecipients(ctx context.Context, campaignID int64, owner string, now time.Time) (int, error)

	// ClaimRecipients moves up to Limit PENDING or due RETRY_WAIT recipients
	// of a running campaign to SENDING under a lease, fixing their message id
	// before anything is sent.
	ClaimRecipients(ctx context.Context, p ClaimParams) ([]Recipient, error)
	// RecordOutcomes applies the result of sends in one transaction. An update
	// applies only while the row is still SENDING under the given owner.
	RecordOutcomes(ctx context.Context, updates []RecipientUpdate) error
	// MarkBatches writes, before anything is sent, the idempotency key of
	// the request each SENDING recipient will go out in. A row without a
	// batch key was provably never sent.
	MarkBatches(ctx context.Context, owner string, keys map[int64]string, at time.Time) error
	// ReleaseRecipients puts SENDING rows of owner that were never handed to
	// the provider back to PENDING (pause, shutdown).
	ReleaseRecipients(ctx context.Context, owner string, ids []int64, at time.Time) error
	// ReclaimExpired re-leases to p.Owner up to p.Limit SENDING recipients
	// whose lease ended before p.Now (their process died), whole batches at
	// a time; p.CampaignID 0 means any campaign. Attempts are not counted.
	ReclaimExpired(ctx context.Context, p ClaimParams) ([]Recipient, error)
	// AcceptedWithoutReport pages, by id, through ACCEPTED recipients last
	// updated before the given time: sends whose report is overdue, to be
	// settled by a report inquiry.
	AcceptedWithoutReport(ctx context.Context, before time.Time, afterID int64, limit int) ([]Recipient, error)
	// HasMemberAttribute reports whether any member has the attribute.
	HasMemberAttribute(ctx context.Context, key string) (bool, error)
	// GetMembers reads the members with the given ids; unknown ids are absent.
	GetMembers(ctx context.Context, ids []string) (map[string]Member, error)
	// RunningCampaigns lists running campaigns, without counts.
	RunningCampaigns(ctx context.Context) ([]Campaign, error)
	// CompleteCampaign marks a running campaign completed when none of its
	// recipients is PENDING, SENDING or RETRY_WAIT; it reports whether it did.
	CompleteCampaign(ctx context.Context, id int64, at time.Time) (bool, error)
	// ListRecipients pages through a campaign's recipients by id.
	ListRecipients(ctx context.Context, campaignID int64, afterID int64, limit int) ([]Recipient, error)

	// ApplyReports keeps every report (raw, for audit) and applies each to
	// its recipient, matched by Ref (herald's message id) first and MsgKey
	// second, all in one transaction. Applying is idempotent and monotonic
	// (see ReportRank): a duplicate or late report never moves a row back.
	// A report that matches no recipient is kept as unmatched.
	ApplyReports(ctx context.Context, reports []Report, now time.Time) (ReportResult, error)
	// MatchPendingReports applies unmatched reports whose message has
	// appeared since (a report can race the send's own record).
	MatchPendingReports(ctx context.Context, now time.Time, limit int) (int, error)
}

// ReportResult counts what ApplyReports did.
type ReportResult struct {
	Matched   int `json:"matched"`
	Unmatched int `json:"unmatched"`
	// Unchanged counts matched reports that moved nothing: duplicates,
	// late or out-of-order reports.
	Unchanged int `json:"unchanged"`
}

// UpsertResult counts what an upsert did.
type UpsertResult struct {
	Inserted int `json:"inserted"`
	Updated  int `json:"updated"`
}

// ClaimParams selects and leases recipients for sending.
type ClaimParams struct {
	CampaignID int64
	Limit      int
	Owner      string
	Now        time.Time
	LeaseUntil time.Time
}
