package herald

import "testing"

func TestMessageValidate(t *testing.T) {
	m := Message{IdempotencyKey: " k-1 ", TemplateCode: "T", Phone: "+82 10-1234-5678", Variables: map[string]string{"a": "1", "b": "2"}}
	if err := m.Validate(); err != nil || m.Phone != "01012345678" || m.IdempotencyKey != "k-1" || m.RequestHash == "" {
		t.Fatalf("%v %+v", err, m)
	}
	same := Message{IdempotencyKey: "other", TemplateCode: "T", Phone: "010-1234-5678", Variables: map[string]string{"b": "2", "a": "1"}}
	if err := same.Validate(); err != nil || same.RequestHash != m.RequestHash {
		t.Fatalf("the same request hashes differently: %q %q", same.RequestHash, m.RequestHash)
	}
	diff := same
	diff.Variables = map[string]string{"a": "1", "b": "3"}
	if err := diff.Validate(); err != nil || diff.RequestHash == m.RequestHash {
		t.Fatal("another request hashes the same")
	}
	for _, bad := range []Message{
		{TemplateCode: "T", Phone: "01012345678"},                                     // no key
		{IdempotencyKey: "k", Phone: "01012345678"},                                   // no template
		{IdempotencyKey: "k", TemplateCode: "T"},                                      // nobody
		{IdempotencyKey: "k", TemplateCode: "T", Phone: "01012345678", MemberID: "m"}, // both
		{IdempotencyKey: "k\x01x", TemplateCode: "T", Phone: "01012345678"},           // control character
		{IdempotencyKey: "k", TemplateCode: "T", Phone: "12"},
	} {
		if err := bad.Validate(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func FuzzMessageValidate(f *testing.F) {
	f.Add("k", "T", "010-1234-5678", "", "name", "v")
	f.Add("", "T", "", "m1", "", "")
	f.Fuzz(func(t *testing.T, key, code, phone, member, vk, vv string) {
		m := Message{IdempotencyKey: key, TemplateCode: code, Phone: phone, MemberID: member, Variables: map[string]string{vk: vv}}
		if m.Validate() != nil {
			return
		}
		again := m
		if err := again.Validate(); err != nil || again.RequestHash != m.RequestHash || again.Phone != m.Phone {
			t.Fatalf("validating twice changed %+v to %+v (%v)", m, again, err)
		}
	})
}
