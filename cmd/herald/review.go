package main

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/heraldhq/herald/internal/review"
)

func newCampaignsReviewCmd() *cobra.Command {
	return leaf(&cobra.Command{
		Use:   "review ID",
		Short: "Show what a campaign will do before anything is sent",
		Long: `Review a campaign (a draft, typically): the audience after de-duplication
and withdrawals, members that will be skipped or fail rendering and why,
three sample messages exactly as they will leave, the SMS/LMS fallback
forecast and when it will finish at its effective rate inside its send
window. Then approve it with "herald campaigns approve ID".`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, id, err := campaignClient(cmd, args[0])
			if err != nil {
				return err
			}
			r, err := cl.ReviewCampaign(cmd.Context(), id)
			if err != nil {
				return err
			}
			return output(cmd, r, func(w io.Writer) { printReview(w, r) })
		},
	})
}

func printReview(w io.Writer, r review.Review) {
	a := r.Audience
	row(w, "campaign", fmt.Sprintf("%d (%s)", r.CampaignID, r.State))
	row(w, "audience", fmt.Sprintf("%d selected, %d duplicates, %d unknown, %d withdrawn → %d recipients", a.Selected, a.Duplicates, a.Unknown, a.Withdrawn, a.Recipients))
	row(w, "messages", r.Messages)
	printGroup(w, "skipped", r.Skipped)
	printGroup(w, "will fail", r.Failures)
	f := r.Fallback
	switch {
	case !f.Enabled:
		row(w, "fallback", "off (no --fallback-from)")
	default:
		line := fmt.Sprintf("%d legs (%d SMS, %d LMS, %d cannot fall back)", f.Legs, f.SMS, f.LMS, f.NoFallback)
		if f.Expected != nil {
			line += fmt.Sprintf("; expect %d used (%d–%d), %.1f%% of %d past results not on KakaoTalk", *f.Expected, *f.Low, *f.High, 100**f.Share, f.History.Reported)
		} else {
			line += "; no past results for this sender key to forecast from"
		}
		row(w, "fallback", line)
	}
	fc := r.Forecast
	rate := fmt.Sprintf("%.1f/s (campaign %d", fc.EffectiveTPS, fc.CampaignTPS)
	if fc.SenderKeyTPS > 0 {
		rate += fmt.Sprintf(", sender key %d", fc.SenderKeyTPS)
	}
	row(w, "rate", rate+", less headroom)")
	row(w, "window", orDash(fc.SendWindow)+map[bool]string{true: " Asia/Seoul", false: ""}[fc.SendWindow != ""])
	row(w, "starts", fmtTime(fc.StartsAt))
	fits := "fits its window"
	if !fc.FitsWindow {
		fits = fmt.Sprintf("does NOT fit: the window closes %s; it resumes at the next opening", fmtTime(*fc.WindowClosesAt))
	}
	row(w, "finishes", fmt.Sprintf("%s (%.0f s of sending; %s)", fmtTime(fc.FinishAt), fc.Seconds, fits))
	for i, s := range r.Samples {
		fmt.Fprintln(w)
		row(w, fmt.Sprintf("sample %d", i+1), fmt.Sprintf("member %s → %s (%s, %s)", s.MemberID, s.To, s.TemplateCode, s.SendType))
		if s.Title != "" {
			row(w, "  title", s.Title)
		}
		for _, line := range strings.Split(s.Text, "\n") {
			row(w, "  text", line)
		}
		for _, b := range s.Buttons {
			row(w, "  button", strings.TrimSpace(b.Name+" "+b.URLMobile))
		}
		if s.FallbackKind != "" {
			row(w, "  "+strings.ToLower(s.FallbackKind), cell(s.FallbackText, 100)+" (from "+s.FallbackFrom+")")
		}
	}
}

func printGroup(w io.Writer, name string, g review.Group) {
	if g.Count == 0 {
		row(w, name, 0)
		return
	}
	codes := make([]string, 0, len(g.ByCode))
	for c, n := range g.ByCode {
		codes = append(codes, fmt.Sprintf("%s %d", c, n))
	}
	sort.Strings(codes)
	row(w, name, fmt.Sprintf("%d (%s)", g.Count, strings.Join(codes, ", ")))
	for _, e := range g.Examples {
		row(w, "  "+e.MemberID, e.Code+": "+cell(e.Text, 100))
	}
}
