package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	herald "github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/internal/progress"
)

func newMembersCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "members",
		Short: "Import, show and withdraw members through the admin API",
	}
	addClientFlags(cmd)
	cmd.AddCommand(newMembersImportCmd(), newMembersGetCmd(), newMembersWithdrawCmd())
	return cmd
}

func newMembersImportCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Upsert members from a CSV or NDJSON file, streamed",
		Long: `Upsert members by id from FILE, streamed to the server.

CSV: a header row naming id and phone, optionally name and status; every
other column becomes an attribute (empty cells are left out).
NDJSON (.ndjson, .jsonl): one {"id","phone","name","status","attributes"}
object per line.

Bad rows are reported with their line and skipped; the good rows are kept.
When an id appears twice, the last row wins. The command fails when any row
was rejected, after printing the report. FILE "-" reads standard input and
needs --format.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return importMembers(cmd, args[0], format)
		},
	}
	cmd.Flags().StringVar(&format, "format", "", "csv or ndjson (default: from the file extension)")
	return leaf(cmd)
}

func importMembers(cmd *cobra.Command, path, format string) error {
	ct, err := importContentType(path, format)
	if err != nil {
		return err
	}
	c, err := clientFrom(cmd)
	if err != nil {
		return err
	}
	var r io.Reader = cmd.InOrStdin()
	var size int64 // 0: unknown (standard input)
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			size = st.Size()
		}
		r = f
	}
	read := &readCounter{r: r}
	stop := showProgress(cmd.ErrOrStderr(), func(b *progress.Bar) { read.draw(b, size, ct == "text/csv") }, "")
	res, err := c.ImportMembers(cmd.Context(), read, ct)
	stop()
	if err != nil {
		return fmt.Errorf("import %s: %w", path, err)
	}
	if err := output(cmd, res, func(w io.Writer) { printImport(w, res) }); err != nil {
		return err
	}
	if res.Rejected > 0 {
		return fmt.Errorf("%d of %d rows were rejected", res.Rejected, res.Rows)
	}
	return nil
}

func importContentType(path, format string) (string, error) {
	if format == "" {
		switch strings.ToLower(filepath.Ext(path)) {
		case ".csv":
			format = "csv"
		case ".ndjson", ".jsonl":
			format = "ndjson"
		}
	}
	switch format {
	case "csv":
		return "text/csv", nil
	case "ndjson", "jsonl":
		return "application/x-ndjson", nil
	case "":
		return "", herald.Invalid("format", "cannot tell the format of %q: name it .csv, .ndjson or .jsonl, or pass --format", path)
	}
	return "", herald.Invalid("format", "want csv or ndjson, got %q", format)
}

func printImport(w io.Writer, res heraldhttp.ImportResult) {
	row(w, "rows", res.Rows)
	row(w, "inserted", res.Inserted)
	row(w, "updated", res.Updated)
	row(w, "rejected", res.Rejected)
	row(w, "duplicates", res.Duplicates)
	printRowErrors(w, "ERROR", res.Errors, res.Rejected, "rejected rows")
	printRowErrors(w, "DUPLICATE", res.Warnings, res.Duplicates, "duplicates")
}

func printRowErrors(w io.Writer, title string, list []heraldhttp.RowError, total int, what string) {
	if len(list) == 0 {
		return
	}
	fmt.Fprintln(w)
	row(w, "LINE", "FIELD", title)
	for _, e := range list {
		row(w, e.Line, orDash(e.Field), cell(e.Message, 100))
	}
	if total > len(list) {
		fmt.Fprintf(w, "(the first %d of %d %s)\n", len(list), total, what)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newMembersGetCmd() *cobra.Command {
	return newMemberCmd("get ID", "Show one member", (*heraldhttp.Client).GetMember)
}

func newMembersWithdrawCmd() *cobra.Command {
	return newMemberCmd("withdraw ID", "Mark a member withdrawn: no campaign sends to them again", (*heraldhttp.Client).WithdrawMember)
}

// newMemberCmd is a command that makes one call on the member named by its
// argument and prints the member.
func newMemberCmd(use, short string, call func(*heraldhttp.Client, context.Context, string) (herald.Member, error)) *cobra.Command {
	return leaf(&cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := clientFrom(cmd)
			if err != nil {
				return err
			}
			m, err := call(c, cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return output(cmd, m, func(w io.Writer) { printMember(w, m) })
		},
	})
}

func printMember(w io.Writer, m herald.Member) {
	row(w, "id", m.ID)
	row(w, "phone", m.Phone)
	row(w, "name", m.Name)
	row(w, "status", m.Status)
	row(w, "attributes", orDash(pairs(m.Attributes)))
	row(w, "updated", fmtTime(m.UpdatedAt))
}

// readCounter counts the bytes and lines of an upload as the client reads
// them, for the import's progress bar.
type readCounter struct {
	r            io.Reader
	bytes, lines atomic.Int64
	start        time.Time
	once         sync.Once
}

func (c *readCounter) Read(p []byte) (int, error) {
	c.once.Do(func() { c.start = time.Now() })
	n, err := c.r.Read(p)
	c.bytes.Add(int64(n))
	c.lines.Add(int64(bytes.Count(p[:n], []byte{'\n'})))
	return n, err
}

// draw shows bytes sent of size, with the rows (lines, less a CSV header)
// and their rate since the start.
func (c *readCounter) draw(b *progress.Bar, size int64, header bool) {
	b.Amount = progress.Bytes
	rows := c.lines.Load()
	if header && rows > 0 {
		rows--
	}
	extra := fmt.Sprintf("%d rows", rows)
	c.once.Do(func() { c.start = time.Now() })
	if s := time.Since(c.start).Seconds(); s > 0 {
		extra += fmt.Sprintf(" (%.0f rows/s)", float64(rows)/s)
	}
	b.Draw(c.bytes.Load(), size, extra)
}
