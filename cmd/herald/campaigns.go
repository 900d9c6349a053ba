package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	herald "github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
)

func newCampaignsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "campaigns",
		Short: "Create, watch and steer campaigns through the admin API",
	}
	addClientFlags(cmd)
	cmd.AddCommand(
		newCampaignsCreateCmd(),
		newCampaignsListCmd(),
		newCampaignsShowCmd(),
		newCampaignsWatchCmd(),
		newCampaignsUpdateCmd(),
		newCampaignActionCmd("pause", "Pause a campaign; resume continues where it stopped", (*heraldhttp.Client).PauseCampaign),
		newCampaignActionCmd("resume", "Resume a paused campaign", (*heraldhttp.Client).ResumeCampaign),
		newCampaignActionCmd("cancel", "Cancel a campaign and every recipient not yet sent to", (*heraldhttp.Client).CancelCampaign),
		newCampaignsRecipientsCmd(),
		newCampaignsReviewCmd(),
		newCampaignActionCmd("approve", "Approve a draft: it is scheduled for its start time", (*heraldhttp.Client).ApproveCampaign),
		newCampaignActionCmd("clone", "Copy a campaign (template, audience, settings) as a new draft", (*heraldhttp.Client).CloneCampaign),
		newCampaignsFailuresCmd(),
		newCampaignsRetryCmd(),
		newCampaignsRecipientCmd(),
		newCampaignsExportCmd(),
	)
	return cmd
}

// createFlags are the flags of `campaigns create`.
type createFlags struct {
	name, template, membersFile, startAt string
	sendWindow                           string
	all, draft                           bool
	attrs, vars                          []string
	tps                                  int
}

func newCampaignsCreateCmd() *cobra.Command {
	var fl createFlags
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a campaign: a template, an audience, a start time and a rate",
		Long: `Create a campaign. The audience is one of: --all active members, members
whose attributes match every --attr k=v, or the ids in --members-file (one
per line; blank lines and lines starting with # are skipped).

--var k=v sets a campaign constant for the template's #{k}. A member's own
fields (#{name}, #{phone}, #{id}) and attributes fill the other variables.`,
		Example: `  herald campaigns create --name "spring sale" --template COUPON_1 --all --var shop=Herald --tps 100
  herald campaigns create --name vip --template COUPON_1 --attr tier=gold --start-at 2026-04-01T10:00:00+09:00 --tps 50
  herald campaigns create --name retry --template COUPON_1 --members-file ids.txt --tps 20
  herald campaigns create --name notice --template COUPON_1 --all --tps 100 --draft --send-window 08:00-20:50`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := fl.campaign()
			if err != nil {
				return err
			}
			return createCampaign(cmd, c)
		},
	}
	f := cmd.Flags()
	f.StringVar(&fl.name, "name", "", "campaign name")
	f.StringVar(&fl.template, "template", "", "template code")
	f.BoolVar(&fl.all, "all", false, "send to every active member")
	f.StringArrayVar(&fl.attrs, "attr", nil, "send to members with attribute k=v (repeatable; all must match)")
	f.StringVar(&fl.membersFile, "members-file", "", "send to the member ids in this file, one per line")
	f.StringArrayVar(&fl.vars, "var", nil, "campaign constant k=v for #{k} (repeatable)")
	f.StringVar(&fl.startAt, "start-at", "", "RFC 3339 start time (default now)")
	f.IntVar(&fl.tps, "tps", 0, "messages per second")
	f.BoolVar(&fl.draft, "draft", false, "create a draft: review it (campaigns review ID), then approve it to send")
	f.StringVar(&fl.sendWindow, "send-window", "", `hours it may send, Asia/Seoul, e.g. "08:00-20:50" (default: the server's --send-window)`)
	for _, name := range []string{"name", "template", "tps"} {
		_ = cmd.MarkFlagRequired(name)
	}
	cmd.MarkFlagsMutuallyExclusive("all", "attr", "members-file")
	cmd.MarkFlagsOneRequired("all", "attr", "members-file")
	return leaf(cmd)
}

