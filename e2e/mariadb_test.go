package e2e

import (
	"strings"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/internal/mytest"
	"github.com/heraldhq/herald/mysql"
)

// TestTwoServesOneMariaDB is TestTwoServesOnePostgres on MariaDB (or
// MySQL: HERALD_TEST_MYSQL): two serve processes, one database, one
// campaign; SKIP LOCKED claims must split the work with no duplicate and
// nothing lost.
func TestTwoServesOneMariaDB(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds and runs processes")
	}
	t.Parallel()
	twoServes(t, mytest.URL(t))
}

// TestCrashLoopMariaDB is TestCrashLoop on MariaDB: serve SIGKILLed at
// random moments while the provider fails 5% of requests after accepting
// them and refuses 5% before; nobody delivered twice, everyone settled.
// Small by default (2000 recipients, 3 kills); HERALD_E2E_MARIADB_RECIPIENTS
// and HERALD_E2E_KILLS scale it.
func TestCrashLoopMariaDB(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds and runs processes")
	}
	t.Parallel()
	crashLoop(t, mytest.URL(t), envInt("HERALD_E2E_MARIADB_RECIPIENTS", 2000), envInt("HERALD_E2E_KILLS", 3))
}

// TestChaosTwoServesMariaDB is TestChaos with two serve processes on one
// MariaDB database; each kill takes one of them or both.
func TestChaosTwoServesMariaDB(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds and runs processes")
	}
	t.Parallel()
	runChaos(t, mytest.URL(t), 2)
}

// TestKoreanMemberOnMariaDB: a member named 김민준 😀 with attribute
// 등급=골드 round-trips through the CSV import, the member and recipients
// APIs and the rendered message (the request frozen in the database is
// the one sent, byte for byte) on MariaDB.
func TestKoreanMemberOnMariaDB(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds and runs processes")
	}
	t.Parallel()
	db := mytest.URL(t)
	mockAddr, addr := freeAddr(t), freeAddr(t)
	start(t, mockAddr, "mock-provider", "--listen", mockAddr, "--key", apiKey, "--tps", "100000", "--log-level", "warn",
		"--reports", "off")
	start(t, addr, "serve", "--db", db, "--listen", addr, "--admin-token", adminToken,
		"--provider-url", "http://"+mockAddr, "--provider-key", apiKey, "--tps", "0", "--log-level", "warn")
	client := heraldhttp.NewClient("http://"+addr, adminToken)
	ctx := t.Context()
	const id, name = "회원-😀", "김민준 😀"
	res, err := client.ImportMembers(ctx, strings.NewReader("id,phone,name,등급\n"+id+",010-1234-5678,"+name+",골드\n"), "text/csv")
	if err != nil || res.Inserted != 1 {
		t.Fatalf("import: %+v %v", res, err)
	}
	m, err := client.GetMember(ctx, id)
	if err != nil || m.Name != name || m.Attributes["등급"] != "골드" {
		t.Fatalf("member read back %+v (%v)", m, err)
	}
	if _, err := client.CreateTemplate(ctx, herald.Template{Code: "KO", SenderKey: "sk", Status: herald.TemplateApproved,
		Text: "#{name}님, #{등급} 등급 혜택이 도착했어요 🎉"}); err != nil {
		t.Fatal(err)
	}
	camp, err := client.CreateCampaign(ctx, herald.Campaign{Name: "한글 캠페인 😀", TemplateCode: "KO",
		Audience: herald.Audience{Attributes: map[string]string{"등급": "골드"}}, TPS: 100})
	if err != nil {
		t.Fatal(err)
	}
	c := waitSent(t, client, camp.ID, time.Minute)
	if c.Name != "한글 캠페인 😀" || c.Total != 1 || c.Counts[herald.RecipientAccepted] != 1 {
		t.Fatalf("campaign %+v", c)
	}
	rs, _, err := client.ListRecipients(ctx, camp.ID, 0, 10)
	if err != nil || len(rs) != 1 || rs[0].MemberID != id || rs[0].BatchKey == "" {
		t.Fatalf("recipients %+v (%v)", rs, err)
	}
	s, err := mysql.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	reqs, err := s.Requests(ctx, []string{rs[0].BatchKey})
	if err != nil {
		t.Fatal(err)
	}
	b, ok := reqs[rs[0].BatchKey]
	if !ok || len(b.Destinations) != 1 {
		t.Fatalf("frozen request %q: %+v", rs[0].BatchKey, reqs)
	}
	if want := name + "님, 골드 등급 혜택이 도착했어요 🎉"; b.Destinations[0].Text != want {
		t.Fatalf("sent text %q, want %q", b.Destinations[0].Text, want)
	}
}
