package storetest

import (
	"reflect"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
)

func testMembersUpsert(t *testing.T, s herald.Store) {
	seedMembers(t, s, 3, nil)
	changed := member(1, map[string]string{"grade": "gold"})
	changed.Name = "새이름"
	first := member(7, nil)
	first.Name = "first"
	last := member(7, nil)
	last.Name = "last"
	res := must(s.UpsertMembers(ctx(t), []herald.Member{changed, first, last}))(t)
	if res.Inserted != 1 || res.Updated != 1 {
		t.Fatalf("upsert = %+v, want 1 inserted (m00007 once) and 1 updated", res)
	}
	got := must(s.GetMember(ctx(t), "m00001"))(t)
	if got.Name != "새이름" || got.Attributes["grade"] != "gold" {
		t.Fatalf("member after update = %+v", got)
	}
	if got := must(s.GetMember(ctx(t), "m00007"))(t); got.Name != "last" {
		t.Fatalf("duplicate id in one batch: name = %q, want the last one", got.Name)
	}
	_, err := s.GetMember(ctx(t), "nobody")
	wantErr(t, err, herald.ErrNotFound)
}

func testMembersVerbatim(t *testing.T, s herald.Store) {
	m := herald.Member{
		ID: `'; DROP TABLE members; --`, Phone: "01012345678", Name: `Robert"); DELETE FROM members; -- \ 김`,
		Attributes: map[string]string{`a'b"c`: `x\y%_`, "등급": "골드"}, Status: herald.MemberActive, UpdatedAt: epoch,
	}
	must(s.UpsertMembers(ctx(t), []herald.Member{m}))(t)
	got := must(s.GetMember(ctx(t), m.ID))(t)
	if got.ID != m.ID || got.Name != m.Name || !reflect.DeepEqual(got.Attributes, m.Attributes) || !got.UpdatedAt.Equal(epoch) {
		t.Fatalf("stored %+v, read back %+v", m, got)
	}
}

func testMembersWithdraw(t *testing.T, s herald.Store) {
	seedMembers(t, s, 1, nil)
	got := must(s.WithdrawMember(ctx(t), "m00000", epoch))(t)
	if got.Status != herald.MemberWithdrawn {
		t.Fatalf("status = %s, want withdrawn", got.Status)
	}
	_, err := s.WithdrawMember(ctx(t), "nobody", epoch)
	wantErr(t, err, herald.ErrNotFound)
}

func testTemplates(t *testing.T, s herald.Store) {
	tpl := seedTemplate(t, s, "ORDER")
	seedTemplate(t, s, "A_FIRST")
	_, err := s.CreateTemplate(ctx(t), tpl)
	wantErr(t, err, herald.ErrConflict)
	got := must(s.GetTemplate(ctx(t), "ORDER"))(t)
	if !reflect.DeepEqual(got, tpl) {
		t.Fatalf("template read back %+v, want %+v", got, tpl)
	}
	// A template registered by hand has never been synced, whatever it says.
	forged := seedTemplate(t, s, "FORGED")
	forged.Code, forged.ProviderStatus, forged.ProviderHash, forged.SyncedAt = "FORGED2", "APR", "0000", time.Now().UTC()
	if got := must(s.CreateTemplate(ctx(t), forged))(t); got.ProviderStatus != "" || got.ProviderHash != "" || !got.SyncedAt.IsZero() {
		t.Fatalf("CreateTemplate kept sync fields: %+v", got)
	}
	list := must(s.ListTemplates(ctx(t)))(t)
	if len(list) != 4 || list[0].Code != "A_FIRST" {
		t.Fatalf("list = %+v, want four ordered by code", list)
	}
	_, err = s.GetTemplate(ctx(t), "NOPE")
	wantErr(t, err, herald.ErrNotFound)
}

// testSaveTemplate: template sync inserts a new template and replaces a
// known one whole (inspection state, approved hash and sync time
// included), keeping when it was created.
func testSaveTemplate(t *testing.T, s herald.Store) {
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	synced := time.Date(2026, 11, 25, 10, 30, 0, 0, time.UTC)
	fresh := herald.Template{Code: "SYNCED", SenderKey: "sk", Text: "#{name}님", Status: herald.TemplateDraft,
		CreatedAt: created, ProviderStatus: "REQ", SyncedAt: synced}
	got := must(s.SaveTemplate(ctx(t), fresh))(t)
	if !reflect.DeepEqual(got, fresh) {
		t.Fatalf("inserted %+v, want %+v", got, fresh)
	}
	approved := fresh
	approved.Text, approved.Title, approved.Status, approved.ProviderStatus = "#{name}님, 안녕하세요", "제목", herald.TemplateApproved, "APR"
	approved.Buttons = []herald.Button{{Type: "WL", Name: "열기", URLMobile: "https://example.com"}}
	approved.ProviderHash = approved.ContentHash()
	approved.SyncedAt = synced.Add(time.Hour)
	approved.CreatedAt = synced // ignored: a replaced template keeps its creation time
	got = must(s.SaveTemplate(ctx(t), approved))(t)
	want := approved
	want.CreatedAt = created
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("replaced %+v, want %+v", got, want)
	}
	if got.DiffersFromProvider() {
		t.Fatal("the stored approved copy differs from its own hash")
	}
	if list := must(s.ListTemplates(ctx(t)))(t); len(list) != 1 || !reflect.DeepEqual(list[0], want) {
		t.Fatalf("list = %+v", list)
	}
}

func testGetMembers(t *testing.T, s herald.Store) {
	seedMembers(t, s, 3, func(int) map[string]string { return map[string]string{"k": "v"} })
	if has := must(s.HasMemberAttribute(ctx(t), "k"))(t); !has {
		t.Fatal("attribute k not found")
	}
	if has := must(s.HasMemberAttribute(ctx(t), "v"))(t); has {
		t.Fatal("a value was taken for an attribute")
	}
	got := must(s.GetMembers(ctx(t), []string{"m00000", "m00002", "nobody"}))(t)
	if len(got) != 2 || got["m00002"].Attributes["k"] != "v" || got["m00000"].Phone != "01000000000" {
		t.Fatalf("GetMembers = %+v", got)
	}
}