func (fl createFlags) campaign() (herald.Campaign, error) {
	c := herald.Campaign{Name: fl.name, TemplateCode: fl.template, TPS: fl.tps, SendWindow: fl.sendWindow}
	if fl.draft {
		c.State = herald.CampaignDraft
	}
	var err error
	if c.Variables, err = parsePairs("var", fl.vars); err != nil {
		return c, err
	}
	if c.Audience.Attributes, err = parsePairs("attr", fl.attrs); err != nil {
		return c, err
	}
	c.Audience.All = fl.all
	if fl.membersFile != "" {
		if c.Audience.MemberIDs, err = readIDs(fl.membersFile); err != nil {
			return c, err
		}
	}
	if fl.startAt != "" {
		if c.StartAt, err = time.Parse(time.RFC3339, fl.startAt); err != nil {
			return c, herald.Invalid("start-at", "want an RFC 3339 time such as 2026-04-01T10:00:00+09:00, got %q", fl.startAt)
		}
	}
	return c, nil
}

// readIDs reads one member id per line.
func readIDs(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ids []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		id := strings.TrimSpace(sc.Text())
		if id == "" || strings.HasPrefix(id, "#") {
			continue
		}
		ids = append(ids, id)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(ids) == 0 {
		return nil, herald.Invalid("members-file", "%s holds no member ids", path)
	}
	return ids, nil
}

func createCampaign(cmd *cobra.Command, c herald.Campaign) error {
	cl, err := clientFrom(cmd)
	if err != nil {
		return err
	}
	c, err = cl.CreateCampaign(cmd.Context(), c)
	if err != nil {
		return err
	}
	return output(cmd, c, func(w io.Writer) { printCampaign(w, c) })
}

func newCampaignsListCmd() *cobra.Command {
	return leaf(&cobra.Command{
		Use:   "list",
		Short: "List campaigns, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := clientFrom(cmd)
			if err != nil {
				return err
			}
			cs, err := cl.ListCampaigns(cmd.Context())
			if err != nil {
				return err
			}
			return output(cmd, cs, func(w io.Writer) {
				// REASON (why the dispatcher paused or failed a campaign)
				// shows only when a campaign has one.
				reasons := slices.ContainsFunc(cs, func(c herald.Campaign) bool { return c.Reason != "" })
				header := []any{"ID", "NAME", "TEMPLATE", "STATE", "START", "TPS", "DONE", "TOTAL"}
				if reasons {
					header = append(header, "REASON")
				}
				row(w, header...)
				for _, c := range cs {
					cells := []any{c.ID, cell(c.Name, 30), c.TemplateCode, c.State, fmtTime(c.StartAt), c.TPS, done(c), c.Total}
					if reasons {
						cells = append(cells, orDash(cell(c.Reason, 60)))
					}
					row(w, cells...)
				}
			})
		},
	})
}

// done counts the recipients the dispatcher has finished with.
func done(c herald.Campaign) int {
	n := 0
	for s, v := range c.Counts {
		if s.Sent() {
			n += v
		}
	}
	return n
}

func newCampaignsShowCmd() *cobra.Command {
	return leaf(&cobra.Command{
		Use:   "show ID",
		Short: "Show a campaign with its recipient counts per state",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return campaignCall(cmd, args[0], (*heraldhttp.Client).GetCampaign)
		},
	})
}

