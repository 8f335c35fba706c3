// Package apnstest provides a local stand-in for Apple Push Notification
// service: an HTTP/2 TLS server that speaks APNs' push API, records every
// push, and answers as told. Tests and the device simulator's load mode push
// to it instead of Apple.
package apnstest

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Push is one notification the server received.
type Push struct {
	Token         string // hex, from the path
	Topic         string // apns-topic
	PushType      string // apns-push-type
	PushMagic     string // the payload's "mdm" value
	Authorization string // provider token header, if any
	ClientCert    *x509.Certificate
	Proto         string
}

// Answer is what the server replies to a push.
type Answer struct {
	Status int    // 0 means 200
	Reason string // APNs reason for a non-200 status
}

// Server is a fake APNs endpoint. Its zero value is not usable; call
// NewServer.
type Server struct {
	srv *httptest.Server

	mu      sync.Mutex
	pushes  []Push
	answers map[string]Answer // by hex token
	deliver func(Push)

	inFlight, maxInFlight atomic.Int64
	hold                  chan struct{}
}

// NewServer starts a fake APNs server on loopback, speaking HTTP/2 over TLS
// and requesting (not requiring) a client certificate. Close it when done.
func NewServer() *Server {
	s := &Server{answers: map[string]Answer{}}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.handle))
	s.srv.EnableHTTP2 = true
	// APNs advertises 500 concurrent streams per connection (Go's server
	// default is 250; a client with more in flight would open extra
	// connections instead of multiplexing as it would against Apple).
	s.srv.Config.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: 500}
	s.srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	s.srv.StartTLS()
	return s
}

// URL is the base URL to give the client as its endpoint.
func (s *Server) URL() string { return s.srv.URL }

// RootCAs returns a pool that trusts the server's certificate.
func (s *Server) RootCAs() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(s.srv.Certificate())
	return pool
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Answer sets the reply for pushes to the hex token.
func (s *Server) Answer(token string, a Answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answers[token] = a
}

// OnPush calls fn for every accepted push (from the server's goroutines),
// for a simulator that wakes its devices.
func (s *Server) OnPush(fn func(Push)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deliver = fn
}

// Hold makes every push wait until Release, to observe how many a client
// keeps in flight at once.
func (s *Server) Hold() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hold = make(chan struct{})
}

// Release lets held pushes through.
func (s *Server) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hold != nil {
		close(s.hold)
		s.hold = nil
	}
}

// InFlight reports the pushes being handled now, and the most at once.
func (s *Server) InFlight() (now, most int64) { return s.inFlight.Load(), s.maxInFlight.Load() }

// Pushes returns a copy of the pushes received so far, accepted or not.
func (s *Server) Pushes() []Push {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Push(nil), s.pushes...)
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	for {
		most := s.maxInFlight.Load()
		if n <= most || s.maxInFlight.CompareAndSwap(most, n) {
			break
		}
	}
	token, ok := strings.CutPrefix(r.URL.Path, "/3/device/")
	if r.Method != http.MethodPost || !ok || token == "" {
		reply(w, http.StatusNotFound, "BadPath", "")
		return
	}
	// APNs takes a JSON object of at most 4 KB and answers PayloadTooLarge
	// beyond; read one byte more to tell the two apart.
	body, err := io.ReadAll(io.LimitReader(r.Body, maxPayload+1))
	if err != nil || len(body) > maxPayload {
		reply(w, http.StatusRequestEntityTooLarge, "PayloadTooLarge", "")
		return
	}
	var payload struct {
		MDM string `json:"mdm"`
	}
	if err := json.Unmarshal(body, &payload); err != nil {
		reply(w, http.StatusBadRequest, "PayloadEmpty", "")
		return
	}
	h := r.Header
	p := Push{
		Token: token, Topic: first(h["Apns-Topic"]), PushType: first(h["Apns-Push-Type"]),
		PushMagic: payload.MDM, Authorization: first(h["Authorization"]), Proto: r.Proto,
	}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		p.ClientCert = r.TLS.PeerCertificates[0]
	}
	s.mu.Lock()
	s.pushes = append(s.pushes, p)
	id := pushID(len(s.pushes))
	a := s.answers[token]
	hold, deliver := s.hold, s.deliver
	s.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-r.Context().Done():
			return
		}
	}
	if a.Status == 0 || a.Status == http.StatusOK {
		if deliver != nil {
			deliver(p)
		}
		w.Header()["Apns-Id"] = []string{id}
		w.WriteHeader(http.StatusOK)
		return
	}
	stamp := ""
	if a.Status == http.StatusGone { // a fixed "last valid" time keeps tests reproducible
		stamp = fmt.Sprint(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli())
	}
	w.Header().Set("apns-id", id)
	reply(w, a.Status, a.Reason, stamp)
}

// maxPayload is APNs' limit on a notification's payload.
const maxPayload = 4096

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// pushID is the apns-id of the n-th push: a UUID-shaped counter,
// "00000000-0000-0000-0000-000000000042", without fmt's cost per push.
func pushID(n int) string {
	b := []byte("00000000-0000-0000-0000-000000000000")
	digits := strconv.AppendInt(nil, int64(n), 10)
	if len(digits) > 12 {
		digits = digits[len(digits)-12:]
	}
	copy(b[len(b)-len(digits):], digits)
	return string(b)
}

func reply(w http.ResponseWriter, status int, reason, timestamp string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if timestamp != "" {
		fmt.Fprintf(w, `{"reason":%q,"timestamp":%s}`, reason, timestamp)
		return
	}
	fmt.Fprintf(w, `{"reason":%q}`, reason)
}
