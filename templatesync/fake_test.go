package templatesync_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/infobank"
	"github.com/heraldhq/herald/templatesync"
)

// fakeProvider lists a fixed catalog.
type fakeProvider []infobank.ProviderTemplate

func (f fakeProvider) ListTemplates(context.Context, string) ([]infobank.ProviderTemplate, error) {
	return f, nil
}

// memTemplates is a templatesync.TemplateStore in memory that counts its
// writes and can fail them.
type memTemplates struct {
	byCode map[string]herald.Template
	saves  int
	fail   error
}

func (m *memTemplates) ListTemplates(context.Context) ([]herald.Template, error) {
	var ts []herald.Template
	for _, t := range m.byCode {
		ts = append(ts, t)
	}
	return ts, nil
}

func (m *memTemplates) SaveTemplate(_ context.Context, t herald.Template) (herald.Template, error) {
	if m.fail != nil {
		return herald.Template{}, m.fail
	}
	m.saves++
	m.byCode[t.Code] = t
	return t, nil
}

// TestSyncWritesOnlyWhatChanged: a second sync of the same catalog writes
// nothing, and a failed write stops the sync naming the template.
func TestSyncWritesOnlyWhatChanged(t *testing.T) {
	t.Parallel()
	p := fakeProvider{{Code: "T1", SenderKey: senderKey, Text: "안녕하세요 #{name}님", Inspection: "APR"}}
	st := &memTemplates{byCode: map[string]herald.Template{}}
	sync := func() (templatesync.Result, error) {
		return templatesync.Sync(t.Context(), p, st, templatesync.Options{SenderKey: senderKey})
	}
	res, err := sync()
	if err != nil {
		t.Fatal(err)
	}
	if res.Count(templatesync.Added) != 1 || st.saves != 1 {
		t.Fatalf("first sync: %+v with %d writes, want T1 added in 1 write", res.Changes, st.saves)
	}
	if got := st.byCode["T1"]; got.Status != herald.TemplateApproved || got.Text != p[0].Text {
		t.Fatalf("stored %+v, want the provider's copy, approved", got)
	}
	res, err = sync()
	if err != nil {
		t.Fatal(err)
	}
	if res.Count(templatesync.Unchanged) != 1 || st.saves != 1 {
		t.Fatalf("second sync: %+v with %d writes in all, want T1 unchanged and no new write", res.Changes, st.saves)
	}
	p = append(p, infobank.ProviderTemplate{Code: "T2", SenderKey: senderKey, Text: "new", Inspection: "REQ"})
	st.fail = errors.New("disk full")
	if _, err := sync(); !errors.Is(err, st.fail) || !strings.Contains(err.Error(), `"T2"`) {
		t.Fatalf("sync with a failing store: %v, want the cause and the code T2", err)
	}
}
