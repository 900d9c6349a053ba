package herald

import (
	"crypto/rand"
	"math/big"
)

// instanceIDLen characters of base36: 36^6 ≈ 2.2 billion namespaces.
const instanceIDLen = 6

// NewInstanceID returns a random candidate for a new database's instance id
// (Store.InstanceID): six lowercase base36 characters. A store inserts its
// candidate at the first open and keeps whichever insert came first.
func NewInstanceID() string {
	const digits = "0123456789abcdefghijklmnopqrstuvwxyz"
	b := make([]byte, instanceIDLen)
	for i := range b {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(digits))))
		if err != nil {
			panic(err) // crypto/rand's Reader does not fail (Go 1.24 on)
		}
		b[i] = digits[n.Int64()]
	}
	return string(b)
}
