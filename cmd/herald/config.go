package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/mysql"
	"github.com/heraldhq/herald/postgres"
	"github.com/heraldhq/herald/sqlite"
)

// envPrefix is where herald's environment variables start; the mock
// provider's take envMockPrefix, so that both can share one environment.
const (
	envPrefix     = "HERALD_"
	envMockPrefix = "HERALD_MOCK_"
)

// envAnnotation on a flag names its environment variable when that is not
// the flag's own: the clients' --token reads HERALD_ADMIN_TOKEN, as serve's
// --admin-token does.
const envAnnotation = "herald-env"

// envName is the environment variable that sets a flag: --admin-token is
// HERALD_ADMIN_TOKEN.
func envName(prefix string, f *pflag.Flag) string {
	if v := f.Annotations[envAnnotation]; len(v) == 1 {
		return v[0]
	}
	return prefix + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
}

// bindEnv fills every flag not given on the command line from its HERALD_*
// variable, so flags win over the environment and both over defaults.
func bindEnv(cmd *cobra.Command) error { return bindEnvPrefix(cmd.Flags(), envPrefix) }

func bindEnvPrefix(fs *pflag.FlagSet, prefix string) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed {
			return
		}
		if v, ok := os.LookupEnv(envName(prefix, f)); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s: %w", envName(prefix, f), e)
			}
		}
	})
	return err
}

// describeEnv appends the environment variable to each flag's help.
func describeEnv(fs *pflag.FlagSet) { describeEnvPrefix(fs, envPrefix) }

func describeEnvPrefix(fs *pflag.FlagSet, prefix string) {
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Name != "help" {
			f.Usage += " (env " + envName(prefix, f) + ")"
		}
	})
}

// openStore opens the database named by --db: sqlite:PATH (the default), a
// postgres:// URL or a mysql:// URL (MySQL 8, MariaDB ≥ 10.6). It applies
// migrations.
func openStore(ctx context.Context, dsn string) (herald.Store, error) {
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		return sqlite.Open(ctx, strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite:"), "//"))
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return postgres.Open(ctx, dsn)
	case strings.HasPrefix(dsn, "mysql://"):
		return mysql.Open(ctx, dsn)
	}
	return nil, herald.Invalid("db", "want sqlite:PATH, postgres://… or mysql://…, got %q", redactDSN(dsn))
}

// redactDSN hides anything that may be a password.
func redactDSN(dsn string) string {
	if i := strings.Index(dsn, "@"); i >= 0 {
		if j := strings.Index(dsn, "://"); j >= 0 && j < i {
			return dsn[:j+3] + "…" + dsn[i:]
		}
	}
	return dsn
}

func newLogger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, herald.Invalid("log-level", "want debug, info, warn or error, got %q", level)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}
