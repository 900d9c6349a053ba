package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/ingest"
)

func newReportsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "reports", Short: "Look after the delivery report intake"}
	cmd.AddCommand(newReplayQuarantineCmd())
	return cmd
}

// newReplayQuarantineCmd writes the reports the spool quarantined (poison
// records, docs/INGEST.md) to the database, once their fault is fixed.
func newReplayQuarantineCmd() *cobra.Command {
	var dsn, dir string
	cmd := &cobra.Command{
		Use:   "replay-quarantine",
		Short: "Store the reports the spool quarantined, once their fault is fixed; the serve owning the spool must be stopped",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd); err != nil {
				return err
			}
			if dir == "" {
				return herald.Invalid("report-spool-dir", "is required")
			}
			s, err := openStore(cmd.Context(), dsn)
			if err != nil {
				return err
			}
			defer s.Close()
			files, reports, err := ingest.ReplayQuarantine(cmd.Context(), dir, s, time.Now())
			cmd.Printf("%d quarantine files replayed, %d reports stored\n", files, reports)
			if err != nil {
				return fmt.Errorf("replay stopped; the files left stay in %s: %w", dir, err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dsn, "db", "sqlite:herald.db", "database: sqlite:PATH, postgres://USER@HOST/DB or mysql://USER:PASS@HOST:3306/DB")
	f.StringVar(&dir, "report-spool-dir", "", "serve's --report-spool-dir, holding the quarantine-*.log files")
	describeEnv(f)
	return cmd
}
