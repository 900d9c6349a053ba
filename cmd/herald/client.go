package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	herald "github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
)

// defaultServer is where `herald serve` listens by default.
const defaultServer = "http://127.0.0.1:8080"

// addClientFlags adds the flags that every command talking to the admin API
// shares. The token has no default shown in --help, so it never lands in a
// terminal's scrollback; prefer the environment to the flag (ps shows flags).
func addClientFlags(cmd *cobra.Command) {
	f := cmd.PersistentFlags()
	f.String("server", defaultServer, "base URL of herald serve (env HERALD_SERVER)")
	f.String("token", "", "admin bearer token; prefer the env HERALD_ADMIN_TOKEN, since ps shows flags")
	_ = f.SetAnnotation("token", envAnnotation, []string{"HERALD_ADMIN_TOKEN"})
	f.Bool("json", false, "print the API's JSON instead of a table")
}

// clientFrom builds the API client from the flags, falling back to
// HERALD_SERVER and HERALD_ADMIN_TOKEN for flags not given.
func clientFrom(cmd *cobra.Command) (*heraldhttp.Client, error) {
	conn := pflag.NewFlagSet("client", pflag.ContinueOnError) // only these two come from the environment
	for _, name := range []string{"server", "token"} {
		if f := cmd.Flag(name); f != nil {
			conn.AddFlag(f)
		}
	}
	if err := bindEnvPrefix(conn, envPrefix); err != nil {
		return nil, err
	}
	server := flagValue(cmd, "server")
	if server == "" {
		server = defaultServer
	}
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, herald.Invalid("server", "want a URL such as %s, got %q", defaultServer, server)
	}
	// The server accepts several tokens for rotation; a client uses one.
	token, _, _ := strings.Cut(flagValue(cmd, "token"), ",")
	if token = strings.TrimSpace(token); token == "" {
		return nil, herald.Invalid("token", "is required: set HERALD_ADMIN_TOKEN or pass --token")
	}
	return heraldhttp.NewClient(server, token), nil
}

// flagValue is the flag's value as text, "" when cmd has no such flag.
func flagValue(cmd *cobra.Command, name string) string {
	if f := cmd.Flag(name); f != nil {
		return f.Value.String()
	}
	return ""
}

// wantJSON reports whether --json was given.
func wantJSON(cmd *cobra.Command) bool {
	f := cmd.Flag("json")
	return f != nil && f.Value.String() == "true"
}

// output prints v as indented JSON with --json, else calls table.
func output(cmd *cobra.Command, v any, table func(w io.Writer)) error {
	w := cmd.OutOrStdout()
	if wantJSON(cmd) {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	table(tw)
	return tw.Flush()
}

// row writes one tab-separated table row.
func row(w io.Writer, cells ...any) {
	for i, c := range cells {
		if i > 0 {
			fmt.Fprint(w, "\t")
		}
		fmt.Fprint(w, c)
	}
	fmt.Fprintln(w)
}

// cell makes s fit on one table line of at most n characters.
func cell(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format(time.RFC3339)
}

// pairs renders a map as k=v, sorted by key.
func pairs(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		keys[i] = k + "=" + m[k]
	}
	return strings.Join(keys, ", ")
}

// parsePairs reads repeated k=v flag values.
func parsePairs(flag string, vals []string) (map[string]string, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(vals))
	for _, v := range vals {
		k, val, ok := strings.Cut(v, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, herald.Invalid(flag, "want KEY=VALUE, got %q", v)
		}
		m[strings.TrimSpace(k)] = val
	}
	return m, nil
}

// leaf marks a command that does work: its errors are not usage errors.
func leaf(cmd *cobra.Command) *cobra.Command {
	cmd.SilenceUsage = true
	return cmd
}
