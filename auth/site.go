package auth

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/openomm/omm/storage"
)

// MaxSiteLen bounds the site input a user types.
const MaxSiteLen = 512

// Domains says which host names name an org, given the org's site name
// "acme":
//
//   - "acme" on its own;
//   - "acme.<base>" for each base domain ("acme.example.com");
//   - the preview (sandbox) forms "acme.<preview>" for each preview domain
//     ("acme.preview.example.com") and "acme<suffix>.<base>"
//     ("acme-preview.example.com") when PreviewSuffix is set.
//
// Each form may come as a URL ("https://acme.example.com/any/path", http or
// https, with or without a port). Matching is case-insensitive.
type Domains struct {
	Base          []string
	Preview       []string
	PreviewSuffix string
}

// Site is a parsed site name.
type Site struct {
	// Name is the org's site name, as stored in storage.Org.Name.
	Name string
	// Preview is set when the input used a preview (sandbox) form. It
	// names the same org; embedders that run a separate preview
	// environment route on it.
	Preview bool
}

// ParseSite turns what a user typed into the site name it names. Input that
// is malformed, too long, or uses a host outside the configured domains
// yields ErrUnknownSite.
func (d Domains) ParseSite(input string) (Site, error) {
	unknown := func() (Site, error) { return Site{}, fmt.Errorf("%w: %.80q", ErrUnknownSite, input) }
	if len(input) > MaxSiteLen {
		return Site{}, fmt.Errorf("%w: site name is longer than %d bytes", ErrUnknownSite, MaxSiteLen)
	}
	host := strings.ToLower(strings.TrimSpace(input))
	if strings.Contains(host, "://") {
		u, err := url.Parse(host)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.User != nil || u.Opaque != "" {
			return unknown()
		}
		host = u.Host
	} else if i := strings.IndexByte(host, '/'); i >= 0 {
		host = host[:i]
	}
	if h, port, err := net.SplitHostPort(host); err == nil {
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return unknown()
		}
		host = h
	}
	host = strings.TrimSuffix(host, ".")
	if !strings.Contains(host, ".") {
		if storage.ValidateOrgName(host) != nil {
			return unknown()
		}
		return Site{Name: host}, nil
	}
	for _, p := range d.Preview {
		if label, ok := labelOf(host, p); ok {
			return Site{Name: label, Preview: true}, nil
		}
	}
	for _, b := range d.Base {
		label, ok := labelOf(host, b)
		if !ok {
			continue
		}
		if d.PreviewSuffix != "" {
			if name, found := strings.CutSuffix(label, d.PreviewSuffix); found && storage.ValidateOrgName(name) == nil {
				return Site{Name: name, Preview: true}, nil
			}
		}
		return Site{Name: label}, nil
	}
	return unknown()
}

// labelOf returns the single valid site-name label of host directly under
// domain.
func labelOf(host, domain string) (string, bool) {
	domain = strings.Trim(strings.ToLower(domain), ".")
	if domain == "" {
		return "", false
	}
	label, ok := strings.CutSuffix(host, "."+domain)
	if !ok || storage.ValidateOrgName(label) != nil {
		return "", false
	}
	return label, true
}
