package auth_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/storage"
)

var testDomains = auth.Domains{
	Base:          []string{"example.com", "mdm.example.org"},
	Preview:       []string{"preview.example.com"},
	PreviewSuffix: "-preview",
}

func TestParseSite(t *testing.T) {
	tests := []struct {
		in      string
		name    string
		preview bool
	}{
		{"acme", "acme", false},
		{"  ACME  ", "acme", false},
		{"acme-corp", "acme-corp", false},
		{"acme.example.com", "acme", false},
		{"ACME.Example.COM.", "acme", false},
		{"acme.mdm.example.org", "acme", false},
		{"https://acme.example.com", "acme", false},
		{"https://acme.example.com/", "acme", false},
		{"https://acme.example.com:8443/signin?x=1", "acme", false},
		{"http://acme.example.com", "acme", false},
		{"acme.example.com/some/path", "acme", false},
		{"acme.example.com:443", "acme", false},
		{"acme.preview.example.com", "acme", true},
		{"https://acme.preview.example.com/", "acme", true},
		{"acme-preview.example.com", "acme", true},
		{"acme-corp-preview.example.com", "acme-corp", true},
		{"acme-preview", "acme-preview", false}, // bare names are taken literally
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := testDomains.ParseSite(tt.in)
			if err != nil {
				t.Fatalf("ParseSite(%q): %v", tt.in, err)
			}
			if got.Name != tt.name || got.Preview != tt.preview {
				t.Errorf("ParseSite(%q) = %+v, want name %q, preview %v", tt.in, got, tt.name, tt.preview)
			}
		})
	}
}

func TestParseSiteRejects(t *testing.T) {
	for _, in := range []string{
		"",
		"   ",
		"acme.other.com",                // not a configured domain
		"example.com",                   // the base itself
		"a.b.example.com",               // two labels under the base
		"-acme.example.com",             // not a DNS label
		"acme_corp",                     // underscore
		"ftp://acme.example.com",        // scheme
		"https://evil@acme.example.com", // userinfo
		"https://acme.example.com.evil.net",
		"acme.example.com.evil.net",
		"ac me",
		"acmé",
		"-preview.example.com",
		strings.Repeat("a", 64),
		strings.Repeat("a", auth.MaxSiteLen+1),
		"https://[::1]/",
		"mailto:acme@example.com",
	} {
		t.Run(in, func(t *testing.T) {
			if got, err := testDomains.ParseSite(in); !errors.Is(err, auth.ErrUnknownSite) {
				t.Errorf("ParseSite(%q) = %+v, %v; want ErrUnknownSite", in, got, err)
			}
		})
	}
}

func TestParseSiteWithoutDomains(t *testing.T) {
	if _, err := (auth.Domains{}).ParseSite("acme.example.com"); !errors.Is(err, auth.ErrUnknownSite) {
		t.Errorf("without configured domains a host name resolved: %v", err)
	}
	if s, err := (auth.Domains{}).ParseSite("acme"); err != nil || s.Name != "acme" {
		t.Errorf("bare name without domains = %+v, %v", s, err)
	}
}

func FuzzParseSite(f *testing.F) {
	for _, s := range []string{"acme", "https://acme.example.com:8443/x", "acme-preview.example.com",
		"acme.preview.example.com", "https://evil@acme.example.com", "%zz://", "a.b.c.example.com", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		site, err := testDomains.ParseSite(in)
		if err != nil {
			if !errors.Is(err, auth.ErrUnknownSite) {
				t.Fatalf("ParseSite(%q) error %v is not ErrUnknownSite", in, err)
			}
			return
		}
		// Whatever resolves is a valid site name, found in the input.
		if err := storage.ValidateOrgName(site.Name); err != nil {
			t.Fatalf("ParseSite(%q) = %q: %v", in, site.Name, err)
		}
		if !strings.Contains(strings.ToLower(in), site.Name) {
			t.Fatalf("ParseSite(%q) = %q, which the input does not contain", in, site.Name)
		}
	})
}