func newCampaignsUpdateCmd() *cobra.Command {
	var startAt string
	var tps int
	cmd := &cobra.Command{
		Use:   "update ID",
		Short: "Reschedule a campaign or change its rate",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var p herald.CampaignPatch
			if cmd.Flags().Changed("tps") {
				p.TPS = &tps
			}
			if startAt != "" {
				t, err := time.Parse(time.RFC3339, startAt)
				if err != nil {
					return herald.Invalid("start-at", "want an RFC 3339 time, got %q", startAt)
				}
				p.StartAt = &t
			}
			return campaignCall(cmd, args[0], func(c *heraldhttp.Client, ctx context.Context, id int64) (herald.Campaign, error) {
				return c.PatchCampaign(ctx, id, p)
			})
		},
	}
	cmd.Flags().StringVar(&startAt, "start-at", "", "new RFC 3339 start time")
	cmd.Flags().IntVar(&tps, "tps", 0, "new rate in messages per second")
	cmd.MarkFlagsOneRequired("start-at", "tps")
	return leaf(cmd)
}

func newCampaignActionCmd(action, short string, call func(*heraldhttp.Client, context.Context, int64) (herald.Campaign, error)) *cobra.Command {
	return leaf(&cobra.Command{
		Use:   action + " ID",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return campaignCall(cmd, args[0], call)
		},
	})
}

// campaignCall runs one call on the campaign whose id is arg and prints it.
func campaignCall(cmd *cobra.Command, arg string, call func(*heraldhttp.Client, context.Context, int64) (herald.Campaign, error)) error {
	cl, id, err := campaignClient(cmd, arg)
	if err != nil {
		return err
	}
	c, err := call(cl, cmd.Context(), id)
	if err != nil {
		return err
	}
	return output(cmd, c, func(w io.Writer) { printCampaign(w, c) })
}

// campaignClient parses the campaign id argument and builds the client.
func campaignClient(cmd *cobra.Command, arg string) (*heraldhttp.Client, int64, error) {
	id, err := strconv.ParseInt(arg, 10, 64)
	if err != nil || id <= 0 {
		return nil, 0, herald.Invalid("ID", "campaign ids are positive integers, not %q", arg)
	}
	cl, err := clientFrom(cmd)
	return cl, id, err
}

func printCampaign(w io.Writer, c herald.Campaign) {
	row(w, "id", c.ID)
	row(w, "name", c.Name)
	row(w, "template", c.TemplateCode)
	row(w, "state", c.State)
	if c.Reason != "" {
		row(w, "reason", cell(c.Reason, 200))
	}
	if c.RetryOf != 0 {
		row(w, "retry of", c.RetryOf)
	}
	row(w, "audience", audience(c.Audience))
	if len(c.Variables) > 0 {
		row(w, "variables", pairs(c.Variables))
	}
	row(w, "start", fmtTime(c.StartAt))
	row(w, "tps", c.TPS)
	if c.SendWindow != "" {
		row(w, "send window", c.SendWindow+" Asia/Seoul")
	}
	if c.CreatedBy != "" {
		row(w, "created by", "token "+c.CreatedBy)
	}
	if c.ApprovedBy != "" {
		row(w, "approved by", "token "+c.ApprovedBy)
	}
	row(w, "created", fmtTime(c.CreatedAt))
	row(w, "updated", fmtTime(c.UpdatedAt))
	fmt.Fprintln(w)
	row(w, "STATE", "COUNT", "SHARE")
	for _, s := range herald.RecipientStates {
		row(w, s, c.Counts[s], share(c.Counts[s], c.Total))
	}
	row(w, "TOTAL", c.Total, share(c.Total, c.Total))
}

func audience(a herald.Audience) string {
	switch {
	case a.All:
		return "all active members"
	case len(a.Attributes) > 0:
		return "members with " + pairs(a.Attributes)
	case a.Retry != nil:
		return fmt.Sprintf("%d members of campaign %d's %v recipients", a.Retry.Members, a.Retry.Campaign, a.Retry.States)
	}
	return fmt.Sprintf("%d listed members", len(a.MemberIDs))
}

func share(n, total int) string {
	if total == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(total))
}

