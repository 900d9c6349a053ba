package infobank

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestVerifySignatureAccepts(t *testing.T) {
	t.Parallel()
	secret := []byte("s3cret")
	now := time.UnixMilli(1743381600000)
	ms := strconv.FormatInt(now.UnixMilli(), 10)
	sec := strconv.FormatInt(now.Unix()-60, 10)
	rawMS, _ := hex.DecodeString(Sign(secret, ms))
	cases := map[string][2]string{
		"hex lower, ms":  {ms, Sign(secret, ms)},
		"hex upper, ms":  {ms, strings.ToUpper(Sign(secret, ms))},
		"base64, ms":     {ms, base64.StdEncoding.EncodeToString(rawMS)},
		"hex, seconds":   {sec, Sign(secret, sec)},
		"4 min 59 ahead": {strconv.FormatInt(now.Add(299*time.Second).UnixMilli(), 10), ""},
	}
	for name, c := range cases {
		sig := c[1]
		if sig == "" {
			sig = Sign(secret, c[0])
		}
		if err := VerifySignature(secret, c[0], sig, now); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestVerifySignatureRejects(t *testing.T) {
	t.Parallel()
	secret := []byte("s3cret")
	now := time.UnixMilli(1743381600000)
	ms := strconv.FormatInt(now.UnixMilli(), 10)
	old := strconv.FormatInt(now.Add(-301*time.Second).UnixMilli(), 10)
	cases := []struct {
		name, ts, sig string
		secret        []byte
		want          error
	}{
		{"no secret", ms, Sign(secret, ms), nil, ErrNoSecret},
		{"stale", old, Sign(secret, old), secret, ErrStaleTimestamp},
		{"not a number", "12ab", Sign(secret, "12ab"), secret, ErrBadTimestamp},
		{"signed", "+" + ms, Sign(secret, "+"+ms), secret, ErrBadTimestamp},
		{"empty", "", Sign(secret, ""), secret, ErrBadTimestamp},
		{"other secret", ms, Sign([]byte("other"), ms), secret, ErrBadSignature},
		{"other timestamp", ms, Sign(secret, ms+"0"), secret, ErrBadSignature},
		{"garbage", ms, "not a signature", secret, ErrSignatureFormat},
		{"short hex", ms, Sign(secret, ms)[:62], secret, ErrSignatureFormat},
	}
	for _, c := range cases {
		err := VerifySignature(c.secret, c.ts, c.sig, now)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
		if err != nil && (strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), c.sig)) {
			t.Errorf("%s: error %q reveals the secret or the signature", c.name, err)
		}
	}
}
