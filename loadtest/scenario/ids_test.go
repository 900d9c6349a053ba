package scenario

import (
	"context"
	"errors"
	"strings"
	"testing"

	herald "github.com/heraldhq/herald"
)

// listerFunc is a function-field mock of RecipientLister.
type listerFunc func(ctx context.Context, campaignID, afterID int64, limit int) ([]herald.Recipient, int64, error)

func (f listerFunc) ListRecipients(ctx context.Context, campaignID, afterID int64, limit int) ([]herald.Recipient, int64, error) {
	return f(ctx, campaignID, afterID, limit)
}

func TestCampaignIDsPages(t *testing.T) {
	t.Parallel()
	all := []herald.Recipient{{ID: 1, MessageID: "h7-1"}, {ID: 2}, {ID: 3, MsgKey: "K3"}, {ID: 4, MessageID: "h7-4", MsgKey: "K4"}}
	pages := 0
	l := listerFunc(func(_ context.Context, id, after int64, limit int) ([]herald.Recipient, int64, error) {
		if id != 7 || limit != recipientPage {
			t.Fatalf("campaign %d limit %d", id, limit)
		}
		pages++
		if after == 0 {
			return all[:2], 2, nil
		}
		return all[2:], 0, nil
	})
	ids, err := CampaignIDs(t.Context(), l, 7)
	if err != nil || strings.Join(ids, ",") != "h7-1,K3,h7-4" || pages != 2 {
		t.Fatalf("ids %v pages %d err %v", ids, pages, err)
	}
}

func TestCampaignIDsErrors(t *testing.T) {
	t.Parallel()
	none := listerFunc(func(context.Context, int64, int64, int) ([]herald.Recipient, int64, error) {
		return []herald.Recipient{{ID: 1}}, 0, nil
	})
	if _, err := CampaignIDs(t.Context(), none, 1); err == nil || !strings.Contains(err.Error(), "no recipient with a message id") {
		t.Fatalf("err = %v", err)
	}
	failing := listerFunc(func(context.Context, int64, int64, int) ([]herald.Recipient, int64, error) {
		return nil, 0, herald.ErrNotFound
	})
	if _, err := CampaignIDs(t.Context(), failing, 1); !errors.Is(err, herald.ErrNotFound) {
		t.Fatalf("err = %v", err)
	}
}

func TestReadIDs(t *testing.T) {
	t.Parallel()
	ids, err := ReadIDs(strings.NewReader("# ids\nh1-1\n\n  h1-2  \r\n"))
	if err != nil || strings.Join(ids, ",") != "h1-1,h1-2" {
		t.Fatalf("ids %q err %v", ids, err)
	}
	if _, err := ReadIDs(strings.NewReader("\n# none\n")); err == nil {
		t.Fatal("an empty file passed")
	}
}
