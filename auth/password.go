package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id cost parameters. They are encoded with every hash, so
// that they can be raised later: a hash made with lower parameters still
// verifies, and is replaced at the next successful sign-in.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
}

// Bounds on parameters. The floor is OWASP's minimum for argon2id (19 MiB,
// 2 passes); the ceilings keep a corrupted or hostile stored hash from
// making one verification take the machine down.
const (
	MinMemory  = 19 * 1024
	MinTime    = 2
	maxMemory  = 4 * 1024 * 1024 // 4 GiB
	maxTime    = 64
	maxThreads = 64

	saltLen = 16
	keyLen  = 32

	// MaxPasswordLen bounds passwords in bytes; longer input is refused
	// before hashing.
	MaxPasswordLen = 1024
	// MinPasswordLen is the shortest password the built-in directory sets.
	MinPasswordLen = 8
)

// DefaultParams are the parameters used unless configured otherwise:
// 19 MiB, 2 passes, 1 thread.
func DefaultParams() Params { return Params{Memory: MinMemory, Time: MinTime, Threads: 1} }

// Validate reports whether p meets the floor (and stays under the ceilings).
func (p Params) Validate() error {
	if err := p.bounded(); err != nil {
		return err
	}
	if p.Memory < MinMemory || p.Time < MinTime {
		return fmt.Errorf("%w: argon2id parameters m=%d KiB, t=%d are below the minimum m=%d KiB, t=%d",
			ErrBadRequest, p.Memory, p.Time, MinMemory, MinTime)
	}
	return nil
}

func (p Params) bounded() error {
	if p.Memory == 0 || p.Memory > maxMemory || p.Time == 0 || p.Time > maxTime || p.Threads == 0 || p.Threads > maxThreads {
		return fmt.Errorf("%w: argon2id parameters m=%d KiB, t=%d, p=%d out of range", ErrBadRequest, p.Memory, p.Time, p.Threads)
	}
	return nil
}

// hash returns the encoded argon2id hash of secret with a fresh salt, in the
// usual PHC form: $argon2id$v=19$m=…,t=…,p=…$salt$key.
func (p Params) hash(secret string) string {
	salt := make([]byte, saltLen)
	rand.Read(salt)
	key := argon2.IDKey([]byte(secret), salt, p.Time, p.Memory, p.Threads, keyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// decoded is a parsed hash.
type decoded struct {
	params    Params
	salt, key []byte
}

func decodeHash(encoded string) (decoded, error) {
	var d decoded
	bad := func(why string) (decoded, error) {
		return decoded{}, fmt.Errorf("%w: stored hash: %s", ErrBadRequest, why)
	}
	if len(encoded) > MaxHashLen {
		return bad("too long")
	}
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return bad("not an argon2id hash")
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return bad("unsupported version")
	}
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, _ := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return bad("bad parameter " + k)
		}
		switch k {
		case "m":
			d.params.Memory = uint32(n)
		case "t":
			d.params.Time = uint32(n)
		case "p":
			if n > maxThreads {
				return bad("too many threads")
			}
			d.params.Threads = uint8(n)
		default:
			return bad("unknown parameter " + k)
		}
	}
	if err := d.params.bounded(); err != nil {
		return decoded{}, err
	}
	var err error
	if d.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil || len(d.salt) < 8 {
		return bad("bad salt")
	}
	if d.key, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(d.key) < 16 {
		return bad("bad key")
	}
	return d, nil
}

// verify reports whether secret matches the encoded hash, in time that does
// not depend on where they differ, and whether the hash was made with
// parameters weaker than p (so that it should be replaced).
func (p Params) verify(encoded, secret string) (ok, outdated bool, err error) {
	d, err := decodeHash(encoded)
	if err != nil {
		return false, false, err
	}
	key := argon2.IDKey([]byte(secret), d.salt, d.params.Time, d.params.Memory, d.params.Threads, uint32(len(d.key)))
	ok = subtle.ConstantTimeCompare(key, d.key) == 1
	outdated = d.params.Memory < p.Memory || d.params.Time < p.Time || d.params.Threads < p.Threads || len(d.key) < keyLen
	return ok, outdated, nil
}

// slots bounds how many argon2id computations run at once. Each holds
// Params.Memory of RAM for its duration, so a burst of sign-ins queues here
// instead of exhausting memory.
type slots chan struct{}

// run calls fn once a slot is free, or gives up when ctx ends.
func (s slots) run(ctx context.Context, fn func()) error {
	select {
	case s <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("waiting to hash: %w", ctx.Err())
	}
	defer func() { <-s }()
	fn()
	return nil
}
