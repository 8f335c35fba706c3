package storage_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/openomm/omm/storage"
)

func TestValidateOrgName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"acme", true},
		{"a", true},
		{"acme-corp", true},
		{"x1", true},
		{"123", true},
		{strings.Repeat("a", 63), true},
		{"", false},
		{strings.Repeat("a", 64), false},
		{"Acme", false},
		{"-acme", false},
		{"acme-", false},
		{"acme.com", false},
		{"ac me", false},
		{"acmé", false},
		{"acme_corp", false},
	}
	for _, tt := range tests {
		err := storage.ValidateOrgName(tt.name)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateOrgName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
		if err != nil && !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("ValidateOrgName(%q) = %v, not ErrInvalid", tt.name, err)
		}
	}
}

func TestOrgIDValidate(t *testing.T) {
	for id, ok := range map[storage.OrgID]bool{
		storage.NewOrgID():                     true,
		"3f2c1b9e-7d6a-4c1f-9a0e-123456789abc": true,
		"tenant:acme.prod":                     true,
		"":                                     false,
		"a b":                                  false,
		"a/b":                                  false,
		storage.OrgID(strings.Repeat("x", 65)): false,
	} {
		if err := id.Validate(); (err == nil) != ok {
			t.Errorf("OrgID(%q).Validate() = %v, want ok=%v", id, err, ok)
		}
	}
}

func TestNewOrgIDIsUnique(t *testing.T) {
	seen := map[storage.OrgID]bool{}
	for range 1000 {
		id := storage.NewOrgID()
		if seen[id] {
			t.Fatalf("NewOrgID repeated %q", id)
		}
		seen[id] = true
		// 128 bits of entropy take 26 base32 characters.
		if len(id) != len("org_")+26 {
			t.Fatalf("NewOrgID() = %q: unexpected length", id)
		}
	}
}

func TestAuditQueryNormalize(t *testing.T) {
	tests := []struct {
		in      storage.AuditQuery
		want    storage.AuditQuery
		invalid bool
	}{
		{storage.AuditQuery{}, storage.AuditQuery{Limit: storage.DefaultAuditPage}, false},
		{storage.AuditQuery{After: 7, Limit: 5}, storage.AuditQuery{After: 7, Limit: 5}, false},
		{storage.AuditQuery{Limit: 1 << 30}, storage.AuditQuery{Limit: storage.MaxAuditPage}, false},
		{storage.AuditQuery{Limit: -1}, storage.AuditQuery{}, true},
		{storage.AuditQuery{After: -1}, storage.AuditQuery{}, true},
	}
	for _, tt := range tests {
		got, err := tt.in.Normalize()
		if tt.invalid {
			if !errors.Is(err, storage.ErrInvalid) {
				t.Errorf("%+v.Normalize() error = %v, want ErrInvalid", tt.in, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%+v.Normalize() = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestNormalizeTime(t *testing.T) {
	in := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.FixedZone("X", -7*3600))
	got := storage.Normalize(in)
	if got.Location() != time.UTC || got.Nanosecond() != 123456000 || !got.Equal(in.Truncate(time.Microsecond)) {
		t.Errorf("Normalize(%v) = %v", in, got)
	}
}

func TestAuditEntryValidateMessages(t *testing.T) {
	e := storage.AuditEntry{Org: "org_a", Time: time.Now(), Actor: "system", Action: "Bad Action"}
	err := e.Validate()
	if !errors.Is(err, storage.ErrInvalid) || !strings.Contains(err.Error(), `"Bad Action"`) {
		t.Errorf("Validate() = %v: want ErrInvalid naming the action", err)
	}
}
