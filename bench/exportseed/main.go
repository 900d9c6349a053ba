// Command exportseed fills a database with one campaign of N recipients
// that were all sent and reported, through the Store API (as the
// dispatcher and the report webhook would), for bench/export.sh:
//
//	go run ./bench/exportseed -db sqlite:/tmp/x.db -n 1000000
//
// With -batch 1 every recipient gets a frozen request of its own with an
// LMS fallback leg (the default --batch-size of serve, with
// --fallback-from); with -batch N above 1, requests of N recipients that
// the provider renders (sendType "template"), without fallback. Every
// recipient gets a msgKey and reports: 90% delivered by AlimTalk, 5%
// failed (63019), 5% (with a fallback leg) or another 5% (without)
// 63019 then delivered by LMS, or failed. It prints the campaign id on
// standard output.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/mysql"
	"github.com/heraldhq/herald/postgres"
	"github.com/heraldhq/herald/sqlite"
)

func main() {
	db := flag.String("db", "", "sqlite:PATH, postgres://… or mysql://…")
	n := flag.Int("n", 1000000, "recipients")
	page := flag.Int("page", 5000, "rows per claim, mark, record and report call")
	batch := flag.Int("batch", 1, "recipients per frozen request (1..200)")
	flag.Parse()
	ctx := context.Background()
	s, err := open(ctx, *db)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	id, err := seed(ctx, s, *n, *page, *batch)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(id)
}

func open(ctx context.Context, dsn string) (herald.Store, error) {
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		return sqlite.Open(ctx, strings.TrimPrefix(dsn, "sqlite:"))
	case strings.HasPrefix(dsn, "postgres://"):
		return postgres.Open(ctx, dsn)
	case strings.HasPrefix(dsn, "mysql://"):
		return mysql.Open(ctx, dsn)
	}
	return nil, fmt.Errorf("-db: want sqlite:PATH, postgres://… or mysql://…")
}

func seed(ctx context.Context, s herald.Store, n, page, batch int) (int64, error) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	step := func(what string, start time.Time) {
		fmt.Fprintf(os.Stderr, "%-10s %6.1fs\n", what, time.Since(start).Seconds())
	}
	start := time.Now()
	for i := 0; i < n; i += page {
		ms := make([]herald.Member, 0, page)
		for j := i; j < min(i+page, n); j++ {
			ms = append(ms, herald.Member{ID: fmt.Sprintf("m%08d", j), Phone: fmt.Sprintf("010%08d", j),
				Name: fmt.Sprintf("회원%d", j), Status: herald.MemberActive, UpdatedAt: now})
		}
		if _, err := s.UpsertMembers(ctx, ms); err != nil {
			return 0, err
		}
	}
	step("members", start)
	t := herald.Template{Code: "EXPORT_1", SenderKey: "sender-key-export", Text: "#{name}님, 주문하신 상품이 발송되었습니다.\n배송 조회는 아래 버튼으로.",
		Status: herald.TemplateApproved, CreatedAt: now, Buttons: []herald.Button{{Type: "WL", Name: "배송조회", URLMobile: "https://example.com/t"}}}
	if _, err := s.CreateTemplate(ctx, t); err != nil {
		return 0, err
	}
	c := herald.Campaign{Name: "export bench", TemplateCode: t.Code, Audience: herald.Audience{All: true},
		TPS: 1000, StartAt: now, CreatedAt: now, UpdatedAt: now}
	if err := c.Validate(now); err != nil {
		return 0, err
	}
	c, err := s.CreateCampaign(ctx, c)
	if err != nil {
		return 0, err
	}
	start = time.Now()
	if _, err := s.AcquireCampaignLease(ctx, "seed", now, time.Hour); err != nil {
		return 0, err
	}
	if _, err := s.PrepareRecipients(ctx, c.ID, "seed", now); err != nil {
		return 0, err
	}
	step("prepare", start)
	start = time.Now()
	for done := 0; done < n; {
		k, err := sendPage(ctx, s, c.ID, page, batch, now, done)
		if err != nil {
			return 0, err
		}
		if k == 0 {
			return 0, fmt.Errorf("claimed nothing after %d of %d", done, n)
		}
		done += k
	}
	step("send+report", start)
	return c.ID, nil
}

// sendPage claims, freezes, records and reports one page of recipients.
func sendPage(ctx context.Context, s herald.Store, campaignID int64, page, batch int, now time.Time, done int) (int, error) {
	rs, err := s.ClaimRecipients(ctx, herald.ClaimParams{CampaignID: campaignID, Limit: page, Owner: "seed", Now: now, LeaseUntil: now.Add(time.Hour)})
	if err != nil || len(rs) == 0 {
		return 0, err
	}
	var reqs []herald.SentRequest
	ups := make([]herald.RecipientUpdate, len(rs))
	var reports []herald.Report
	for i, r := range rs {
		name := "회원" + r.MemberID[1:]
		text := strings.Replace("#{name}님, 주문하신 상품이 발송되었습니다.\n배송 조회는 아래 버튼으로.", "#{name}", name, 1)
		d := herald.Destination{To: r.Phone, MessageID: r.MessageID, Text: text}
		if batch == 1 {
			d.FallbackKind, d.FallbackText, d.FallbackFrom = "LMS", text, "0212345678"
		} else {
			d.ReplaceWords = map[string]string{"name": name}
		}
		if i%batch == 0 {
			reqs = append(reqs, herald.SentRequest{At: now, Batch: herald.SendBatch{
				SenderKey: "sender-key-export", TemplateCode: "EXPORT_1", Ref: "export", IdempotencyKey: r.MessageID + ".a1",
				IdempotencyTTL: 24 * time.Hour, ProviderRenders: batch > 1,
				Buttons: []herald.Button{{Type: "WL", Name: "배송조회", URLMobile: "https://example.com/t"}},
			}})
		}
		req := &reqs[len(reqs)-1]
		req.Claims = append(req.Claims, herald.Claim{ID: r.ID, Token: r.ClaimToken})
		req.Batch.Destinations = append(req.Batch.Destinations, d)
		msgKey := fmt.Sprintf("K%020d", r.ID)
		ups[i] = herald.RecipientUpdate{ID: r.ID, Owner: "seed", Token: r.ClaimToken, State: herald.RecipientAccepted, MsgKey: msgKey, ResultCode: "A000", At: now}
		rep := herald.Report{MsgKey: msgKey, Ref: r.MessageID, ServiceType: "ALIMTALK", MsgType: "AT", ReportType: "0",
			Code: herald.ReportDelivered, Text: "Success", ReportTime: now.Add(time.Second), Raw: []byte(`{}`)}
		switch (done + i) % 20 {
		case 0:
			rep.Code, rep.Text = "63019", "not a KakaoTalk user"
		case 1:
			rep.Code, rep.Text = "63019", "not a KakaoTalk user"
			reports = append(reports, rep)
			rep.ServiceType, rep.Code, rep.Text, rep.ReportTime = "LMS", herald.ReportDelivered, "Success", now.Add(2*time.Second)
		}
		reports = append(reports, rep)
	}
	if err := s.MarkBatches(ctx, "seed", reqs); err != nil {
		return 0, err
	}
	if err := s.RecordOutcomes(ctx, ups); err != nil {
		return 0, err
	}
	if _, err := s.ApplyReports(ctx, reports, now.Add(3*time.Second)); err != nil {
		return 0, err
	}
	return len(rs), nil
}
