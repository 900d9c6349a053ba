// Package templatesync pulls a sender key's AlimTalk templates from the
// provider (docs/PROVIDER.md §6) and stores them exactly as Kakao inspected
// them: text, title and buttons byte for byte, with the inspection state
// (only APR templates are approved in herald). It reports what changed
// since the last sync, with a diff of the content, and refuses to
// overwrite a template registered by hand whose content differs from the
// provider's copy: that template cannot be sent until an operator takes
// the provider's copy (Options.Replace) or fixes it at the provider.
package templatesync

import (
	"context"
	"fmt"
	"slices"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/infobank"
)

// Provider lists a sender key's templates; *infobank.Client implements it.
type Provider interface {
	ListTemplates(ctx context.Context, senderKey string) ([]infobank.ProviderTemplate, error)
}

// TemplateStore is the part of herald.Store the sync uses.
type TemplateStore interface {
	ListTemplates(ctx context.Context) ([]herald.Template, error)
	SaveTemplate(ctx context.Context, t herald.Template) (herald.Template, error)
}

// Options of one sync.
type Options struct {
	SenderKey string
	// Replace overwrites a template registered by hand whose content
	// differs from the provider's copy; without it the template is kept,
	// marked as differing (it cannot be sent), and the diff reported.
	Replace bool
	Now     func() time.Time
}

// Kinds of Change.
const (
	Added     = "added"     // new at the provider
	Status    = "status"    // inspection state changed (REQ → APR, say)
	Content   = "content"   // the provider's copy changed (text, title or buttons)
	Adopted   = "adopted"   // a template registered by hand matches the provider's copy: now synced
	Replaced  = "replaced"  // a differing template registered by hand took the provider's copy (Replace)
	Differs   = "differs"   // a template registered by hand differs from the provider's copy: refused
	Gone      = "gone"      // synced before, no longer at the provider: no longer sendable
	Unchanged = "unchanged" // nothing new
)

// Change is what one sync did to one template.
type Change struct {
	Code string `json:"code"`
	Kind string `json:"change"`
	// From and To are the inspection states before and after ("" when
	// never synced or gone).
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	// Diff shows the content difference, "-" herald's copy, "+" the
	// provider's (for Content, Replaced and Differs).
	Diff string `json:"diff,omitempty"`
}

// Result lists a sync's changes, by code.
type Result struct {
	SenderKey string   `json:"senderKey"`
	At        string   `json:"at"`
	Changes   []Change `json:"changes"`
}

// Count is the number of changes of kind.
func (r Result) Count(kind string) int {
	n := 0
	for _, c := range r.Changes {
		if c.Kind == kind {
			n++
		}
	}
	return n
}

// Sync pulls the templates of opt.SenderKey and stores them.
func Sync(ctx context.Context, p Provider, st TemplateStore, opt Options) (Result, error) {
	if opt.SenderKey == "" {
		return Result{}, herald.Invalid("sender-key", "is required: templates are listed per sender key")
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	remote, err := p.ListTemplates(ctx, opt.SenderKey)
	if err != nil {
		return Result{}, err
	}
	locals, err := st.ListTemplates(ctx)
	if err != nil {
		return Result{}, err
	}
	now := opt.Now().UTC().Truncate(time.Millisecond)
	byCode := make(map[string]herald.Template, len(locals))
	for _, t := range locals {
		byCode[t.Code] = t
	}
	res := Result{SenderKey: opt.SenderKey, At: now.Format(time.RFC3339)}
	seen := map[string]bool{}
	for _, pt := range remote {
		seen[pt.Code] = true
		c, save, ok := decide(pt, byCode, opt.Replace, now)
		if ok {
			if _, err := st.SaveTemplate(ctx, save); err != nil {
				return res, fmt.Errorf("save template %q: %w", pt.Code, err)
			}
		}
		res.Changes = append(res.Changes, c)
	}
	for _, t := range locals {
		if seen[t.Code] || t.SyncedAt.IsZero() || t.SenderKey != opt.SenderKey || t.ProviderStatus == "" {
			continue
		}
		// Synced before, gone now (deleted at the provider): not sendable.
		from := t.ProviderStatus
		t.Status, t.ProviderStatus, t.SyncedAt = herald.TemplateDraft, "", now
		if _, err := st.SaveTemplate(ctx, t); err != nil {
			return res, fmt.Errorf("save template %q: %w", t.Code, err)
		}
		res.Changes = append(res.Changes, Change{Code: t.Code, Kind: Gone, From: from})
	}
	slices.SortFunc(res.Changes, func(a, b Change) int {
		if a.Code < b.Code {
			return -1
		}
		if a.Code > b.Code {
			return 1
		}
		return 0
	})
	return res, nil
}

// decide works out the change for one provider template and the template
// to save (ok false: nothing to write).
func decide(pt infobank.ProviderTemplate, byCode map[string]herald.Template, replace bool, now time.Time) (Change, herald.Template, bool) {
	copy := pt.Template()
	copy.ProviderStatus, copy.SyncedAt, copy.CreatedAt = pt.Inspection, now, now
	copy.ProviderHash = copy.ContentHash()
	local, ok := byCode[pt.Code]
	c := Change{Code: pt.Code, To: pt.Inspection}
	if !ok {
		c.Kind = Added
		return c, copy, true
	}
	c.From = local.ProviderStatus
	copy.CreatedAt = local.CreatedAt
	sameContent := local.ContentHash() == copy.ProviderHash
	// A template tracks the provider when the last sync wrote it (its
	// content is that sync's copy); otherwise it was registered by hand,
	// or kept as differing, and is not overwritten without Replace.
	tracks := !local.SyncedAt.IsZero() && local.ProviderHash == local.ContentHash()
	switch {
	case sameContent && local.SyncedAt.IsZero():
		c.Kind = Adopted
	case sameContent && local.ProviderStatus == pt.Inspection && local.Status == copy.Status && local.ProviderHash == copy.ProviderHash:
		c.Kind = Unchanged
		return c, herald.Template{}, false
	case sameContent:
		c.Kind = Status
	case tracks:
		c.Kind, c.Diff = Content, Diff(local, copy)
	case replace:
		c.Kind, c.Diff = Replaced, Diff(local, copy)
	default:
		// Keep herald's copy, but record the provider's: the campaign check
		// refuses a template whose content differs from it.
		c.Kind, c.Diff = Differs, Diff(local, copy)
		kept := local
		kept.ProviderStatus, kept.ProviderHash, kept.SyncedAt = pt.Inspection, copy.ProviderHash, now
		if pt.Status() != herald.TemplateApproved {
			kept.Status = pt.Status()
		}
		return c, kept, true
	}
	return c, copy, true
}