func newCampaignsRecipientsCmd() *cobra.Command {
	var f herald.RecipientFilter
	var states []string
	cmd := &cobra.Command{
		Use:   "recipients ID",
		Short: "List a campaign's recipients, a page at a time, filtered by state, code, channel, phone or member",
		Example: `  herald campaigns recipients 12 --state FAILED --code 63019
  herald campaigns recipients 12 --phone 010-1234-5678
  herald campaigns recipients 12 --channel SMS --after 5000`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, id, err := campaignClient(cmd, args[0])
			if err != nil {
				return err
			}
			f.CampaignID = id
			for _, s := range states {
				f.States = append(f.States, herald.RecipientState(strings.ToUpper(s)))
			}
			rs, next, err := cl.FindRecipients(cmd.Context(), f)
			if err != nil {
				return err
			}
			return output(cmd, rs, func(w io.Writer) {
				row(w, "ID", "MEMBER", "PHONE", "STATE", "CHANNEL", "ATTEMPTS", "RESULT", "UPDATED")
				for _, r := range rs {
					row(w, r.ID, r.MemberID, r.Phone, r.State, orDash(herald.ChannelName(r.Channel)), r.Attempts,
						orDash(cell(strings.TrimSpace(r.ResultCode+" "+r.ResultText), 60)), fmtTime(r.UpdatedAt))
				}
				if next != 0 {
					fmt.Fprintf(w, "(more: --after %d)\n", next)
				}
			})
		},
	}
	fl := cmd.Flags()
	fl.Int64Var(&f.AfterID, "after", 0, "list recipients with ids above this one")
	fl.IntVar(&f.Limit, "limit", 100, "recipients per page (at most 1000)")
	fl.StringSliceVar(&states, "state", nil, "only these states (comma-separated or repeated): PENDING, SENDING, RETRY_WAIT, ACCEPTED, DELIVERED, FAILED, SKIPPED, UNKNOWN, CANCELLED")
	fl.StringVar(&f.Code, "code", "", "only this result code (63019, A000, IN_DOUBT, NO_REPORT…)")
	fl.StringVar(&f.Channel, "channel", "", "only this channel: AT, SMS, LMS or MMS")
	fl.StringVar(&f.Phone, "phone", "", "only this phone number")
	fl.StringVar(&f.MemberID, "member", "", "only this member id")
	return leaf(cmd)
}

func newCampaignsRecipientCmd() *cobra.Command {
	return leaf(&cobra.Command{
		Use:   "recipient ID RECIPIENT_ID",
		Short: "Show one recipient: the message as sent and its history",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, id, err := campaignClient(cmd, args[0])
			if err != nil {
				return err
			}
			rid, err := strconv.ParseInt(args[1], 10, 64)
			if err != nil || rid <= 0 {
				return herald.Invalid("RECIPIENT_ID", "recipient ids are positive integers, not %q", args[1])
			}
			d, err := cl.GetRecipient(cmd.Context(), id, rid)
			if err != nil {
				return err
			}
			return output(cmd, d, func(w io.Writer) { printRecipient(w, d) })
		},
	})
}

func printRecipient(w io.Writer, d herald.RecipientDetail) {
	r := d.Recipient
	row(w, "id", r.ID)
	row(w, "member", r.MemberID)
	row(w, "phone", r.Phone)
	row(w, "state", r.State)
	row(w, "result", orDash(strings.TrimSpace(r.ResultCode+" "+r.ResultText)))
	row(w, "channel", orDash(herald.ChannelName(r.Channel)))
	row(w, "msgKey", orDash(r.MsgKey))
	if m := d.Message; m != nil {
		row(w, "request", m.Key)
		row(w, "template", m.TemplateCode)
		if m.Title != "" {
			row(w, "title", m.Title)
		}
		row(w, "text", cell(m.Text, 200))
		if m.Fallback != nil {
			row(w, "fallback", m.Fallback.Kind+": "+cell(m.Fallback.Text, 180))
		}
	} else {
		row(w, "message", "- (not sent)")
	}
	fmt.Fprintln(w)
	row(w, "AT", "EVENT", "DETAIL")
	for _, ev := range d.History {
		row(w, fmtTime(ev.At), ev.Event, cell(ev.Detail, 120))
	}
}
