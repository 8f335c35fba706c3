package profile

import (
	"crypto/sha1"
	"fmt"
	"strings"
)

// uuidNamespace is the RFC 9562 name space for UUIDs this package derives.
// It was generated once at random and must never change: changing it would
// give every profile new UUIDs and break replacement on devices.
const uuidNamespace = "\x6f\x0d\x2c\x51\x8e\x3a\x4b\x7e\x9c\x41\x25\xd0\x13\x7a\xb8\x62"

// nameUUID returns the version 5 (SHA-1, name-based) UUID for the given
// name parts in our name space, in the upper-case form Apple tools write.
// Parts are joined with a NUL so ("a.b", "c") and ("a", "b.c") differ.
func nameUUID(parts ...string) string {
	h := sha1.New()
	h.Write([]byte(uuidNamespace))
	h.Write([]byte(strings.Join(parts, "\x00")))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50 // version 5
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return strings.ToUpper(fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16]))
}
