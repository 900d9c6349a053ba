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
	// SaveTemplate inserts t, or replaces every field of the template with
	// its code but CreatedAt (template sync writes the provider's copy and
	// its inspection state this way). It returns the template as stored.
	SaveTemplate(ctx context.Context, t Template) (Template, error)

	// CreateCampaign assigns the id and timestamps.
	CreateCampaign(ctx context.Context, c Campaign) (Campaign, error)
	// GetCampaign returns the campaign with its recipient counts.
	GetCampaign(ctx context.Context, id int64) (Campaign, error)
	ListCampaigns(ctx context.Context) ([]Campaign, error)
	// UpdateCampaign applies a patch; ErrConflict when the state forbids it.
	UpdateCampaign(ctx context.Context, id int64, p CampaignPatch) (Campaign, error)
	// TransitionCampaign moves a campaign to a new state when the transition
	// is allowed (see CampaignState.CanMoveTo); cancelling also cancels every
	// recipient not yet claimed, in the same transaction (UNKNOWN with code
	// IN_DOUBT for RETRY_WAIT rows in doubt). It clears Campaign.Reason.
	TransitionCampaign(ctx context.Context, id int64, to CampaignState, at time.Time) (Campaign, error)
	// ApproveCampaign moves a draft to scheduled and stores who approved it
	// (a token fingerprint); ErrConflict when the campaign is not a draft.
	ApproveCampaign(ctx context.Context, id int64, approvedBy string, at time.Time) (Campaign, error)
	// AudienceMembers pages, by id, through every member the audience
	// selects, whatever their status (a review counts the withdrawn); a
	// retry audience is the fixed member set of campaign campaignID.
	AudienceMembers(ctx context.Context, campaignID int64, a Audience, afterID string, limit int) ([]Member, error)
	// FallbackHistory counts the recipients of campaigns whose template has
	// this sender key that the provider took (a msgKey) and that got a final
	// result, and of them those that KakaoTalk did not reach (63019, 63020,
	// or delivered by SMS/LMS).
	FallbackHistory(ctx context.Context, senderKey string) (FallbackHistory, error)
	// CreateMessage stores a one-off message and its outbox row (PENDING)
	// in the running (or paused) messages campaign of its template, made
	// when there is none, in one transaction. A message with the same
	// idempotency key that exists already is returned instead, with
	// created false, and nothing is added: the key is unique in the
	// database. ErrConflict when that message was another request
	// (RequestHash). The messages campaign's own rate is MaxTPS: only the
	// sender key's limit paces it.
	CreateMessage(ctx context.Context, m Message, at time.Time) (msg Message, created bool, err error)
	// GetMessage reads a message with its outbox row.
	GetMessage(ctx context.Context, id int64) (Message, error)
	// MessagesOf returns the messages of the given outbox rows, by
	// recipient id; rows that are not messages are absent.
	MessagesOf(ctx context.Context, recipientIDs []int64) (map[int64]Message, error)
	// HaltCampaign is the dispatcher's TransitionCampaign to paused or
	// failed, with the reason stored and shown (Campaign.Reason). Failing a
	// campaign settles every recipient not yet claimed: FAILED with code
	// CAMPAIGN_FAILED, UNKNOWN (IN_DOUBT) for rows in doubt.
	HaltCampaign(ctx context.Context, id int64, to CampaignState, reason string, at time.Time) (Campaign, error)

	// AcquireCampaignLease gives owner the preparation/run lease of one
	// scheduled or running campaign that is due (start_at <= now) and whose
	// lease is free or expired. ErrNotFound when none is due.
	AcquireCampaignLease(ctx context.Context, owner string, now time.Time, ttl time.Duration) (Campaign, error)
	// PrepareRecipients materialises the audience in one INSERT…SELECT;
	// unique per (campaign, member), so a second call adds nothing.
	// It moves the campaign to running. Returns the number inserted.
	PrepareRecipients(ctx context.Context, campaignID int64, owner string, now time.Time) (int, error)

	// ClaimRecipients moves up to Limit PENDING or due RETRY_WAIT recipients
	// of a running campaign to SENDING under a lease, fixing their message
	// id (namespaced by InstanceID) before anything is sent. Every claim
	// increments the row's ClaimToken, the fence of every later write. A row
	// without a BatchKey counts an attempt (it gets a new key); a row with
	// one is in doubt and counts a resend (it must go out again under that
	// key, as the frozen request, or not at all). BatchKey and SentAt are
	// kept as they are.
	ClaimRecipients(ctx context.Context, p ClaimParams) ([]Recipient, error)
	// RecordOutcomes applies the result of sends in one transaction. An
	// update applies only while the row is SENDING under the given owner
	// and claim token; others are ignored (a stale writer). See
	// RecipientUpdate for RETRY_WAIT and InDoubt. When the campaign is no
	// longer runnable (cancelled or failed), a RETRY_WAIT update settles the
	// row instead: CANCELLED (FAILED for a failed campaign) when it was
	// provably never taken, UNKNOWN with code IN_DOUBT otherwise.
	RecordOutcomes(ctx context.Context, updates []RecipientUpdate) error
	// MarkBatches freezes, before anything is sent, each request exactly as
	// it will leave (SentRequest.Batch, under its idempotency key) and
	// writes the key and SentAt on each of its rows. All or nothing:
	// ErrConflict when any row is no longer SENDING under owner with its
	// claim token. From then on a row with a BatchKey may have been taken.
	MarkBatches(ctx context.Context, owner string, reqs []SentRequest) error
	// Requests returns the frozen requests with the given keys; unknown
	// keys are absent.
	Requests(ctx context.Context, keys []string) (map[string]SendBatch, error)
	// ReleaseRecipients gives back SENDING rows of owner (matching their
	// claim tokens) that were not handed to the provider in this claim
	// (pause, shutdown): rows that are not in doubt return to PENDING with
	// their key cleared and the attempt uncounted; rows in doubt (a key that
	// was sent in an earlier claim) return to RETRY_WAIT, due at once, key
	// kept. On a cancelled or failed campaign they settle as RecordOutcomes
	// says, instead of waiting.
	ReleaseRecipients(ctx context.Context, owner string, claims []Claim, at time.Time) error
	// Heartbeat says that owner is alive at now; it also forgets owners
	// silent for an hour. Rows of an owner whose heartbeat is fresh are
	// never requeued by RequeueAbandoned.
	Heartbeat(ctx context.Context, owner string, now time.Time) error
	// RequeueAbandoned hands back up to limit SENDING rows whose owner's last
	// heartbeat is before deadBefore (or who never sent one): rows without a
	// key to PENDING (attempt uncounted), rows with one to RETRY_WAIT in
	// doubt, due at once, key kept, so that the campaign's own claimer
	// resends the frozen request under its pacing. It bumps the claim token
	// so that a late write of the old owner is ignored, and returns how many
	// rows it moved.
	RequeueAbandoned(ctx context.Context, now, deadBefore time.Time, limit int) (int, error)
	// LeadSenderKey elects the one process that sends for a provider
	// sender key (two senders would each use the whole rate limit). It
	// makes owner the leader of senderKey when the key has no leader, when
	// owner already leads it, or when the leader is dead: its last
	// Heartbeat is before deadBefore, or it has no processes row at all
	// (never heartbeat, or forgotten after an hour). A live leader other
	// than owner is kept. It returns the leader after the call: owner when
	// owner leads; otherwise the other leader, and owner must not send for
	// the key (a former leader that gets another back must stop at once).
	// Check and take-over are one atomic step: of callers racing on a key,
	// at most one gets itself back. Liveness is the processes table's, so
	// a caller heartbeats before it first calls and keeps heartbeating
	// well within the deadBefore margin; a leader without a fresh
	// heartbeat is taken for dead by the next caller. A leader calls again
	// at least every heartbeat to learn whether it still leads; leading
	// again keeps the time it took the lead (sender_leaders.since).
	LeadSenderKey(ctx context.Context, senderKey, owner string, deadBefore time.Time) (leader string, err error)
	// ResignSenderKey gives up owner's leadership of senderKey (clean
	// shutdown), so that the next LeadSenderKey of a standby takes over at
	// once instead of waiting for owner's heartbeat to go stale. It does
	// nothing when owner does not lead senderKey.
	ResignSenderKey(ctx context.Context, senderKey, owner string) error
	// InstanceID is this database's random namespace (made once, at the
	// first migration), part of every message id and idempotency key, so
	// that two environments, or a restored copy, never share a key.
	InstanceID() string
	// AcceptedWithoutReport pages, by id, through ACCEPTED recipients with a
	// msgKey last updated before the given time: sends whose report is
	// overdue, to be settled by a report inquiry.
	AcceptedWithoutReport(ctx context.Context, before time.Time, afterID int64, limit int) ([]Recipient, error)
	// ExpireAccepted makes up to limit ACCEPTED recipients last updated
	// before the given time UNKNOWN with code NO_REPORT: the provider keeps
	// reports only so long, so none will come. Returns how many.
	ExpireAccepted(ctx context.Context, before, now time.Time, limit int) (int, error)
	// HasMemberAttribute reports whether any member has the attribute.
	HasMemberAttribute(ctx context.Context, key string) (bool, error)
	// GetMembers reads the members with the given ids; unknown ids are absent.
	GetMembers(ctx context.Context, ids []string) (map[string]Member, error)
	// RunningCampaigns lists running campaigns, without counts.
	RunningCampaigns(ctx context.Context) ([]Campaign, error)
	// CompleteCampaign marks a running campaign completed when none of its
	// recipients is PENDING, SENDING or RETRY_WAIT; it reports whether it
	// did. A messages campaign never completes: more messages may come.
	CompleteCampaign(ctx context.Context, id int64, at time.Time) (bool, error)
	// RetryCampaign creates, in one transaction, the follow-up campaign c
	// of a retry (c.Audience.Retry names the source, the states and codes;
	// c.RetryOf is set from it): its audience is fixed at once to the
	// members of the source's recipients in those states with those codes,
	// less every member who may have received the message (see
	// docs/ARCHITECTURE.md, "Retry the failed") and every member an earlier
	// follow-up of the same source took. ErrConflict when the source is
	// not over (completed, cancelled or failed) or nobody is left to retry;
	// ErrNotFound when there is no such source. Audience.Retry.Members
	// says how many members the follow-up got.
	RetryCampaign(ctx context.Context, c Campaign) (Campaign, error)
	// CampaignFailures counts a campaign's FAILED and UNKNOWN recipients
	// per state and result code (one GROUP BY over those rows only).
	CampaignFailures(ctx context.Context, campaignID int64) ([]FailureCount, error)
	// ListRecipients pages through a campaign's recipients by id.
	ListRecipients(ctx context.Context, campaignID int64, afterID int64, limit int) ([]Recipient, error)
	// FindRecipients pages through the recipients of f.CampaignID that
	// match the filter, by id after f.AfterID (see RecipientFilter).
	// ErrInvalid for a filter that does not Validate.
	FindRecipients(ctx context.Context, f RecipientFilter) ([]Recipient, error)
	// GetRecipient returns one recipient of a campaign; ErrNotFound when
	// the campaign has no recipient with that id.
	GetRecipient(ctx context.Context, campaignID, id int64) (Recipient, error)
	// RecipientReports lists the stored reports matched to one recipient,
	// in arrival order, without their raw bodies.
	RecipientReports(ctx context.Context, recipientID int64) ([]Report, error)

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

