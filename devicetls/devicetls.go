// Package devicetls serves TLS to managed devices, which open a new
// connection on every wake and resume their last TLS session when they
// can. It owns the choice of TLS 1.3 key exchange for those connections.
//
// A TLS 1.3 resumption still runs a key exchange (psk_dhe_ke, the only
// mode Go serves). With Go's default groups that is the post-quantum
// hybrid X25519MLKEM768 on every connection, and its ML-KEM half is a
// tenth of the server's CPU per resumed check-in. The hybrid is needed
// once per session, not per connection: a resumed handshake's keys come
// from both the session's pre-shared key and the new key exchange, and
// that pre-shared key descends from the hybrid handshake that began the
// session. Recorded traffic of a resumption is therefore as safe from a
// future quantum computer as the session's first handshake, whatever
// group the resumption itself uses.
//
// [Hybrid], the default, builds on that: full handshakes use the hybrid
// where the client offers it, and the resumption of a session that began
// with one uses X25519 (or P-256) for up to a day after that hybrid
// handshake (the root); the first resumption after that uses the hybrid
// again and starts a new root. Go picks the group before it looks at the
// ticket, so the listener reads the ClientHello itself and opens the
// ticket with the server's own keys first. Only a ticket this server
// sealed, for a session rooted in a hybrid handshake less than a day ago,
// offered alone with a classical group the client both supports and sent
// a key share for, gets the classical group. Anything else (no ticket, a
// ticket from before a restart or, with Go's automatic ticket keys, from
// another replica, an expired one, a session that began classically, a
// ClientHello this package cannot read, the outer ClientHello of
// Encrypted Client Hello) gets Go's default. The root is recorded in the
// ticket's [tls.SessionState.Extra], and a ticket issued on a classical
// resumption inherits it.
//
// The check mirrors Go's reasons to refuse a ticket it can open: its age,
// the client certificate's expiry, a client certificate required but
// absent or present but not asked for. It does not mirror the rare ones:
// a resumption under a cipher suite with another hash, or, with
// ClientAuth set to verify, a client chain that no longer verifies. Such
// a connection gets one classical full handshake; its session is not a
// root, so the device's next connection is hybrid again.
//
// What a classical resumption rests on, besides the root's hybrid:
// the secrecy of the session ticket key that sealed the ticket (Go's
// automatic keys are AES-128, kept in memory only, rotated daily and
// dropped after a week; keys set with SetSessionTicketKeys last as long
// as their owner keeps them), and of the device's own session cache. The
// pre-shared key travels in the ticket, in the clear part of the
// ClientHello; someone who recorded traffic, later obtains the key that
// sealed a ticket, and has a quantum computer could read that resumption
// and, breaking each X25519 exchange in turn, the resumptions that
// followed it until the next root. The daily root bounds that chain.
// [HybridEveryHandshake] keeps the hybrid on every handshake for those who
// weigh that above the CPU; [Classical] never uses it.
package devicetls

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"slices"
	"time"
)

// ErrInvalid reports a configuration the listener cannot serve.
var ErrInvalid = errors.New("devicetls: invalid configuration")

// KeyExchange chooses the TLS 1.3 key exchange groups.
type KeyExchange int

const (
	// Hybrid uses the post-quantum hybrid on every full handshake the
	// client offers it for, and a classical group on the resumption of a
	// session that began with it (see the package comment).
	Hybrid KeyExchange = iota
	// HybridEveryHandshake is Go's default: the hybrid on every handshake,
	// resumed or not, where the client offers it.
	HybridEveryHandshake
	// Classical uses X25519 and P-256 only: no protection of recorded
	// traffic against a future quantum computer.
	Classical
)

var keyExchangeNames = map[KeyExchange]string{
	Hybrid:               "hybrid",
	HybridEveryHandshake: "hybrid-every-handshake",
	Classical:            "classical",
}

// String returns the name ParseKeyExchange reads.
func (k KeyExchange) String() string {
	if s, ok := keyExchangeNames[k]; ok {
		return s
	}
	return fmt.Sprintf("KeyExchange(%d)", int(k))
}

