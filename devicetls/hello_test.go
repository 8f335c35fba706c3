package devicetls

import (
	"bytes"
	"crypto/tls"
	"net"
	"slices"
	"sync"
	"testing"
)

// capturingConn keeps what a client writes first: its ClientHello.
type capturingConn struct {
	net.Conn
	mu    sync.Mutex
	first []byte
}

func (c *capturingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if c.first == nil {
		c.first = slices.Clone(p)
	}
	c.mu.Unlock()
	return c.Conn.Write(p)
}

// clientHellos returns what Go's client sends on its first connection to a
// server and on its resumption, with the server configuration that can
// open the resumption's ticket. With device, the client presents a
// certificate, as a device does, and the ticket carries it.
func clientHellos(t testing.TB, device bool, groups ...tls.CurveID) (full, resumed []byte, srv *tls.Config) {
	t.Helper()
	srv = &tls.Config{Certificates: []tls.Certificate{testCertificate(t)}, ClientAuth: tls.RequestClientCert}
	full, resumed = clientHellosFrom(t, srv, device, groups...)
	return full, resumed, srv
}

// clientHellosFrom is clientHellos against a server configured with srv.
func clientHellosFrom(t testing.TB, srv *tls.Config, device bool, groups ...tls.CurveID) (full, resumed []byte) {
	t.Helper()
	var certs []tls.Certificate
	if device {
		certs = []tls.Certificate{testCertificate(t)}
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", srv)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			s, err := ln.Accept()
			if err != nil {
				return
			}
			s.Write([]byte("x"))
			s.Close()
		}
	}()
	cache := tls.NewLRUClientSessionCache(1)
	hello := func() []byte {
		raw, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		cc := &capturingConn{Conn: raw}
		c := tls.Client(cc, &tls.Config{InsecureSkipVerify: true, ClientSessionCache: cache, CurvePreferences: groups,
			Certificates: certs})
		defer c.Close()
		var one [1]byte
		if _, err := c.Read(one[:]); err != nil {
			t.Fatal(err)
		}
		cc.mu.Lock()
		defer cc.mu.Unlock()
		return cc.first
	}
	return hello(), hello()
}

// refragment splits the handshake message of a one-record hello into
// records of at most n bytes.
func refragment(hello []byte, n int) []byte {
	header, msg := hello[:recordHeaderLen], hello[recordHeaderLen:]
	var out []byte
	for len(msg) > 0 {
		k := min(n, len(msg))
		out = append(out, header[0], header[1], header[2], byte(k>>8), byte(k))
		out = append(out, msg[:k]...)
		msg = msg[k:]
	}
	return out
}

func TestParseHello(t *testing.T) {
	full, resumed, srv := clientHellos(t, true)

	h, ok := parseHello(full)
	if !ok || h.ticket != nil || !slices.Contains(h.shares, tls.X25519MLKEM768) || !slices.Contains(h.shares, tls.X25519) ||
		!slices.Contains(h.groups, tls.X25519MLKEM768) || !slices.Contains(h.groups, tls.CurveP256) {
		t.Errorf("first hello: %v, ticket %x, shares %v, groups %v; want no ticket, hybrid and X25519 shares, groups with P-256", ok, h.ticket, h.shares, h.groups)
	}

	h, ok = parseHello(resumed)
	if !ok || h.ticket == nil {
		t.Fatalf("resumption: %v, no ticket", ok)
	}
	if ss, err := srv.DecryptTicket(h.ticket, tls.ConnectionState{}); err != nil || ss == nil {
		t.Errorf("the ticket read does not open with the server's keys: %v", err)
	}
	split, ok := parseHello(refragment(resumed, 100))
	if !ok || !bytes.Equal(split.ticket, h.ticket) || !slices.Equal(split.shares, h.shares) || !slices.Equal(split.groups, h.groups) {
		t.Errorf("the hello in records of 100 bytes reads differently: %v", ok)
	}

	for name, raw := range map[string][]byte{
		"empty":            nil,
		"cut short":        resumed[:len(resumed)-1],
		"cut in a record":  refragment(resumed, 100)[:300],
		"not a handshake":  append([]byte{23}, resumed[1:]...),
		"not a hello":      append(slices.Clone(resumed[:recordHeaderLen]), append([]byte{2}, resumed[recordHeaderLen+1:]...)...),
		"empty record":     append([]byte{22, 3, 1, 0, 0}, resumed...),
		"trailing in body": growHello(resumed),
	} {
		if h, ok := parseHello(raw); ok {
			t.Errorf("%s: read as %+v", name, h)
		}
	}
}

// growHello adds a byte inside the ClientHello body after its extensions,
// with the lengths of the record and message adjusted to include it.
func growHello(hello []byte) []byte {
	b := append(slices.Clone(hello), 0)
	recLen := int(b[3])<<8 | int(b[4]) + 1
	b[3], b[4] = byte(recLen>>8), byte(recLen)
	msgLen := int(b[6])<<16 | int(b[7])<<8 | int(b[8]) + 1
	b[6], b[7], b[8] = byte(msgLen>>16), byte(msgLen>>8), byte(msgLen)
	return b
}

// FuzzParseHello's seeds in testdata/fuzz are hellos of Go's client, as
// clientHellos(t, false, tls.X25519) returns them: a first connection, a
// resumption, and the resumption in records of 100 bytes. They offer
// X25519 alone and no certificate is in the ticket: the hybrid's key share
// or a certificate would make each seed 1,000 bytes longer or more, and
// the fuzzer's minimizing of inputs that long stalls it.
func FuzzParseHello(f *testing.F) {
	f.Add([]byte{recordHandshake, 3, 1, 0, 4, handshakeClientHello, 0, 0, 0})
	f.Fuzz(func(t *testing.T, raw []byte) {
		h, ok := parseHello(raw)
		if !ok && (h.ticket != nil || h.shares != nil || h.groups != nil) {
			t.Fatalf("a refused hello left %+v", h)
		}
		if len(h.ticket) > len(raw) || len(h.shares)*5+len(h.groups)*2 > len(raw) {
			t.Fatalf("read more than was given: %d ticket bytes, %d shares, %d groups from %d bytes", len(h.ticket), len(h.shares), len(h.groups), len(raw))
		}
	})
}
