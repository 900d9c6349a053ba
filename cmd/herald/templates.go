package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	herald "github.com/heraldhq/herald"
)

func newTemplatesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "templates",
		Short: "Register, list and sync (from the provider) AlimTalk templates",
	}
	addClientFlags(cmd)
	cmd.AddCommand(newTemplatesAddCmd(), newTemplatesListCmd(), newTemplatesShowCmd(), newTemplatesSyncCmd())
	return cmd
}

func newTemplatesAddCmd() *cobra.Command {
	var t herald.Template
	var buttons, status string
	cmd := &cobra.Command{
		Use:   "add [FILE.json]",
		Short: "Register a template, from flags or from a JSON file",
		Long: `Register a template as Kakao approved it: the code, the sender key and the
text with its #{variable} slots, byte for byte.

Either give the flags, or FILE.json holding {"code", "senderKey", "text",
"title", "buttons": [{"type", "name", "urlMobile", …}], "status"}.
The status defaults to approved.`,
		Example: `  herald templates add --code WELCOME_1 --sender-key KEY --text '#{name}님, 환영합니다.'
  herald templates add --code COUPON_1 --sender-key KEY --text "$(cat coupon.txt)" \
    --buttons '[{"type":"WL","name":"쿠폰 보기","urlMobile":"https://example.com/c"}]'
  herald templates add welcome.json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if cmd.Flags().NFlag() > countClientFlags(cmd) {
					return herald.Invalid("FILE", "give either FILE.json or the template flags, not both")
				}
				if err := readTemplateFile(args[0], &t); err != nil {
					return err
				}
			} else if err := templateFromFlags(&t, buttons, status); err != nil {
				return err
			}
			return addTemplate(cmd, t)
		},
	}
	f := cmd.Flags()
	f.StringVar(&t.Code, "code", "", "template code")
	f.StringVar(&t.SenderKey, "sender-key", "", "sender (channel) key the template belongs to")
	f.StringVar(&t.Text, "text", "", "template text with #{variable} slots")
	f.StringVar(&t.Title, "title", "", "emphasis title, if the template has one")
	f.StringVar(&buttons, "buttons", "", `buttons as a JSON array: [{"type":"WL","name":"…","urlMobile":"https://…"}]`)
	f.StringVar(&status, "status", "", "approved (default), draft or rejected")
	return leaf(cmd)
}

// countClientFlags counts the shared flags given, which may go with a file.
func countClientFlags(cmd *cobra.Command) int {
	n := 0
	for _, name := range []string{"server", "token", "json"} {
		if f := cmd.Flag(name); f != nil && f.Changed {
			n++
		}
	}
	return n
}

func templateFromFlags(t *herald.Template, buttons, status string) error {
	t.Status = herald.TemplateStatus(status)
	if buttons == "" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(buttons)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t.Buttons); err != nil {
		return herald.Invalid("buttons", "want a JSON array of buttons: %v", err)
	}
	return nil
}

func readTemplateFile(path string, t *herald.Template) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(t); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func addTemplate(cmd *cobra.Command, t herald.Template) error {
	c, err := clientFrom(cmd)
	if err != nil {
		return err
	}
	t, err = c.CreateTemplate(cmd.Context(), t)
	if err != nil {
		return err
	}
	return output(cmd, t, func(w io.Writer) { printTemplate(w, t) })
}

func newTemplatesListCmd() *cobra.Command {
	return leaf(&cobra.Command{
		Use:   "list",
		Short: "List templates",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := clientFrom(cmd)
			if err != nil {
				return err
			}
			ts, err := c.ListTemplates(cmd.Context())
			if err != nil {
				return err
			}
			return output(cmd, ts, func(w io.Writer) {
				row(w, "CODE", "STATUS", "INSPECTION", "SENDER KEY", "BUTTONS", "SYNCED", "TEXT")
				for _, t := range ts {
					insp := orDash(t.ProviderStatus)
					if t.DiffersFromProvider() {
						insp += " (differs)"
					}
					row(w, t.Code, t.Status, insp, t.SenderKey, len(t.Buttons), syncedAt(t), cell(t.Text, 50))
				}
			})
		},
	})
}

func newTemplatesShowCmd() *cobra.Command {
	return leaf(&cobra.Command{
		Use:   "show CODE",
		Short: "Show one template in full",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := clientFrom(cmd)
			if err != nil {
				return err
			}
			t, err := c.GetTemplate(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return output(cmd, t, func(w io.Writer) { printTemplate(w, t) })
		},
	})
}

func printTemplate(w io.Writer, t herald.Template) {
	row(w, "code", t.Code)
	row(w, "status", t.Status)
	row(w, "sender key", t.SenderKey)
	row(w, "created", fmtTime(t.CreatedAt))
	if !t.SyncedAt.IsZero() {
		row(w, "inspection", t.ProviderStatus)
		row(w, "synced", fmtTime(t.SyncedAt))
		if t.DiffersFromProvider() {
			row(w, "provider's copy", "DIFFERS: campaigns refused (herald templates sync shows the diff)")
		}
	}
	if t.Title != "" {
		row(w, "title", t.Title)
	}
	for i, b := range t.Buttons {
		row(w, fmt.Sprintf("button %d", i+1), fmt.Sprintf("%s %q %s", b.Type, b.Name, b.URLMobile))
	}
	// The text last and verbatim: it must match Kakao's copy byte for byte.
	fmt.Fprintf(w, "text\n%s\n", t.Text)
}

func syncedAt(t herald.Template) string {
	if t.SyncedAt.IsZero() {
		return "never"
	}
	return fmtTime(t.SyncedAt)
}
