// Package storetest is the conformance suite every herald.Store passes.
// A backend's test calls Run with a function that returns a fresh, migrated,
// empty store for each test, so the tests run in parallel.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
)

// NewStore returns an empty, migrated store private to t, closed at cleanup.
type NewStore func(t *testing.T) herald.Store

// Run runs the whole suite.
func Run(t *testing.T, newStore NewStore) {
	tests := map[string]func(*testing.T, herald.Store){
		"MembersUpsert":           testMembersUpsert,
		"MembersVerbatim":         testMembersVerbatim,
		"MembersWithdraw":         testMembersWithdraw,
		"Templates":               testTemplates,
		"SaveTemplate":            testSaveTemplate,
		"CampaignCreateGet":       testCampaignCreateGet,
		"CampaignTransitions":     testCampaignTransitions,
		"CampaignPatch":           testCampaignPatch,
		"CampaignLease":           testCampaignLease,
		"PrepareAudience":         testPrepareAudience,
		"ClaimAndRecord":          testClaimAndRecord,
		"ClaimConcurrent":         testClaimConcurrent,
		"ClaimRetryWait":          testClaimRetryWait,
		"CancelKeepsInFlight":     testCancelKeepsInFlight,
		"Release":                 testRelease,
		"ReleaseInDoubt":          testReleaseInDoubt,
		"Fencing":                 testFencing,
		"FencingAfterRelease":     testFencingAfterRelease,
		"RequeueAbandoned":        testRequeueAbandoned,
		"HeartbeatForgets":        testHeartbeatForgets,
		"LeadSenderKey":           testLeadSenderKey,
		"LeadWithoutHeartbeat":    testLeadWithoutHeartbeat,
		"ResignSenderKey":         testResignSenderKey,
		"SenderKeysIndependent":   testSenderKeysIndependent,
		"LeadConcurrent":          testLeadConcurrent,
		"FrozenRequests":          testFrozenRequests,
		"MarkBatchesAllOrNothing": testMarkBatchesAllOrNothing,
		"InDoubtSurvives":         testInDoubtSurvives,
		"InDoubtForGood":          testInDoubtForGood,
		"CancelStrandsNothing":    testCancelStrandsNothing,
		"CancelSettlesInDoubt":    testCancelSettlesInDoubt,
		"HaltPaused":              testHaltPaused,
		"HaltFailed":              testHaltFailed,
		"ExpireAccepted":          testExpireAccepted,
		"InstanceID":              func(t *testing.T, s herald.Store) { testInstanceID(t, s, newStore) },
		"CompleteCampaign":        testCompleteCampaign,
		"GetMembers":              testGetMembers,
		"AcceptedWithoutReport":   testAcceptedWithoutReport,
		"CountsAddUpUnderWrites":  testCountsAddUp,
		"DraftApprove":            testDraftApprove,
		"AudienceMembers":         testAudienceMembers,
		"FallbackHistory":         testFallbackHistory,
		"MessagesIdempotent":      testMessagesIdempotent,
		"MessagesCampaign":        testMessagesCampaign,
		"FindRecipients":          testFindRecipients,
		"RecipientReports":        testRecipientReports,
		"GetRecipient":            testGetRecipient,
		"Reports":                 func(t *testing.T, _ herald.Store) { runReports(t, newStore) },
	}
	maps.Copy(tests, countsAndRetryTests) // counts.go, retry.go
	for name, fn := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, newStore(t))
		})
	}
}

// epoch is a fixed clock start, truncated to what every engine stores.
var epoch = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func ctx(t *testing.T) context.Context { return t.Context() }

// must(f())(t) fails the test when f returns an error.
func must[T any](v T, err error) func(t *testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return v
	}
}

func wantInvalid(t *testing.T, err error) {
	t.Helper()
	var inv *herald.InvalidError
	if !errors.As(err, &inv) {
		t.Fatalf("error = %v, want a herald.InvalidError", err)
	}
}

func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error = %v, want %v", err, target)
	}
}

func member(i int, attrs map[string]string) herald.Member {
	return herald.Member{
		ID: fmt.Sprintf("m%05d", i), Phone: fmt.Sprintf("010%08d", i), Name: fmt.Sprintf("회원%d", i),
		Attributes: attrs, Status: herald.MemberActive, UpdatedAt: epoch,
	}
}

func seedMembers(t *testing.T, s herald.Store, n int, attrs func(i int) map[string]string) {
	t.Helper()
	ms := make([]herald.Member, n)
	for i := range ms {
		var a map[string]string
		if attrs != nil {
			a = attrs(i)
		}
		ms[i] = member(i, a)
	}
	res := must(s.UpsertMembers(ctx(t), ms))(t)
	if res.Inserted != n {
		t.Fatalf("inserted %d members, want %d", res.Inserted, n)
	}
}

func seedTemplate(t *testing.T, s herald.Store, code string) herald.Template {
	t.Helper()
	return must(s.CreateTemplate(ctx(t), herald.Template{
		Code: code, SenderKey: "sk-1", Text: "#{name}님, 주문하신 상품이 발송되었습니다.",
		Status: herald.TemplateApproved, CreatedAt: epoch,
		Buttons: []herald.Button{{Type: "WL", Name: "배송조회", URLMobile: "https://example.com/t"}},
	}))(t)
}

