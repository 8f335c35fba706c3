package auth_test

import (
	"errors"
	"testing"

	"golang.org/x/crypto/argon2"

	"github.com/openomm/omm/auth"
)

// The benchmarks use the production argon2id parameters (19 MiB, 2 passes,
// 1 thread): password and PIN checks are deliberately slow, and these
// figures say how slow.

func BenchmarkPasswordVerify(b *testing.B) {
	e := newEnv(b)
	dir, err := auth.NewLocalDirectory(e.store, auth.WithClock(e.clock.Now))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := dir.CreateUser(b.Context(), auth.User{Org: e.acme.ID, Username: "dora"}, "dora-password-1", "admin:root"); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name, username, password string
		want                     error
	}{
		{"right", "dora", "dora-password-1", nil},
		{"wrong", "dora", "dora-password-2", auth.ErrInvalidCredentials},
		{"unknown-user", "nobody", "dora-password-1", auth.ErrInvalidCredentials},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := dir.Authenticate(b.Context(), e.acme.ID, c.username, c.password); !errors.Is(err, c.want) && err != c.want {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkPINVerify(b *testing.B) {
	e := newEnv(b, auth.WithPINParams(auth.DefaultParams()))
	tok := e.signIn("acme", "bob", bobPassword).Token
	if _, err := e.svc.SetPIN(b.Context(), tok, "4812", "4812"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.svc.VerifyPIN(b.Context(), tok, "4812"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSignIn is a whole password sign-in on the memory store: site
// resolution, throttle check, password verification, session creation.
func BenchmarkSignIn(b *testing.B) {
	e := newEnv(b)
	dir, err := auth.NewLocalDirectory(e.store, auth.WithClock(e.clock.Now))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := dir.CreateUser(b.Context(), auth.User{Org: e.acme.ID, Username: "dora"}, "dora-password-1", "admin:root"); err != nil {
		b.Fatal(err)
	}
	svc, err := auth.New(e.store, dir, auth.WithClock(e.clock.Now), auth.WithLogger(quiet))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := svc.SignIn(b.Context(), "acme", "dora", "dora-password-1"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkArgon2id is the raw hash at the default parameters, the
// baseline the figures above are compared with in the same run.
func BenchmarkArgon2id(b *testing.B) {
	p := auth.DefaultParams()
	salt := make([]byte, 16)
	b.ReportAllocs()
	for b.Loop() {
		argon2.IDKey([]byte("dora-password-1"), salt, p.Time, p.Memory, p.Threads, 32)
	}
}
