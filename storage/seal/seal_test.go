package seal_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/openomm/omm/storage/seal"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestSealAndOpen(t *testing.T) {
	ctx := context.Background()
	k1, err := seal.NewAESKeeper(bytes.Repeat([]byte{1}, seal.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	stored, err := seal.Seal(ctx, k1, []byte("ca private key"), "scep-ca-key:org_a")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(stored, []byte("ca private key")) || !seal.IsSealed(stored) {
		t.Fatalf("sealed value %q shows the plaintext or lacks the marker", stored)
	}
	got, sealed, err := seal.Open(ctx, k1, stored, "scep-ca-key:org_a")
	if err != nil || !sealed || string(got) != "ca private key" {
		t.Fatalf("Open = %q, %v, %v", got, sealed, err)
	}
	// Moved to another org's row, it does not open.
	if _, _, err := seal.Open(ctx, k1, stored, "scep-ca-key:org_b"); !errors.Is(err, seal.ErrOpen) {
		t.Errorf("opened under another label: %v", err)
	}
	// Another key does not open it; a rotated keeper does.
	k2, _ := seal.NewAESKeeper(bytes.Repeat([]byte{2}, seal.KeySize))
	if _, _, err := seal.Open(ctx, k2, stored, "scep-ca-key:org_a"); !errors.Is(err, seal.ErrOpen) {
		t.Errorf("opened with another key: %v", err)
	}
	rotated, _ := seal.NewAESKeeper(bytes.Repeat([]byte{2}, seal.KeySize), bytes.Repeat([]byte{1}, seal.KeySize))
	if got, _, err := seal.Open(ctx, rotated, stored, "scep-ca-key:org_a"); err != nil || string(got) != "ca private key" {
		t.Errorf("rotated keeper: %q, %v", got, err)
	}
	// A value stored before sealing reads as it is; without a keeper a
	// sealed one is an error.
	if got, sealed, err := seal.Open(ctx, k1, []byte{0x30, 0x82}, "x"); err != nil || sealed || !bytes.Equal(got, []byte{0x30, 0x82}) {
		t.Errorf("plain value: %q, %v, %v", got, sealed, err)
	}
	if _, _, err := seal.Open(ctx, nil, stored, "scep-ca-key:org_a"); !errors.Is(err, seal.ErrNoKeeper) {
		t.Errorf("no keeper: %v", err)
	}
	// Text values.
	s, err := seal.SealString(ctx, k1, "JBSWY3DPEHPK3PXP", "totp:org_a:u1")
	if err != nil || !seal.IsSealedString(s) {
		t.Fatal(s, err)
	}
	if got, _, err := seal.OpenString(ctx, k1, s, "totp:org_a:u1"); err != nil || got != "JBSWY3DPEHPK3PXP" {
		t.Errorf("OpenString = %q, %v", got, err)
	}
	if _, _, err := seal.OpenString(ctx, k1, s, "totp:org_a:u2"); !errors.Is(err, seal.ErrOpen) {
		t.Errorf("text opened for another user: %v", err)
	}
}

func TestKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secrets.key")
	k, err := seal.LoadOrCreateKeyFile(path, quiet)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 || st.Size() != seal.KeySize {
		t.Fatalf("key file: %v, %v", st, err)
	}
	sealed, _ := seal.Seal(context.Background(), k, []byte("x"), "l")
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	again, err := seal.LoadOrCreateKeyFile(path, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if got, _, err := seal.Open(context.Background(), again, sealed, "l"); err != nil || string(got) != "x" {
		t.Errorf("the same file's key: %q, %v", got, err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("a key file readable by others was left %v, want 0600", st.Mode().Perm())
	}
	if err := os.WriteFile(path, []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := seal.LoadOrCreateKeyFile(path, quiet); err == nil {
		t.Error("a malformed key file was accepted")
	}
}