// FallbackHistory is a sender key's past share of recipients who needed the
// SMS/LMS leg: NotKakao of Reported.
type FallbackHistory struct {
	Reported int `json:"reported"`
	NotKakao int `json:"notKakao"`
}

// FailureCount is how many recipients of a campaign ended in State with
// result Code.
type FailureCount struct {
	State RecipientState `json:"state"`
	Code  string         `json:"code"`
	Count int            `json:"count"`
}

// ReportResult counts what ApplyReports did.
type ReportResult struct {
	Matched   int `json:"matched"`
	Unmatched int `json:"unmatched"`
	// Unchanged counts matched reports that moved nothing: duplicates,
	// late or out-of-order reports.
	Unchanged int `json:"unchanged"`
	// Held counts reports kept but not applied: their ref names a message
	// whose msgKey, recorded from the send's answer, is another (a forged
	// or misrouted report). Matched + Unmatched + Unchanged + Held is the
	// number of reports.
	Held int `json:"held,omitempty"`
}

// UpsertResult counts what an upsert did.
type UpsertResult struct {
	Inserted int `json:"inserted"`
	Updated  int `json:"updated"`
}

// Claim names one claimed row and the claim token it was claimed with.
type Claim struct {
	ID    int64
	Token int64
}

// SentRequest is one provider request fixed before it leaves: the batch
// exactly as it will be sent (Batch.IdempotencyKey is its key) and the
// claimed rows, Claims[i] going out as Batch.Destinations[i].
type SentRequest struct {
	Batch  SendBatch
	Claims []Claim
	At     time.Time
}

// ClaimParams selects and leases recipients for sending.
type ClaimParams struct {
	CampaignID int64
	Limit      int
	Owner      string
	Now        time.Time
	LeaseUntil time.Time
}
