package infobank

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strconv"
	"time"
)

// MaxSkew is how far a webhook timestamp may be from now (replay window).
const MaxSkew = 5 * time.Minute

// Signature errors. They never include the secret or the signature.
var (
	ErrNoSecret        = errors.New("webhook signature: no secret configured")
	ErrBadTimestamp    = errors.New("webhook signature: timestamp is not epoch seconds or milliseconds")
	ErrStaleTimestamp  = errors.New("webhook signature: timestamp outside the 5-minute window")
	ErrSignatureFormat = errors.New("webhook signature: neither hex nor base64 of a SHA-256 HMAC")
	ErrBadSignature    = errors.New("webhook signature: does not match")
)

// Sign returns the lowercase hex HMAC-SHA256 of timestamp under secret, as
// the provider sends it in X-IB-Signature.
func Sign(secret []byte, timestamp string) string {
	return hex.EncodeToString(mac(secret, timestamp))
}

// VerifySignature checks an X-IB-Timestamp / X-IB-Signature pair. The
// provider has not said how it encodes the signature, so hex in any case
// and standard base64 are both accepted; the timestamp may be epoch
// milliseconds (13 digits or more) or seconds.
func VerifySignature(secret []byte, timestamp, signature string, now time.Time) error {
	if len(secret) == 0 {
		return ErrNoSecret
	}
	at, err := parseEpoch(timestamp)
	if err != nil {
		return err
	}
	if d := now.Sub(at); d > MaxSkew || d < -MaxSkew {
		return ErrStaleTimestamp
	}
	got, err := decodeSignature(signature)
	if err != nil {
		return err
	}
	if !hmac.Equal(got, mac(secret, timestamp)) {
		return ErrBadSignature
	}
	return nil
}

func mac(secret []byte, timestamp string) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(timestamp))
	return h.Sum(nil)
}

// parseEpoch reads digits only: epoch ms when 13 digits or more, else seconds.
func parseEpoch(s string) (time.Time, error) {
	if s == "" || len(s) > 19 || s[0] == '+' || s[0] == '-' {
		return time.Time{}, ErrBadTimestamp
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, ErrBadTimestamp
	}
	if len(s) >= 13 {
		return time.UnixMilli(n), nil
	}
	return time.Unix(n, 0), nil
}

// decodeSignature accepts 64 hex digits (any case) or standard base64 of
// the 32-byte MAC.
func decodeSignature(s string) ([]byte, error) {
	if len(s) == 2*sha256.Size {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != sha256.Size {
		return nil, ErrSignatureFormat
	}
	return b, nil
}
