package http_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/ingest"
)

// intakeFunc is an IntakeStatus whose answer the test sets.
type intakeFunc func() ingest.Status

func (f intakeFunc) Status() ingest.Status { return f() }

type intakeBody struct {
	Enabled         bool             `json:"enabled"`
	QueueDepth      int              `json:"queueDepth"`
	QueueCapacity   int              `json:"queueCapacity"`
	LastCommitError *time.Time       `json:"lastCommitError"`
	Spool           *json.RawMessage `json:"spool"`
}

type spoolBody struct {
	Dir                string     `json:"dir"`
	Spooling           bool       `json:"spooling"`
	Bytes              int64      `json:"bytes"`
	MaxBytes           int64      `json:"maxBytes"`
	Records            *int       `json:"records"`
	Replayed           int64      `json:"replayed"`
	QuarantinedBatches int        `json:"quarantinedBatches"`
	QuarantinedReports int        `json:"quarantinedReports"`
	LastReplayFailure  *time.Time `json:"lastReplayFailure"`
}

// Without an intake the route says so; it needs the admin token.
func TestIntakeOff(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var got map[string]any
	e.do("GET", heraldhttp.PathIntake, "", nil).want(t, 200, &got)
	if len(got) != 1 || got["enabled"] != false {
		t.Fatalf("without an intake: %v, want {enabled: false}", got)
	}
	e.do("GET", heraldhttp.PathIntake, "", nil, "Authorization", "").wantError(t, 401, heraldhttp.CodeUnauthorized, "")
}

// The route shows what the intake tells, in the documented shape: an
// uncounted record total and a replay that never failed are null.
func TestIntakeStatus(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	failed := time.Date(2026, 3, 1, 8, 59, 30, 0, time.UTC)
	st := ingest.Status{QueueDepth: 12, QueueCapacity: 10000, Spool: &ingest.SpoolStatus{Dir: "/var/spool/herald",
		Spooling: true, Bytes: 4096, MaxBytes: 1 << 30, Records: -1, Replayed: 250, QuarantinedBatches: 2, QuarantinedReports: 3}}
	e.api.ShowIntake(intakeFunc(func() ingest.Status { return st }))
	doc, _ := e.openAPI()
	schema := func(name string) map[string]any {
		var s map[string]any
		if err := json.Unmarshal(doc.Components.Schemas[name], &s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	schemas := map[string]map[string]any{"ReportIntake": schema("ReportIntake"), "ReportSpool": schema("ReportSpool")}
	get := func() (intakeBody, spoolBody) {
		t.Helper()
		r := e.do("GET", heraldhttp.PathIntake, "", nil)
		var raw any
		var body intakeBody
		var sp spoolBody
		r.want(t, 200, &raw)
		r.want(t, 200, &body)
		checkSchema(t, "intake", schemas, schemas["ReportIntake"], raw)
		if body.Spool != nil {
			if err := json.Unmarshal(*body.Spool, &sp); err != nil {
				t.Fatal(err)
			}
			checkSchema(t, "intake.spool", schemas, schemas["ReportSpool"], raw.(map[string]any)["spool"])
		}
		return body, sp
	}

	body, sp := get()
	if !body.Enabled || body.QueueDepth != 12 || body.QueueCapacity != 10000 || body.Spool == nil {
		t.Fatalf("intake %+v", body)
	}
	if !sp.Spooling || sp.Dir != "/var/spool/herald" || sp.Bytes != 4096 || sp.MaxBytes != 1<<30 || sp.Replayed != 250 || sp.QuarantinedBatches != 2 || sp.QuarantinedReports != 3 ||
		sp.Records != nil || sp.LastReplayFailure != nil {
		t.Fatalf("spool %+v, want the status given, records and last failure null", sp)
	}

	if body.LastCommitError != nil {
		t.Fatalf("last commit error %v, want null", body.LastCommitError)
	}

	st.Spool.Records, st.Spool.LastReplayFailure, st.LastCommitError = 7, failed, failed.Add(time.Second)
	body, sp = get()
	if sp.Records == nil || *sp.Records != 7 || sp.LastReplayFailure == nil || !sp.LastReplayFailure.Equal(failed) {
		t.Fatalf("spool %+v, want 7 records and the failure time", sp)
	}
	if body.LastCommitError == nil || !body.LastCommitError.Equal(failed.Add(time.Second)) {
		t.Fatalf("last commit error %v, want %v", body.LastCommitError, failed.Add(time.Second))
	}
	st.Spool = nil
	if body, _ = get(); !body.Enabled || body.Spool != nil {
		t.Fatalf("without a spool: %+v, want enabled and spool null", body)
	}
}

// A real Ingest's state goes through: its bounds, an idle spool.
func TestIntakeStatusOfIngest(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	in, err := ingest.New(ingest.Config{QueueSize: 2000, SpoolDir: t.TempDir(), SpoolMaxBytes: 8 << 20}, e.store, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := in.Stop(context.Background()); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	e.api.ShowIntake(in)
	var body struct {
		Enabled       bool `json:"enabled"`
		QueueCapacity int  `json:"queueCapacity"`
		Spool         struct {
			Spooling bool  `json:"spooling"`
			MaxBytes int64 `json:"maxBytes"`
			Records  *int  `json:"records"`
		} `json:"spool"`
	}
	e.do("GET", heraldhttp.PathIntake, "", nil).want(t, 200, &body)
	if !body.Enabled || body.QueueCapacity != 2000 || body.Spool.Spooling || body.Spool.MaxBytes != 8<<20 ||
		body.Spool.Records == nil || *body.Spool.Records != 0 {
		t.Fatalf("intake %+v", body)
	}
}
