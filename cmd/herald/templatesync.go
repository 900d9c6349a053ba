package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/infobank"
	"github.com/heraldhq/herald/templatesync"
)

// syncConfig is what `herald templates sync` takes.
type syncConfig struct {
	DB          string
	ProviderURL string
	ProviderKey string
	SenderKey   string
	Timeout     time.Duration
	Replace     bool
}

func (c syncConfig) Validate() error {
	send := sendConfig{ProviderURL: c.ProviderURL, ProviderKey: c.ProviderKey}
	if c.ProviderURL == "" {
		return herald.Invalid("provider-url", "is required: the templates come from the provider")
	}
	if err := send.Validate(); err != nil {
		return err
	}
	if c.SenderKey == "" {
		return herald.Invalid("sender-key", "is required: templates are listed per sender key")
	}
	return nil
}

func newTemplatesSyncCmd() *cobra.Command {
	var cfg syncConfig
	cmd := &cobra.Command{
		Use:   "sync",
		Short: "Pull the sender key's templates from the provider, as Kakao inspected them, into the database",
		Long: `Pull every AlimTalk template of the sender key from the provider's template
API with its inspection state (REG registered, REQ under inspection, APR
approved, REJ rejected) and store it exactly as the provider holds it: text,
title and buttons byte for byte. Only APR templates can be sent.

It prints what changed since the last sync, with a diff for a changed text.
A template registered by hand (herald templates add) whose content differs
from the provider's copy is not overwritten: it is marked, campaigns on it
are refused, the difference is shown, and the command exits with status 1.
--replace takes the provider's copy instead.

It writes to the database directly (--db), like herald migrate; serve can
run it periodically with --template-sync-interval.`,
		Example: `  herald templates sync --db sqlite:herald.db --provider-url https://mars.ibapi.kr \
    --provider-key "$BIZGO_API_KEY" --sender-key "$KAKAO_SENDER_KEY"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd); err != nil {
				return err
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			res, err := runTemplateSync(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			if err := output(cmd, res, func(w io.Writer) { printSync(w, res) }); err != nil {
				return err
			}
			if !wantJSON(cmd) {
				printDiffs(cmd.OutOrStdout(), res)
			}
			if res.Count(templatesync.Differs) > 0 {
				return exitError(1)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DB, "db", "sqlite:herald.db", "database: sqlite:PATH, postgres://USER@HOST/DB or mysql://USER:PASS@HOST:3306/DB")
	addProviderAPIFlags(f, &cfg.ProviderURL, &cfg.ProviderKey)
	f.StringVar(&cfg.SenderKey, "sender-key", "", "Kakao sender key whose templates to pull")
	f.DurationVar(&cfg.Timeout, "provider-timeout", infobank.DefaultTimeout, "longest wait for one provider answer")
	f.BoolVar(&cfg.Replace, "replace", false, "overwrite templates registered by hand whose content differs from the provider's copy")
	describeEnv(f)
	return leaf(cmd)
}

func runTemplateSync(ctx context.Context, cfg syncConfig) (templatesync.Result, error) {
	store, err := openStore(ctx, cfg.DB)
	if err != nil {
		return templatesync.Result{}, err
	}
	defer store.Close()
	client, err := infobank.New(infobank.Config{BaseURL: cfg.ProviderURL, APIKey: cfg.ProviderKey, Timeout: cfg.Timeout, MaxConns: 2,
		APILimiter: infobank.NewAPILimiter(DefaultAPIRate)})
	if err != nil {
		return templatesync.Result{}, err
	}
	defer client.Close()
	return templatesync.Sync(ctx, client, store, templatesync.Options{SenderKey: cfg.SenderKey, Replace: cfg.Replace})
}

func printSync(w io.Writer, res templatesync.Result) {
	row(w, "CODE", "CHANGE", "INSPECTION")
	for _, c := range res.Changes {
		insp := c.To
		if c.From != "" && c.From != c.To {
			insp = c.From + " → " + orDash(c.To)
		}
		row(w, c.Code, c.Kind, orDash(insp))
	}
}

// printDiffs shows each content difference after the table.
func printDiffs(w io.Writer, res templatesync.Result) {
	for _, c := range res.Changes {
		if c.Diff == "" {
			continue
		}
		what := "changed at the provider since the last sync"
		switch c.Kind {
		case templatesync.Differs:
			what = "herald's copy (-) differs from the provider's (+): refused; fix it at the provider or run with --replace"
		case templatesync.Replaced:
			what = "herald's copy (-) replaced by the provider's (+)"
		}
		fmt.Fprintf(w, "\n%s: %s\n%s", c.Code, what, c.Diff)
	}
}

// startTemplateSync runs a sync every interval until the returned stop is
// called (client shares the process's non-send limiter).
func startTemplateSync(ctx context.Context, interval time.Duration, client *infobank.Client, store herald.Store, senderKey string, log *slog.Logger) func() {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			res, err := templatesync.Sync(ctx, client, store, templatesync.Options{SenderKey: senderKey})
			switch {
			case ctx.Err() != nil:
				return
			case err != nil:
				log.Warn("template sync failed", "component", "templatesync", "err", err)
			default:
				logSync(log, res)
			}
			t := time.NewTimer(interval)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

func logSync(log *slog.Logger, res templatesync.Result) {
	var changed []string
	for _, c := range res.Changes {
		if c.Kind != templatesync.Unchanged {
			changed = append(changed, c.Code+" "+c.Kind)
		}
		if c.Kind == templatesync.Differs {
			log.Error("template differs from the provider's copy: campaigns on it are refused", "component", "templatesync",
				"code", c.Code, "diff", c.Diff)
		}
	}
	log.Info("templates synced", "component", "templatesync", "templates", len(res.Changes), "changes", strings.Join(changed, ", "))
}
