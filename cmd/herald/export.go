package main

import (
	"bufio"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/heraldhq/herald/internal/progress"
)

func newCampaignsExportCmd() *cobra.Command {
	var bom bool
	cmd := &cobra.Command{
		Use:   "export ID",
		Short: "Write every recipient of a campaign as CSV to standard output",
		Long: `Write every recipient of a campaign as CSV to standard output, streamed
from the server: id, member_id, phone, state, channel (AT, or SMS/LMS when the
fallback delivered), result_code, result_text, msg_key, message_id, message
(the text as sent), fallback (the fallback leg sent, if any), attempts,
created_at, sent_at, updated_at (RFC 3339, UTC).

--bom starts the file with a UTF-8 byte order mark, so that Excel reads the
Korean text right, and keeps Excel from running cells as formulas (a cell
starting with = + - @ gets a leading apostrophe).

On a terminal, a progress bar on standard error shows rows, rate and ETA.
A broken transfer fails the command (exit status 1): the file is then
incomplete.`,
		Example: `  herald campaigns export 12 > results.csv
  herald campaigns export 12 --bom > results-excel.csv`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, id, err := campaignClient(cmd, args[0])
			if err != nil {
				return err
			}
			c, err := cl.GetCampaign(cmd.Context(), id)
			if err != nil {
				return err
			}
			body, err := cl.ExportRecipients(cmd.Context(), id, bom)
			if err != nil {
				return err
			}
			defer body.Close()
			var rows csvRows
			stop := showProgress(cmd.ErrOrStderr(), func(b *progress.Bar) {
				b.Draw(rows.n.Load(), int64(c.Total), "")
			}, "rows")
			start := time.Now()
			out := bufio.NewWriterSize(cmd.OutOrStdout(), 256<<10)
			_, err = io.Copy(out, io.TeeReader(body, &rows))
			if err == nil {
				err = out.Flush()
			}
			if stop(); err != nil {
				return fmt.Errorf("export of campaign %d broke off after %d rows: %w", id, rows.n.Load(), err)
			}
			if isTerminal(cmd.ErrOrStderr()) {
				fmt.Fprintf(cmd.ErrOrStderr(), "exported %d recipients of campaign %d in %s\n", rows.n.Load(), id,
					time.Since(start).Round(time.Millisecond))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&bom, "bom", false, "start with a UTF-8 byte order mark, for Excel")
	return leaf(cmd)
}

// csvRows counts CSV records as they stream by, the header excluded: line
// ends outside quoted fields (a message may hold line breaks).
type csvRows struct {
	n      atomic.Int64
	quoted bool
	header bool
}

func (c *csvRows) Write(p []byte) (int, error) {
	var n int64
	for _, b := range p {
		switch {
		case b == '"':
			c.quoted = !c.quoted // "" inside a field toggles twice
		case b == '\n' && !c.quoted:
			if c.header {
				n++
			} else {
				c.header = true
			}
		}
	}
	c.n.Add(n)
	return len(p), nil
}

// showProgress redraws a bar with draw every 200 ms on w while w is a
// terminal; the returned stop ends it (with a last draw). Not on a
// terminal, it shows nothing: what follows a pipe is not for people.
func showProgress(w io.Writer, draw func(*progress.Bar), unit string) (stop func()) {
	if !isTerminal(w) {
		return func() {}
	}
	bar := progress.NewBar(newPrinter(w))
	bar.Unit = unit
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			draw(bar)
			select {
			case <-done:
				draw(bar)
				bar.Done()
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}
