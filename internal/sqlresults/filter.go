package sqlresults

import (
	"strings"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/sqlrows"
)

// Recipients is the filter as a WHERE clause over the recipients table,
// with its arguments in placeholder order.
func Recipients(f herald.RecipientFilter) (string, []any) {
	conds := []string{"campaign_id = ?", "id > ?"}
	args := []any{f.CampaignID, f.AfterID}
	if len(f.States) > 0 {
		conds = append(conds, "state IN ("+sqlrows.Placeholders(len(f.States))+")")
		for _, st := range f.States {
			args = append(args, string(st))
		}
	}
	for _, c := range []struct{ col, v string }{{"result_code", f.Code}, {"channel", f.Channel}, {"phone", f.Phone}, {"member_id", f.MemberID}} {
		if c.v != "" {
			conds = append(conds, c.col+" = ?")
			args = append(args, c.v)
		}
	}
	return strings.Join(conds, " AND "), args
}

// Retry is a retry's selection of the source's rows, aliased r, as a
// condition with its arguments in placeholder order.
func Retry(ra herald.RetryAudience) (string, []any) {
	args := make([]any, 0, len(ra.States)+len(ra.Codes))
	for _, st := range ra.States {
		args = append(args, string(st))
	}
	cond := "r.state IN (" + sqlrows.Placeholders(len(ra.States)) + ")"
	if len(ra.Codes) > 0 {
		cond += " AND r.result_code IN (" + sqlrows.Placeholders(len(ra.Codes)) + ")"
		for _, code := range ra.Codes {
			args = append(args, code)
		}
	}
	return cond, args
}
