package template

import (
	"context"
	"fmt"

	herald "github.com/heraldhq/herald"
)

// AttributeIndex answers whether any member has an attribute; the stores
// implement it.
type AttributeIndex interface {
	HasMemberAttribute(ctx context.Context, name string) (bool, error)
}

// CheckCampaign requires an approved, valid template and a source for each
// of its variables: a campaign constant, a member field, an attribute the
// audience filter fixes, or (known only per member) another attribute.
func CheckCampaign(ctx context.Context, attrs AttributeIndex, t herald.Template, c herald.Campaign) error {
	if t.Status != herald.TemplateApproved {
		return herald.Invalid("templateCode", "template %q is %s; only approved templates can be sent", t.Code, t.Status)
	}
	if t.DiffersFromProvider() {
		return herald.Invalid("templateCode", "template %q differs from the provider's copy that Kakao inspected (herald templates sync shows the difference; --replace takes the provider's copy)", t.Code)
	}
	compiled, err := Compile(t)
	if err != nil {
		return herald.Invalid("templateCode", "template %q is not valid: %v", t.Code, err)
	}
	// Every member has these fields; the filter's attributes, every member
	// of this audience has. The values are placeholders: only presence counts.
	sample := herald.Member{ID: "-", Phone: "-", Name: "-", Attributes: c.Audience.Attributes}
	lookup := MemberLookup(sample, c.Variables)
	for _, name := range compiled.Vars() {
		if _, ok := lookup(name); ok {
			continue
		}
		has, err := attrs.HasMemberAttribute(ctx, name)
		if err != nil {
			return fmt.Errorf("check attribute %q: %w", name, err)
		}
		if !has {
			return herald.Invalid("variables."+name, "template %q needs #{%s}: it is not in variables, not a member field (id, name, phone) and no member has that attribute", t.Code, name)
		}
	}
	return nil
}
