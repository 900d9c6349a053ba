package sqlresults

import (
	"strings"

	herald "github.com/heraldhq/herald"
)

// Recipients is the filter as a WHERE clause over the recipients table,
// with its arguments in placeholder order.
func Recipients(f herald.RecipientFilter) (string, []any) {
	conds := []string{"campaign_id = ?", "id > ?"}
	args := []any{f.CampaignID, f.AfterID}
	if len(f.States) > 0 {
		conds = append(conds, "state IN (?"+strings.Repeat(", ?", len(f.States)-1)+")")
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
