// Package seal protects the secrets the SDK stores and must read back —
// each org's generated SCEP CA private key, users' TOTP secrets — with a
// key kept outside the database, so that a copy of the database (a backup,
// a stolen file, a read-only SQL injection) does not hand them out.
//
// A [Keeper] seals and opens values; [AESKeeper] does it with AES-256-GCM
// and keys the host keeps in a file ([LoadOrCreateKeyFile], 0600) or
// anywhere else; an embedder with a KMS or HSM implements Keeper over it.
// Every value is sealed bound to a label that says what and whose it is
// ("scep-ca-key:org_acme"), so that a sealed value copied into another row
// does not open there.
//
// Stored values carry a marker ([Seal] and [SealString] add it), so that
// a value stored before sealing was configured is recognised as plain text
// and still read ([Open]); the services seal it on their next read.
package seal

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
)

// Keeper seals and opens secrets. Implementations must be safe for
// concurrent use. label is authenticated, not encrypted: Open with another
// label fails.
type Keeper interface {
	Seal(ctx context.Context, plaintext, label []byte) ([]byte, error)
	Open(ctx context.Context, sealed, label []byte) ([]byte, error)
}

// ErrOpen reports a sealed value that does not open: another key, another
// label, or a damaged value.
var ErrOpen = errors.New("seal: sealed value does not open")

// ErrNoKeeper reports a sealed value read where no Keeper is configured.
var ErrNoKeeper = errors.New("seal: the value is sealed and no key keeper is configured")

// marker starts every value Seal stores, and textMarker every value
// SealString stores; plain values of the SDK's secrets (DER, base32) never
// start with them.
var (
	marker     = []byte("omm-sealed-v1:")
	textMarker = "omm-sealed-v1:"
)

// IsSealed reports whether a stored value was sealed by Seal or SealString.
func IsSealed(stored []byte) bool { return bytes.HasPrefix(stored, marker) }

// Seal seals plaintext with k for label and returns the value to store.
func Seal(ctx context.Context, k Keeper, plaintext []byte, label string) ([]byte, error) {
	out, err := k.Seal(ctx, plaintext, []byte(label))
	if err != nil {
		return nil, fmt.Errorf("seal %s: %w", labelKind(label), err)
	}
	return append(append([]byte(nil), marker...), out...), nil
}

// Open returns the plaintext of a stored value: opened with k when it is
// sealed (sealed true), as it is when it was stored before sealing was
// configured. A sealed value without a keeper is ErrNoKeeper.
func Open(ctx context.Context, k Keeper, stored []byte, label string) (plaintext []byte, sealed bool, err error) {
	if !IsSealed(stored) {
		return stored, false, nil
	}
	if k == nil {
		return nil, true, ErrNoKeeper
	}
	out, err := k.Open(ctx, stored[len(marker):], []byte(label))
	if err != nil {
		return nil, true, fmt.Errorf("open %s: %w", labelKind(label), err)
	}
	return out, true, nil
}

// SealString is Seal for a text column: the sealed value base64url
// encoded after the marker.
func SealString(ctx context.Context, k Keeper, plaintext, label string) (string, error) {
	out, err := k.Seal(ctx, []byte(plaintext), []byte(label))
	if err != nil {
		return "", fmt.Errorf("seal %s: %w", labelKind(label), err)
	}
	return textMarker + base64.RawURLEncoding.EncodeToString(out), nil
}

// OpenString is Open for a value SealString stored.
func OpenString(ctx context.Context, k Keeper, stored, label string) (plaintext string, sealed bool, err error) {
	rest, ok := strings.CutPrefix(stored, textMarker)
	if !ok {
		return stored, false, nil
	}
	if k == nil {
		return "", true, ErrNoKeeper
	}
	raw, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return "", true, fmt.Errorf("open %s: %w", labelKind(label), ErrOpen)
	}
	out, err := k.Open(ctx, raw, []byte(label))
	if err != nil {
		return "", true, fmt.Errorf("open %s: %w", labelKind(label), err)
	}
	return string(out), true, nil
}

// IsSealedString reports whether a text value was sealed by SealString.
func IsSealedString(stored string) bool { return strings.HasPrefix(stored, textMarker) }

// labelKind is what a label names, without whose it is, for messages.
func labelKind(label string) string {
	kind, _, _ := strings.Cut(label, ":")
	return kind
}

