package mysql_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/mytest"
	"github.com/heraldhq/herald/mysql"
	"github.com/heraldhq/herald/storetest"
)

// newStore opens a store on a database of its own.
func newStore(t *testing.T) herald.Store {
	return openSame(t)()
}

// openSame makes one database private to t and opens it anew at each call.
func openSame(t *testing.T) func() herald.Store {
	url := mytest.URL(t)
	return func() herald.Store {
		s, err := mysql.Open(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, newStore)
}

func TestReopen(t *testing.T) {
	t.Parallel()
	storetest.RunReopen(t, openSame)
}

// TestKoreanAndEmoji: utf8mb4 end to end, names and attributes.
func TestKoreanAndEmoji(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	at := time.Date(2026, 11, 25, 10, 0, 0, 123456000, time.UTC)
	m := herald.Member{ID: "회원-😀", Phone: "01012345678", Name: "김민준 😀",
		Attributes: map[string]string{"등급": "골드", "emoji": "🎉👍🏽"}, Status: herald.MemberActive, UpdatedAt: at}
	if _, err := s.UpsertMembers(t.Context(), []herald.Member{m}); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetMember(t.Context(), m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Fatalf("stored %+v, read back %+v", m, got)
	}
	has, err := s.HasMemberAttribute(t.Context(), "등급")
	if err != nil || !has {
		t.Fatalf("HasMemberAttribute(등급) = %v, %v", has, err)
	}
}

// TestBadURL: a URL error never echoes the password.
func TestBadURL(t *testing.T) {
	for _, u := range []string{"mysql://root:s3cret@[::1/db", "mysql://root:s3cret@127.0.0.1:3306", "mysql://root:s3cret@127.0.0.1:1/db?timeout=1s"} {
		_, err := mysql.Open(t.Context(), u)
		if err == nil {
			t.Fatalf("Open(%q) succeeded", u)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Fatalf("Open(%q) = %v, which shows the password", u, err)
		}
	}
}

// TestOddReportKept: a report with fields wider than the columns (no
// provider sends such) neither fails its batch, which would fail again at
// every retry, nor matches anything; it is kept, raw body whole.
func TestOddReportKept(t *testing.T) {
	t.Parallel()
	s := newStore(t).(*mysql.Store)
	long := strings.Repeat("가", 300)
	odd := herald.Report{MsgKey: long, Ref: long, ServiceType: strings.Repeat("S", 100), ReportType: "0",
		Code: strings.Repeat("9", 300), Text: strings.Repeat("\ufffd", 30000), ReportTime: time.Unix(0, 0).UTC(),
		Raw: []byte("{\"raw\":\"\xff\"}")}
	plain := herald.Report{MsgKey: "k1", Ref: "nobody", ServiceType: "ALIMTALK", ReportType: "0", Code: "1000",
		ReportTime: time.Unix(0, 0).UTC(), Raw: []byte("{}")}
	res, err := s.ApplyReports(t.Context(), []herald.Report{odd, plain}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if res.Unmatched != 2 || res.Matched != 0 {
		t.Fatalf("result %+v, want 2 unmatched", res)
	}
	got, err := s.ReportsByMsgKey(t.Context(), strings.Repeat("가", 255))
	if err != nil || len(got) != 1 || string(got[0].Raw) != string(odd.Raw) || got[0].Text != odd.Text {
		t.Fatalf("odd report read back %d reports (%v)", len(got), err)
	}
	// A copy of it is a copy.
	if res, err := s.ApplyReports(t.Context(), []herald.Report{odd}, time.Now()); err != nil || res.Unchanged != 1 {
		t.Fatalf("copy: %+v %v", res, err)
	}
}