// ParseKeyExchange reads "hybrid", "hybrid-every-handshake" or "classical".
func ParseKeyExchange(s string) (KeyExchange, error) {
	for k, name := range keyExchangeNames {
		if name == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("%w: key exchange %q: want %q, %q or %q", ErrInvalid, s,
		Hybrid, HybridEveryHandshake, Classical)
}

// rootLifetime is how long after its hybrid handshake a session is
// resumed classically: Go's ticket key rotation period, and well within
// the week after which Go's server refuses a ticket (crypto/tls's
// maxSessionTicketLifetime), so that a ticket it takes is never one Go
// refuses for its age. margin keeps the checks on the safe side of clock
// rounding.
const (
	rootLifetime = 24 * time.Hour
	margin       = 5 * time.Minute
)

// rootMark begins the ticket's Extra entry recording that its session
// descends from a hybrid key exchange: the root's time and the client
// certificate's expiry follow, eight bytes each, in Unix seconds (0: no
// certificate).
var rootMark = []byte("omm.devicetls.hybrid-root.v2:")

// NewListener returns a listener that serves TLS with config on the
// connections inner accepts, choosing the key exchange by kex. config is
// copied; with Hybrid it must leave GetConfigForClient, WrapSession and
// UnwrapSession unset, which the listener uses.
//
// Serve it with http.Server.Serve, not ServeTLS (which would copy the
// configuration and with it the session ticket keys the listener checks
// tickets against); set config.NextProtos to the protocols served, as
// ServeTLS would have.
func NewListener(inner net.Listener, config *tls.Config, kex KeyExchange) (net.Listener, error) {
	if config == nil {
		return nil, fmt.Errorf("%w: no TLS configuration", ErrInvalid)
	}
	base := config.Clone()
	switch kex {
	case HybridEveryHandshake:
		return tls.NewListener(inner, base), nil
	case Classical:
		groups := classical(base.CurvePreferences)
		if len(groups) == 0 {
			return nil, fmt.Errorf("%w: CurvePreferences has no classical group", ErrInvalid)
		}
		base.CurvePreferences = groups
		return tls.NewListener(inner, base), nil
	case Hybrid:
	default:
		return nil, fmt.Errorf("%w: %v", ErrInvalid, kex)
	}
	if base.GetConfigForClient != nil || base.WrapSession != nil || base.UnwrapSession != nil {
		return nil, fmt.Errorf("%w: GetConfigForClient, WrapSession and UnwrapSession must be unset for the hybrid key exchange", ErrInvalid)
	}
	s := &server{base: base, now: base.Time}
	if s.now == nil {
		s.now = time.Now
	}
	if groups := classical(base.CurvePreferences); len(groups) > 0 {
		// Without explicit ticket keys of its own, a configuration
		// returned by GetConfigForClient seals and opens tickets with the
		// original's, so both sides of the choice share one set.
		s.resume = base.Clone()
		s.resume.CurvePreferences = groups
		s.resume.WrapSession = s.wrapFull // configFor's copy seals with the vetted root
	}
	base.WrapSession = s.wrapFull
	base.GetConfigForClient = s.configFor
	return &listener{Listener: inner, config: base}, nil
}

// classical returns the classical groups of prefs, or X25519 and P-256
// when prefs is Go's default.
func classical(prefs []tls.CurveID) []tls.CurveID {
	if prefs == nil {
		return []tls.CurveID{tls.X25519, tls.CurveP256}
	}
	return slices.DeleteFunc(slices.Clone(prefs), hybridGroup)
}

// hybridGroup reports the post-quantum hybrid groups Go serves.
func hybridGroup(id tls.CurveID) bool {
	switch id {
	case tls.X25519MLKEM768, tls.SecP256r1MLKEM768, tls.SecP384r1MLKEM1024:
		return true
	}
	return false
}

type listener struct {
	net.Listener
	config *tls.Config
}

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return tls.Server(&recordingConn{Conn: c}, l.config), nil
}

// recordingConn keeps the first bytes a client sends, the ClientHello,
// until the handshake takes them. Reads happen on the handshake's
// goroutine, as does GetConfigForClient, so no lock is needed.
type recordingConn struct {
	net.Conn
	hello []byte
	done  bool
}

func (c *recordingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if !c.done && n > 0 {
		keep := min(n, maxCapturedHello-len(c.hello))
		c.hello = append(c.hello, p[:keep]...)
		c.done = len(c.hello) >= maxCapturedHello
	}
	return n, err
}

// take returns what was recorded and stops recording.
func (c *recordingConn) take() []byte {
	b := c.hello
	c.hello, c.done = nil, true
	return b
}

type server struct {
	base   *tls.Config // given to tls.Server: its ticket keys seal every ticket
	resume *tls.Config // for a vetted resumption: classical groups; nil if none are allowed
	now    func() time.Time
}

