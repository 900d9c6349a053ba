package main

import (
	"errors"
	"fmt"
	"testing"

	"github.com/spf13/cobra"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/dispatch"
	"github.com/heraldhq/herald/loadtest/engine"
)

// Every flag a table names exists on the command that fills that config,
// so a renamed flag cannot leave an error naming a flag nobody has.
func TestFlagNamesExist(t *testing.T) {
	t.Parallel()
	tables := []struct {
		cmd   *cobra.Command
		names flagNames
	}{
		{newServeCmd(), sendFlags}, {newDemoCmd(), sendFlags}, {newServeCmd(), reportFlags},
		{newMockProviderCmd(), mockFlags}, {newLoadtestCmd(), loadtestFlags},
	}
	for _, tb := range tables {
		for field, flag := range tb.names {
			if tb.cmd.Flags().Lookup(flag) == nil {
				t.Errorf("%s: field %s maps to --%s, which it does not have", tb.cmd.Name(), field, flag)
			}
		}
	}
}

func TestFlagErrorNamesTheFlag(t *testing.T) {
	t.Parallel()
	_, err := dispatch.New(dispatch.Config{Workers: 1, BatchSize: 500}, nil, nil, nil, nil)
	var inv *herald.InvalidError
	if err = flagError(err, sendFlags); !errors.As(err, &inv) || inv.Field != "batch-size" {
		t.Fatalf("dispatch: err = %v, want it to name --batch-size", err)
	}
	err = flagError(engine.FindMaxConfig{StartRate: 1, Factor: 1}.Validate(), loadtestFlags)
	if !errors.As(err, &inv) || inv.Field != "step-factor" {
		t.Fatalf("find-max: err = %v, want it to name --step-factor", err)
	}
	if err := flagError(herald.Invalid("idempotencyTTL", "x"), sendFlags); !errors.As(err, &inv) || inv.Field != "idempotencyTTL" {
		t.Fatalf("a field without a flag: err = %v", err)
	}
	plain := fmt.Errorf("boom")
	if err := flagError(plain, sendFlags); err != plain {
		t.Fatalf("a plain error changed: %v", err)
	}
}

// The clients read HERALD_SERVER and HERALD_ADMIN_TOKEN through the same
// binding as every other flag, and a flag given still wins.
func TestClientFlagsFromTheEnvironment(t *testing.T) {
	t.Setenv("HERALD_SERVER", "http://127.0.0.1:9")
	t.Setenv("HERALD_ADMIN_TOKEN", "env-token,second")
	cmd := newTemplatesListCmd()
	addClientFlags(cmd)
	if _, err := clientFrom(cmd); err != nil {
		t.Fatal(err)
	}
	if got := flagValue(cmd, "server"); got != "http://127.0.0.1:9" {
		t.Errorf("server = %q", got)
	}
	if got := flagValue(cmd, "token"); got != "env-token,second" {
		t.Errorf("token = %q", got)
	}
	given := newTemplatesListCmd()
	addClientFlags(given)
	if err := given.PersistentFlags().Set("server", "http://127.0.0.1:10"); err != nil {
		t.Fatal(err)
	}
	if _, err := clientFrom(given); err != nil {
		t.Fatal(err)
	}
	if got := flagValue(given, "server"); got != "http://127.0.0.1:10" {
		t.Errorf("a given --server lost to the environment: %q", got)
	}
}
