package auth_test

import (
	"errors"
	"testing"
	"time"

	"github.com/openomm/omm/auth"
)

func TestPINPolicyCheck(t *testing.T) {
	def := auth.DefaultPINPolicy()
	simple := def
	simple.AllowSimple = true
	six := def
	six.Length = 6
	alpha := def
	alpha.Alphanumeric = true
	tests := []struct {
		name   string
		policy auth.PINPolicy
		pin    string
		ok     bool
	}{
		{"good 4 digits", def, "4812", true},
		{"good longer", def, "481290", true},
		{"too short", def, "481", false},
		{"too long", def, "12345678901234567", false},
		{"letters in numeric", def, "48a2", false},
		{"repeated", def, "1111", false},
		{"zeros", def, "0000", false},
		{"ascending", def, "1234", false},
		{"ascending from 0", def, "0123", false},
		{"descending", def, "4321", false},
		{"long run", def, "345678", false},
		{"pair pattern", def, "1212", false},
		{"pair pattern long", def, "909090", false},
		{"simple allowed: repeated", simple, "1111", true},
		{"simple allowed: run", simple, "1234", true},
		{"simple allowed: still too short", simple, "111", false},
		{"length 6 rejects 5", six, "48129", false},
		{"length 6 takes 6", six, "481290", true},
		{"alphanumeric", alpha, "a7K2", true},
		{"alphanumeric run", alpha, "abcd", false},
		{"alphanumeric symbol", alpha, "a7K!", false},
		{"not ascii", def, "４８１２", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.policy.Check(tt.pin)
			if tt.ok && err != nil {
				t.Errorf("Check(%q) = %v, want ok", tt.pin, err)
			}
			if !tt.ok && !errors.Is(err, auth.ErrPINRejected) {
				t.Errorf("Check(%q) = %v, want ErrPINRejected", tt.pin, err)
			}
		})
	}
}

func TestPINPolicyValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*auth.PINPolicy)
		ok   bool
	}{
		{"default", func(*auth.PINPolicy) {}, true},
		{"length 3", func(p *auth.PINPolicy) { p.Length = 3 }, false},
		{"length 17", func(p *auth.PINPolicy) { p.Length = 17 }, false},
		{"negative idle", func(p *auth.PINPolicy) { p.IdleTimeout = -time.Second }, false},
		{"sub-second age", func(p *auth.PINPolicy) { p.MaxAge = time.Millisecond }, false},
		{"ten years", func(p *auth.PINPolicy) { p.MaxAge = 10 * 365 * 24 * time.Hour }, false},
		{"no idle lock", func(p *auth.PINPolicy) { p.IdleTimeout = 0 }, true},
	}
	for _, tt := range tests {
		p := auth.DefaultPINPolicy()
		tt.edit(&p)
		if err := p.Validate(); (err == nil) != tt.ok {
			t.Errorf("%s: Validate() = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

func TestThrottleWait(t *testing.T) {
	th := auth.DefaultThrottle()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		count int
		since time.Duration
		want  time.Duration
	}{
		{0, 0, 0},
		{4, 0, 0},
		{5, 0, 30 * time.Second},
		{5, 10 * time.Second, 20 * time.Second},
		{5, 30 * time.Second, 0},
		{6, 0, time.Minute},
		{7, 0, 2 * time.Minute},
		{9, 0, 8 * time.Minute},
		{10, 0, 15 * time.Minute},
		{50, 0, 15 * time.Minute},
		{1000, 14 * time.Minute, time.Minute},
	}
	for _, tt := range tests {
		got := th.Wait(auth.Failures{Count: tt.count, Last: t0}, t0.Add(tt.since))
		if got != tt.want {
			t.Errorf("Wait(%d failures, %v later) = %v, want %v", tt.count, tt.since, got, tt.want)
		}
	}
}