func seedCampaign(t *testing.T, s herald.Store, a herald.Audience) herald.Campaign {
	t.Helper()
	seedTemplateOnce(t, s)
	c := herald.Campaign{Name: "가을 세일", TemplateCode: "ORDER", Audience: a, TPS: 200, CreatedAt: epoch}
	if err := c.Validate(epoch); err != nil {
		t.Fatal(err)
	}
	return must(s.CreateCampaign(ctx(t), c))(t)
}

func seedTemplateOnce(t *testing.T, s herald.Store) {
	if _, err := s.GetTemplate(ctx(t), "ORDER"); errors.Is(err, herald.ErrNotFound) {
		seedTemplate(t, s, "ORDER")
	}
}

// running creates members and a campaign and prepares it, returning the
// campaign in the running state.
func running(t *testing.T, s herald.Store, n int) herald.Campaign {
	t.Helper()
	seedMembers(t, s, n, nil)
	c := seedCampaign(t, s, herald.Audience{All: true})
	must(s.AcquireCampaignLease(ctx(t), "prep", epoch, time.Minute))(t)
	if got := must(s.PrepareRecipients(ctx(t), c.ID, "prep", epoch))(t); got != n {
		t.Fatalf("prepared %d recipients, want %d", got, n)
	}
	return must(s.GetCampaign(ctx(t), c.ID))(t)
}

func claim(t *testing.T, s herald.Store, c herald.Campaign, owner string, limit int, now time.Time) []herald.Recipient {
	t.Helper()
	return must(s.ClaimRecipients(ctx(t), herald.ClaimParams{
		CampaignID: c.ID, Limit: limit, Owner: owner, Now: now, LeaseUntil: now.Add(time.Minute),
	}))(t)
}

func checkCounts(t *testing.T, c herald.Campaign, want map[herald.RecipientState]int) {
	t.Helper()
	sum := 0
	for _, n := range c.Counts {
		sum += n
	}
	if sum != c.Total {
		t.Fatalf("counts %v add up to %d, total says %d", c.Counts, sum, c.Total)
	}
	for state, n := range want {
		if c.Counts[state] != n {
			t.Fatalf("count[%s] = %d, want %d (all: %v)", state, c.Counts[state], n, c.Counts)
		}
	}
}

// claimsOf names rows as they were claimed.
func claimsOf(rs ...herald.Recipient) []herald.Claim {
	out := make([]herald.Claim, len(rs))
	for i, r := range rs {
		out[i] = herald.Claim{ID: r.ID, Token: r.ClaimToken}
	}
	return out
}

// sentRequest is a plain request under key for claimed rows.
func sentRequest(key string, at time.Time, rs ...herald.Recipient) herald.SentRequest {
	b := herald.SendBatch{SenderKey: "sk-1", TemplateCode: "ORDER", IdempotencyKey: key, IdempotencyTTL: 24 * time.Hour}
	for _, r := range rs {
		b.Ref = fmt.Sprint("c", r.CampaignID)
		b.Destinations = append(b.Destinations, herald.Destination{To: r.Phone, MessageID: r.MessageID, Text: "안녕하세요 " + r.MemberID})
	}
	return herald.SentRequest{Batch: b, Claims: claimsOf(rs...), At: at}
}

// mark runs MarkBatches for owner.
func mark(t *testing.T, s herald.Store, owner string, reqs ...herald.SentRequest) {
	t.Helper()
	if err := s.MarkBatches(ctx(t), owner, reqs); err != nil {
		t.Fatalf("mark batches: %v", err)
	}
}

// outcome is an update of a claimed row, under its owner and token.
func outcome(r herald.Recipient, state herald.RecipientState, at time.Time) herald.RecipientUpdate {
	return herald.RecipientUpdate{ID: r.ID, Owner: r.LeaseOwner, Token: r.ClaimToken, State: state, At: at}
}

// retry is a RETRY_WAIT update due at next.
func retry(r herald.Recipient, inDoubt bool, next, at time.Time) herald.RecipientUpdate {
	u := outcome(r, herald.RecipientRetryWait, at)
	u.InDoubt, u.NextAttempt, u.ResultCode, u.ResultText = inDoubt, next, "E999", "timeout"
	if !inDoubt {
		u.ResultCode, u.ResultText = "A020", "busy"
	}
	return u
}

func record(t *testing.T, s herald.Store, ups ...herald.RecipientUpdate) {
	t.Helper()
	if err := s.RecordOutcomes(ctx(t), ups); err != nil {
		t.Fatalf("record outcomes: %v", err)
	}
}

func release(t *testing.T, s herald.Store, owner string, at time.Time, rs ...herald.Recipient) {
	t.Helper()
	if err := s.ReleaseRecipients(ctx(t), owner, claimsOf(rs...), at); err != nil {
		t.Fatalf("release: %v", err)
	}
}

// byID indexes rows by id.
func byID(rs []herald.Recipient) map[int64]herald.Recipient {
	out := make(map[int64]herald.Recipient, len(rs))
	for _, r := range rs {
		out[r.ID] = r
	}
	return out
}

// rowsOf reads every recipient of a campaign, by id.
func rowsOf(t *testing.T, s herald.Store, c herald.Campaign) map[int64]herald.Recipient {
	t.Helper()
	return byID(must(s.ListRecipients(ctx(t), c.ID, 0, 100000))(t))
}
