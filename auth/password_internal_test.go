package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestPasswordHashVerify(t *testing.T) {
	p := Params{Memory: 64, Time: 1, Threads: 1}
	h := p.hash("correct horse")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash %q does not encode its parameters", h)
	}
	if h2 := p.hash("correct horse"); h2 == h {
		t.Errorf("two hashes of one password are equal: salt is not random")
	}
	tests := []struct {
		name         string
		verifyWith   Params
		password     string
		ok, outdated bool
	}{
		{"right password", p, "correct horse", true, false},
		{"wrong password", p, "correct horsf", false, false},
		{"empty password", p, "", false, false},
		{"raised memory", Params{Memory: 128, Time: 1, Threads: 1}, "correct horse", true, true},
		{"raised passes", Params{Memory: 64, Time: 2, Threads: 1}, "correct horse", true, true},
		{"lowered parameters", Params{Memory: 32, Time: 1, Threads: 1}, "correct horse", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, outdated, err := tt.verifyWith.verify(h, tt.password)
			if err != nil || ok != tt.ok || outdated != tt.outdated {
				t.Errorf("verify = %v, %v, %v; want %v, %v, nil", ok, outdated, err, tt.ok, tt.outdated)
			}
		})
	}
}

func TestDecodeHashRejects(t *testing.T) {
	good := Params{Memory: 64, Time: 1, Threads: 1}.hash("pw")
	parts := strings.Split(good, "$")
	tests := map[string]string{
		"empty":            "",
		"bcrypt":           "$2a$10$abcdefghijklmnopqrstuu",
		"argon2i":          strings.Replace(good, "argon2id", "argon2i", 1),
		"old version":      strings.Replace(good, "v=19", "v=16", 1),
		"huge memory":      "$argon2id$v=19$m=4294967295,t=1,p=1$" + parts[4] + "$" + parts[5],
		"huge passes":      "$argon2id$v=19$m=64,t=100000,p=1$" + parts[4] + "$" + parts[5],
		"zero threads":     "$argon2id$v=19$m=64,t=1,p=0$" + parts[4] + "$" + parts[5],
		"unknown param":    "$argon2id$v=19$m=64,t=1,p=1,x=2$" + parts[4] + "$" + parts[5],
		"salt not base64":  "$argon2id$v=19$m=64,t=1,p=1$!!!$" + parts[5],
		"short key":        "$argon2id$v=19$m=64,t=1,p=1$" + parts[4] + "$AAAA",
		"too long":         good + strings.Repeat("A", MaxHashLen),
		"missing sections": "$argon2id$v=19$m=64,t=1,p=1",
	}
	for name, h := range tests {
		t.Run(name, func(t *testing.T) {
			if _, _, err := DefaultParams().verify(h, "pw"); !errors.Is(err, ErrBadRequest) {
				t.Errorf("verify(%q) error = %v, want ErrBadRequest", h, err)
			}
		})
	}
}

func TestParamsFloor(t *testing.T) {
	tests := []struct {
		p  Params
		ok bool
	}{
		{DefaultParams(), true},
		{Params{Memory: 64 * 1024, Time: 3, Threads: 2}, true},
		{Params{Memory: MinMemory - 1, Time: 2, Threads: 1}, false},
		{Params{Memory: MinMemory, Time: 1, Threads: 1}, false},
		{Params{Memory: MinMemory, Time: 2, Threads: 0}, false},
		{Params{Memory: maxMemory + 1, Time: 2, Threads: 1}, false},
	}
	for _, tt := range tests {
		if err := tt.p.Validate(); (err == nil) != tt.ok {
			t.Errorf("%+v.Validate() = %v, want ok=%v", tt.p, err, tt.ok)
		}
	}
	if _, err := NewLocalDirectory(nil, WithPasswordParams(Params{Memory: 1024, Time: 1, Threads: 1})); err == nil {
		t.Errorf("WithPasswordParams accepted parameters below the floor")
	}
}

func TestSlotsBoundConcurrency(t *testing.T) {
	s := make(slots, 1)
	held, release, done := make(chan struct{}), make(chan struct{}), make(chan error)
	go func() { done <- s.run(t.Context(), func() { close(held); <-release }) }()
	<-held
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.run(ctx, func() { t.Error("ran while the only slot was taken") }); !errors.Is(err, context.Canceled) {
		t.Errorf("run with every slot taken and a cancelled context = %v, want context.Canceled", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ran := false
	if err := s.run(t.Context(), func() { ran = true }); err != nil || !ran {
		t.Errorf("run after the slot was freed = %v, ran %v", err, ran)
	}
}