// configFor chooses the classical configuration for the resumption of a
// session rooted in a hybrid handshake, and the default for anything else.
func (s *server) configFor(chi *tls.ClientHelloInfo) (*tls.Config, error) {
	rc, ok := chi.Conn.(*recordingConn)
	if !ok {
		return nil, nil
	}
	raw := rc.take()
	if s.resume == nil || !slices.Contains(chi.Extensions, extensionPreSharedKey) {
		return nil, nil
	}
	h, ok := parseHello(raw)
	// A group the client supports and sent a key share for: Go picks it
	// without a HelloRetryRequest, after which the client could offer
	// another ticket than the one vetted here.
	if !ok || h.ticket == nil || !slices.ContainsFunc(s.resume.CurvePreferences, func(g tls.CurveID) bool {
		return slices.Contains(h.shares, g) && slices.Contains(h.groups, g)
	}) {
		return nil, nil
	}
	// DecryptTicket ignores the connection state; it opens the ticket
	// with the same keys the handshake will.
	ss, err := s.base.DecryptTicket(h.ticket, tls.ConnectionState{})
	if err != nil || ss == nil {
		return nil, nil
	}
	r, ok := hybridRoot(ss.Extra)
	if !ok || !r.resumable(s.now(), s.base.ClientAuth) {
		return nil, nil
	}
	c := s.resume.Clone()
	c.WrapSession = s.wrapVetted(r)
	c.UnwrapSession = s.unwrapVetted(h.ticket, ss)
	return c, nil
}

// unwrapVetted hands the handshake the session state of the ticket just
// opened for the check, instead of opening it a second time (decrypting
// it and parsing the state, its certificates included); any other
// identity is opened as Go would.
func (s *server) unwrapVetted(ticket []byte, ss *tls.SessionState) func([]byte, tls.ConnectionState) (*tls.SessionState, error) {
	return func(identity []byte, cs tls.ConnectionState) (*tls.SessionState, error) {
		if bytes.Equal(identity, ticket) {
			return ss, nil
		}
		return s.base.DecryptTicket(identity, cs)
	}
}

// wrapVetted seals the ticket of a connection on the classical
// configuration, chosen for a vetted ticket with root r: if the handshake
// resumed that session (the one identity offered), the new ticket
// inherits r; if Go refused it, the classical full handshake is no root.
func (s *server) wrapVetted(r root) func(tls.ConnectionState, *tls.SessionState) ([]byte, error) {
	return func(cs tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
		if cs.DidResume {
			return s.seal(cs, ss, r.at)
		}
		return s.wrapFull(cs, ss)
	}
}

// wrapFull seals a ticket on the default configuration: its session is a
// new root if this handshake was a hybrid one.
func (s *server) wrapFull(cs tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
	var at time.Time
	if hybridGroup(cs.CurveID) {
		at = s.now()
	}
	return s.seal(cs, ss, at)
}

// seal seals a ticket, marked with its session's hybrid root unless at is
// zero.
func (s *server) seal(cs tls.ConnectionState, ss *tls.SessionState, at time.Time) ([]byte, error) {
	if !at.IsZero() && cs.Version == tls.VersionTLS13 {
		var certEnd int64
		if len(cs.PeerCertificates) > 0 {
			certEnd = cs.PeerCertificates[0].NotAfter.Unix()
		}
		mark := binary.BigEndian.AppendUint64(slices.Clip(rootMark), uint64(at.Unix()))
		mark = binary.BigEndian.AppendUint64(mark, uint64(certEnd))
		ss.Extra = append(ss.Extra, mark)
	}
	return s.base.EncryptTicket(cs, ss)
}

// root is what a ticket records of the hybrid handshake its session
// descends from.
type root struct {
	at      time.Time
	certEnd time.Time // zero without a client certificate
}

// hybridRoot reads the root a ticket records, if it has one.
func hybridRoot(extra [][]byte) (root, bool) {
	for _, e := range extra {
		if rest, ok := bytes.CutPrefix(e, rootMark); ok && len(rest) == 16 {
			r := root{at: time.Unix(int64(binary.BigEndian.Uint64(rest)), 0)}
			if end := int64(binary.BigEndian.Uint64(rest[8:])); end != 0 {
				r.certEnd = time.Unix(end, 0)
			}
			return r, true
		}
	}
	return root{}, false
}

// resumable reports whether the session may be resumed classically now:
// its root is recent, and Go's server, configured with auth, will take
// the ticket (crypto/tls's checkForResumption), leaning to "no" at the
// edges, since a ticket Go then refuses would get a classical full
// handshake.
func (r root) resumable(now time.Time, auth tls.ClientAuthType) bool {
	if now.Sub(r.at) > rootLifetime-margin || r.at.After(now.Add(margin)) {
		return false
	}
	hasCert := !r.certEnd.IsZero()
	switch {
	case hasCert && !now.Add(margin).Before(r.certEnd):
		return false
	case hasCert && auth == tls.NoClientCert:
		return false
	case !hasCert && (auth == tls.RequireAnyClientCert || auth == tls.RequireAndVerifyClientCert):
		return false
	}
	return true
}
