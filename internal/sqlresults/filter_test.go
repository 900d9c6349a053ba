package sqlresults

import (
	"reflect"
	"strings"
	"testing"

	herald "github.com/heraldhq/herald"
)

func TestRecipients(t *testing.T) {
	where, args := Recipients(herald.RecipientFilter{CampaignID: 7, AfterID: 100,
		States: []herald.RecipientState{herald.RecipientFailed, herald.RecipientUnknown}, Code: "3018", Phone: "01012345678"})
	want := "campaign_id = ? AND id > ? AND state IN (?, ?) AND result_code = ? AND phone = ?"
	if where != want {
		t.Errorf("where %q, want %q", where, want)
	}
	wantArgs := []any{int64(7), int64(100), "FAILED", "UNKNOWN", "3018", "01012345678"}
	if !reflect.DeepEqual(args, wantArgs) {
		t.Errorf("args %#v, want %#v", args, wantArgs)
	}
	if n := strings.Count(where, "?"); n != len(args) {
		t.Errorf("%d placeholders for %d arguments", n, len(args))
	}
	where, args = Recipients(herald.RecipientFilter{CampaignID: 1})
	if where != "campaign_id = ? AND id > ?" || len(args) != 2 {
		t.Errorf("empty filter: %q %v", where, args)
	}
}

func TestRetry(t *testing.T) {
	for _, c := range []struct {
		ra   herald.RetryAudience
		want string
		args []any
	}{
		{herald.RetryAudience{Campaign: 3, States: []herald.RecipientState{herald.RecipientFailed}},
			"r.state IN (?)", []any{"FAILED"}},
		{herald.RetryAudience{Campaign: 3, States: []herald.RecipientState{herald.RecipientFailed, herald.RecipientUnknown},
			Codes: []string{"3018", "NO_REPORT"}},
			"r.state IN (?, ?) AND r.result_code IN (?, ?)", []any{"FAILED", "UNKNOWN", "3018", "NO_REPORT"}},
	} {
		cond, args := Retry(c.ra)
		if cond != c.want || !reflect.DeepEqual(args, c.args) {
			t.Errorf("Retry(%+v) = %q %#v, want %q %#v", c.ra, cond, args, c.want, c.args)
		}
	}
}
