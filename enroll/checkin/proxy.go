package checkin

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"

	"github.com/openomm/omm/clientaddr"
)

// MaxForwardedCert bounds a forwarded client certificate header: one
// URL-escaped PEM certificate is a few kilobytes.
const MaxForwardedCert = 16 << 10

// ErrForwardedCert says a forwarded client certificate header could not
// be read as one certificate.
var ErrForwardedCert = errors.New("checkin: forwarded client certificate")

// trustedProxy is where a TLS-terminating proxy may forward the client
// certificate from, and in which header.
type trustedProxy struct {
	header  string
	proxies *clientaddr.Resolver // the same peer rule as X-Forwarded-For's
	certs   *forwardedCerts
}

// The forwarded-certificate cache holds at most maxForwarded values, and
// starts afresh when full; only values of at most maxForwardedCached bytes
// are remembered (a device identity forwarded as escaped PEM is under 2
// KiB). Any client can make a proxy forward a certificate of its own, so
// these bound what clients can make it hold: a few tens of MiB at worst.
const (
	maxForwarded       = 2048
	maxForwardedCached = 4 << 10
)

// forwardedCerts remembers the certificates parsed from forwarded header
// values: a device's command session is several requests with the same
// header, each of which would parse it again. It caches parsing only:
// whether the certificate is trusted is decided on every request.
type forwardedCerts struct {
	mu sync.Mutex
	m  map[string]*x509.Certificate
}

// parse is ParseForwardedCert, remembered by header value.
func (c *forwardedCerts) parse(v string) (*x509.Certificate, error) {
	c.mu.Lock()
	cert, ok := c.m[v]
	c.mu.Unlock()
	if ok {
		return cert, nil
	}
	cert, err := ParseForwardedCert(v)
	if err != nil || len(v) > maxForwardedCached {
		return cert, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxForwarded {
		clear(c.m)
	}
	c.m[v] = cert
	return cert, nil
}

// WithTrustedProxy serves the check-in endpoints behind a TLS-terminating
// proxy: a request from an address in one of networks may carry the
// client certificate the proxy received in header (see
// [ParseForwardedCert] for the formats). The header from any other
// address is refused (403), whatever it holds, as is a request that
// carries both the header and a client certificate of its own TLS
// connection. The proxy must set the header on every request it forwards,
// replacing any a client sent, and leave it empty without a certificate;
// devices that sign their messages (Mdm-Signature) need no header. An
// empty header or no networks turns the mode off.
func WithTrustedProxy(header string, networks []netip.Prefix) Option {
	return func(s *Service) {
		if header == "" || len(networks) == 0 {
			s.proxy = nil
			return
		}
		s.proxy = &trustedProxy{header: http.CanonicalHeaderKey(header), proxies: clientaddr.New(networks),
			certs: &forwardedCerts{m: map[string]*x509.Certificate{}}}
	}
}

// Proof extracts the proof of a request to the check-in endpoints: the
// client certificate of its TLS connection, or (with [WithTrustedProxy])
// the one its proxy forwarded, and the Mdm-Signature header. A forwarded
// certificate from an address that is not a trusted proxy is an error
// wrapping ErrForbidden; one that does not parse, ErrForwardedCert too.
func (s *Service) Proof(r *http.Request) (Proof, error) {
	p := ProofFrom(r)
	if s.proxy == nil {
		return p, nil
	}
	vals := r.Header.Values(s.proxy.header)
	if len(vals) == 0 {
		return p, nil
	}
	if !s.proxy.proxies.Trusts(clientaddr.Peer(r)) {
		return p, forbidden("client certificate header %s from %s, which is not a trusted proxy", s.proxy.header, r.RemoteAddr)
	}
	if len(vals) > 1 {
		return p, forbidden("%w: %d %s headers", ErrForwardedCert, len(vals), s.proxy.header)
	}
	if vals[0] == "" {
		return p, nil // the proxy received no certificate
	}
	if p.TLS != nil {
		return p, forbidden("a client certificate both on the connection and in %s", s.proxy.header)
	}
	cert, err := s.proxy.certs.parse(vals[0])
	if err != nil {
		return p, forbidden("%w", err)
	}
	p.TLS = cert
	return p, nil
}

// ParseForwardedCert reads the client certificate a TLS-terminating proxy
// forwards in a header: percent-escaped PEM (nginx's
// $ssl_client_escaped_cert), PEM, or base64 of the DER (HAProxy's
// ssl_c_der,base64). A "+" stays a "+" (it is base64, not a space). Only the
// first certificate counts; the value is at most MaxForwardedCert bytes.
func ParseForwardedCert(v string) (*x509.Certificate, error) {
	if len(v) > MaxForwardedCert {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrForwardedCert, len(v), MaxForwardedCert)
	}
	v = strings.TrimSpace(v)
	var der []byte
	if strings.HasPrefix(v, "-----BEGIN") || strings.Contains(v, "%") {
		text, err := url.PathUnescape(v)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrForwardedCert, err)
		}
		block, _ := pem.Decode([]byte(text))
		if block == nil || block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%w: no PEM certificate", ErrForwardedCert)
		}
		der = block.Bytes
	} else {
		var err error
		if der, err = base64.StdEncoding.DecodeString(v); err != nil {
			return nil, fmt.Errorf("%w: neither PEM nor base64: %w", ErrForwardedCert, err)
		}
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrForwardedCert, err)
	}
	return cert, nil
}

// FormatForwardedCert writes a DER certificate as a TLS-terminating proxy
// forwards it: percent-escaped PEM, every byte but the unreserved ones
// escaped, as nginx's $ssl_client_escaped_cert. For a proxy written in Go
// in front of the handler.
func FormatForwardedCert(der []byte) string {
	var b strings.Builder
	const hex = "0123456789ABCDEF"
	for _, c := range pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}) {
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("-_.~", c) >= 0 {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}
