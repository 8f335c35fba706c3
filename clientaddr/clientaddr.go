// Package clientaddr names the client of an HTTP request, for per-source
// throttles and the "remote" of audit entries.
//
// The client is the connection's peer (http.Request.RemoteAddr), except
// when that peer is a trusted proxy: then it is the rightmost hop of
// X-Forwarded-For that is not itself a trusted proxy. Each proxy appends
// the address it received the connection from, so the hops to the right
// of the first untrusted one were written by trusted proxies, and that
// hop by the last of them; everything further left came from the client
// and is ignored. The header is never read when the peer is not trusted,
// so a client that connects directly cannot name itself after another.
//
// Trusted networks must hold proxies only: a client inside one would be
// skipped as a proxy, and the hop left of it, which it wrote itself,
// would be taken as the client.
package clientaddr

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Header is the header read: each proxy appends the address it received
// the connection from (nginx's $proxy_add_x_forwarded_for, HAProxy's
// "option forwardfor", Go's httputil.ProxyRequest.SetXForwarded after
// copying the inbound header).
const Header = "X-Forwarded-For"

// Bounds on the work one request can cause. Only hops from the right are
// read, up to the first untrusted one, so a long header a client sends
// through the proxy costs nothing beyond them.
const (
	// MaxHops is how many hops are examined from the right: a chain of
	// more trusted proxies than this names no client.
	MaxHops = 16
	// MaxHopLen bounds one hop's text: the longest IPv6 address with a
	// port and brackets is 47 bytes; spaces around it count.
	MaxHopLen = 64
)

// ErrInvalid says the hop that would name the client could not be read
// (not an IP address, too long, or beyond MaxHops).
var ErrInvalid = errors.New("clientaddr: invalid " + Header)

// Resolver names the clients of requests whose peers may be trusted
// proxies. The zero value and a nil *Resolver trust no proxy: every
// request's client is its peer.
type Resolver struct {
	trusted []netip.Prefix
}

// New returns a resolver that reads X-Forwarded-For from peers in
// trusted only.
func New(trusted []netip.Prefix) *Resolver {
	r := &Resolver{trusted: make([]netip.Prefix, 0, len(trusted))}
	for _, p := range trusted {
		if p.IsValid() {
			r.trusted = append(r.trusted, p.Masked())
		}
	}
	return r
}

// Trusts reports whether a is in one of the trusted networks.
func (r *Resolver) Trusts(a netip.Addr) bool {
	if r == nil || !a.IsValid() {
		return false
	}
	a = a.Unmap().WithZone("")
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Addr returns the request's client address, or the zero Addr when the
// peer address is not an IP address (a Unix socket, a test's request
// without one).
func (r *Resolver) Addr(req *http.Request) netip.Addr {
	peer := Peer(req)
	if !r.Trusts(peer) {
		return peer
	}
	vals := req.Header.Values(Header)
	if len(vals) == 0 {
		return peer
	}
	a, err := Rightmost(vals, r.Trusts)
	if err != nil || !a.IsValid() {
		// The proxy sent something unreadable where the client should
		// be: count the request as the proxy's own.
		return peer
	}
	return a
}

// Source returns the request's client address as text, for throttle keys
// and audit entries; the peer's host as given when it is not an IP
// address. Its signature fits auth.WithClientSource and
// scep.WithClientSource.
func (r *Resolver) Source(req *http.Request) string {
	if a := r.Addr(req); a.IsValid() {
		return a.String()
	}
	host, _, err := net.SplitHostPort(req.RemoteAddr)
	if err != nil {
		return req.RemoteAddr
	}
	return host
}

// Peer returns the address of the request's connection (RemoteAddr),
// IPv4-mapped addresses as IPv4, without a zone; the zero Addr when it is
// not an IP address.
func Peer(req *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(req.RemoteAddr)
	if err == nil {
		return ap.Addr().Unmap().WithZone("")
	}
	a, err := netip.ParseAddr(req.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap().WithZone("")
}

// Rightmost reads X-Forwarded-For values (one per header line, in order)
// from the right and returns the first hop that trusted does not accept.
// When every hop is trusted it returns the leftmost (the chain's origin);
// with no hops at all, the zero Addr and no error. A hop that must be
// read and cannot be, or a chain longer than MaxHops, is ErrInvalid.
// Hops left of the answer are not read.
func Rightmost(values []string, trusted func(netip.Addr) bool) (netip.Addr, error) {
	var last netip.Addr
	hops := 0
	for i := len(values) - 1; i >= 0; i-- {
		v := values[i]
		for {
			j := strings.LastIndexByte(v, ',')
			hop := v[j+1:]
			if j < 0 {
				hop = v
			}
			if hops == MaxHops {
				return netip.Addr{}, fmt.Errorf("%w: more than %d hops", ErrInvalid, MaxHops)
			}
			hops++
			a, err := ParseHop(hop)
			if err != nil {
				return netip.Addr{}, err
			}
			if !trusted(a) {
				return a, nil
			}
			last = a
			if j < 0 {
				break
			}
			v = v[:j]
		}
	}
	return last, nil
}

// ParseHop reads one X-Forwarded-For hop: an IPv4 or IPv6 address,
// optionally with a port (1.2.3.4:80, [2001:db8::1]:80) or in brackets,
// with spaces or tabs around it. IPv4-mapped addresses read as IPv4;
// zones are dropped.
func ParseHop(s string) (netip.Addr, error) {
	if len(s) > MaxHopLen {
		return netip.Addr{}, fmt.Errorf("%w: a hop of %d bytes, at most %d", ErrInvalid, len(s), MaxHopLen)
	}
	s = strings.Trim(s, " \t")
	var a netip.Addr
	var err error
	switch {
	case strings.HasPrefix(s, "["):
		var ap netip.AddrPort
		if ap, err = netip.ParseAddrPort(s); err == nil {
			a = ap.Addr()
		} else if inner, ok := strings.CutSuffix(s[1:], "]"); ok {
			a, err = netip.ParseAddr(inner)
		}
	case strings.Count(s, ":") == 1:
		var ap netip.AddrPort
		if ap, err = netip.ParseAddrPort(s); err == nil {
			a = ap.Addr()
		}
	default:
		a, err = netip.ParseAddr(s)
	}
	if err != nil || !a.IsValid() {
		return netip.Addr{}, fmt.Errorf("%w: hop %q is not an IP address", ErrInvalid, s)
	}
	return a.Unmap().WithZone(""), nil
}
