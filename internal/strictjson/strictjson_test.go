package strictjson

import (
	"errors"
	"strings"
	"testing"
	"testing/iotest"

	herald "github.com/heraldhq/herald"
)

func TestDecodeNamesTheField(t *testing.T) {
	t.Parallel()
	var v struct {
		N int `json:"n"`
	}
	cases := map[string]struct{ field, msg string }{
		`{"n":"x"}`:  {"n", "must be a JSON number"},
		`{"m":1}`:    {"m", `unknown field "m"`},
		`{"n":1} {}`: {"", "after"},
		`{"n":`:      {"", "truncated"},
		``:           {"", "empty"},
		`{"n":1,}`:   {"", "malformed JSON at byte"},
	}
	for body, want := range cases {
		err := Decode(strings.NewReader(body), &v, "data after")
		var inv *herald.InvalidError
		if !errors.As(err, &inv) || inv.Field != want.field || !strings.Contains(inv.Message, want.msg) {
			t.Errorf("%q: err = %v, want field %q and %q", body, err, want.field, want.msg)
		}
	}
	if err := Decode(strings.NewReader(`{"n":2}`), &v, "x"); err != nil || v.N != 2 {
		t.Fatalf("n = %d, err = %v", v.N, err)
	}
}

func TestDecodePassesReadErrors(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	var v map[string]any
	err := Decode(iotest.ErrReader(boom), &v, "x")
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the read error", err)
	}
}