// KeySize is the size of an AESKeeper key.
const KeySize = 32

// AESKeeper seals with AES-256-GCM. Each sealed value names the key that
// sealed it (a 4-byte ID), so that keys can be rotated: the first key
// seals, every key opens.
type AESKeeper struct {
	keys []aesKey
}

type aesKey struct {
	id   [4]byte
	aead cipher.AEAD
}

// NewAESKeeper returns a keeper over keys of KeySize bytes each; the first
// seals, all open.
func NewAESKeeper(keys ...[]byte) (*AESKeeper, error) {
	if len(keys) == 0 {
		return nil, errors.New("seal: no key")
	}
	k := &AESKeeper{}
	for _, key := range keys {
		if len(key) != KeySize {
			return nil, fmt.Errorf("seal: a key must be %d bytes, not %d", KeySize, len(key))
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(append([]byte("omm seal key id\x00"), key...))
		var id [4]byte
		copy(id[:], sum[:])
		k.keys = append(k.keys, aesKey{id: id, aead: aead})
	}
	return k, nil
}

// Seal implements Keeper: key ID, nonce, ciphertext and tag.
func (k *AESKeeper) Seal(_ context.Context, plaintext, label []byte) ([]byte, error) {
	key := k.keys[0]
	out := make([]byte, 4, 4+key.aead.NonceSize()+len(plaintext)+key.aead.Overhead())
	copy(out, key.id[:])
	nonce := make([]byte, key.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out = append(out, nonce...)
	return key.aead.Seal(out, nonce, plaintext, label), nil
}

// Open implements Keeper.
func (k *AESKeeper) Open(_ context.Context, sealed, label []byte) ([]byte, error) {
	if len(sealed) < 4 {
		return nil, ErrOpen
	}
	for _, key := range k.keys {
		if !bytes.Equal(sealed[:4], key.id[:]) {
			continue
		}
		rest := sealed[4:]
		if len(rest) < key.aead.NonceSize()+key.aead.Overhead() {
			return nil, ErrOpen
		}
		out, err := key.aead.Open(nil, rest[:key.aead.NonceSize()], rest[key.aead.NonceSize():], label)
		if err != nil {
			return nil, ErrOpen
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: sealed with a key this keeper does not hold", ErrOpen)
}

// LoadOrCreateKeyFile returns an AESKeeper over the key in path, creating
// the file (0600, a new random key) when it does not exist. A file that
// others may read is tightened to 0600 and logged: the key must not be
// readable by anyone the database's files are hidden from. Keep the file
// out of the database's backups; lose it and every sealed secret is gone.
func LoadOrCreateKeyFile(path string, log *slog.Logger) (*AESKeeper, error) {
	if log == nil {
		log = slog.Default()
	}
	key, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		key = make([]byte, KeySize)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) { // another process won the race
			return LoadOrCreateKeyFile(path, log)
		}
		if err != nil {
			return nil, fmt.Errorf("seal: create key file: %w", err)
		}
		if _, err := f.Write(key); err != nil {
			f.Close()
			return nil, fmt.Errorf("seal: write key file: %w", err)
		}
		if err := f.Close(); err != nil {
			return nil, fmt.Errorf("seal: write key file: %w", err)
		}
	case err != nil:
		return nil, fmt.Errorf("seal: read key file: %w", err)
	case len(key) != KeySize:
		return nil, fmt.Errorf("seal: key file %s holds %d bytes, want %d", path, len(key), KeySize)
	}
	if err := Tighten(path, 0o600, log); err != nil {
		return nil, err
	}
	return NewAESKeeper(key)
}

// Tighten makes sure that path, a file or directory holding secrets, is
// no more open than perm (0600 for a file, 0700 for a directory): looser
// permissions are tightened and logged as a warning. A path that does not
// exist is left alone.
func Tighten(path string, perm fs.FileMode, log *slog.Logger) error {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if st.Mode().Perm()&^perm == 0 {
		return nil
	}
	if err := os.Chmod(path, st.Mode().Perm()&perm); err != nil {
		return fmt.Errorf("tighten %s: %w", path, err)
	}
	if log != nil {
		log.Warn("tightened the permissions of a file holding secrets", "path", path, "was", st.Mode().Perm().String(), "now", (st.Mode().Perm() & perm).String())
	}
	return nil
}
