package apns_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openomm/omm/enroll/apns"
	"github.com/openomm/omm/enroll/apns/apnstest"
)

const topic = "com.apple.mgmt.External.0f2e6a4c-3b1d-4d5e-8f90-1234567890ab"

// pushCert makes a self-signed stand-in for an MDM push certificate, with
// the topic in the subject's UID as Apple issues it.
func pushCert(t testing.TB) (tls.Certificate, *x509.Certificate) {
	t.Helper()
	tc, cert, err := makePushCert()
	if err != nil {
		t.Fatal(err)
	}
	return tc, cert
}

func makePushCert() (tls.Certificate, *x509.Certificate, error) { return makePushCertFor(topic, 1) }

// makePushCertFor makes a push certificate for topic with serial.
func makePushCertFor(topic string, serial int64) (tls.Certificate, *x509.Certificate, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject: pkix.Name{
			CommonName: "APSP:" + topic,
			ExtraNames: []pkix.AttributeTypeAndValue{{Type: asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}, Value: topic}},
		},
		NotBefore:   time.Now().Add(-time.Hour),
		NotAfter:    time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, cert, err
}

func newClient(t testing.TB, srv *apnstest.Server, opts ...apns.Option) *apns.Client {
	t.Helper()
	tc, _ := pushCert(t)
	c, err := apns.New(topic, append([]apns.Option{
		apns.WithCertificate(tc), apns.WithEndpoint(srv.URL()), apns.WithRootCAs(srv.RootCAs()),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func token(b byte) []byte { return []byte{0xde, 0xad, b, 0xef} }

func TestTopic(t *testing.T) {
	_, cert := pushCert(t)
	got, err := apns.Topic(cert)
	if err != nil || got != topic {
		t.Fatalf("Topic = %q, %v; want %q", got, err, topic)
	}
	cert.Subject = pkix.Name{CommonName: "not a push cert"}
	if _, err := apns.Topic(cert); err == nil {
		t.Error("Topic accepted a certificate without UID")
	}
}

func TestPushWithCertificate(t *testing.T) {
	srv := apnstest.NewServer()
	defer srv.Close()
	c := newClient(t, srv)
	id, err := c.Push(t.Context(), apns.Target{Token: token(1), PushMagic: "magic-\"quoted\""})
	if err != nil {
		t.Fatalf("Push: %v", err)
	}
	if id == "" {
		t.Error("no apns-id returned")
	}
	got := srv.Pushes()
	if len(got) != 1 {
		t.Fatalf("server received %d pushes, want 1", len(got))
	}
	p := got[0]
	if p.Token != "dead01ef" || p.Topic != topic || p.PushType != "mdm" || p.PushMagic != "magic-\"quoted\"" {
		t.Errorf("push = %+v", p)
	}
	if p.Proto != "HTTP/2.0" {
		t.Errorf("push sent over %s, want HTTP/2.0", p.Proto)
	}
	if p.ClientCert == nil || !strings.Contains(p.ClientCert.Subject.CommonName, topic) {
		t.Errorf("push certificate not presented: %v", p.ClientCert)
	}
	if p.Authorization != "" {
		t.Errorf("certificate push carried an authorization header %q", p.Authorization)
	}
}

// TestReplaceCertificate: a renewed push certificate for the same topic
// replaces the old one without a new client, and the next pushes present
// it; one for another topic is refused with ErrTopicMismatch and changes
// nothing.
func TestReplaceCertificate(t *testing.T) {
	srv := apnstest.NewServer()
	defer srv.Close()
	c := newClient(t, srv)
	if _, err := c.Push(t.Context(), apns.Target{Token: token(1), PushMagic: "m"}); err != nil {
		t.Fatal(err)
	}
	first := c.Certificate()
	other, _, err := makePushCertFor("com.apple.mgmt.External.another", 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ReplaceCertificate(other); !errors.Is(err, apns.ErrTopicMismatch) || !strings.Contains(err.Error(), "com.apple.mgmt.External.another") {
		t.Errorf("a certificate for another topic: %v; want ErrTopicMismatch naming both topics", err)
	}
	if c.Certificate() != first {
		t.Error("the refused certificate replaced the old one")
	}
	renewed, leaf, err := makePushCertFor(topic, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ReplaceCertificate(renewed); err != nil {
		t.Fatalf("the renewed certificate: %v", err)
	}
	if c.Certificate() != leaf || c.Topic() != topic {
		t.Errorf("certificate in use: %v", c.Certificate().SerialNumber)
	}
	if _, err := c.Push(t.Context(), apns.Target{Token: token(2), PushMagic: "m"}); err != nil {
		t.Fatal(err)
	}
	got := srv.Pushes()
	if len(got) != 2 || got[0].ClientCert.SerialNumber.Int64() != 1 || got[1].ClientCert.SerialNumber.Int64() != 2 {
		t.Errorf("certificates presented: %+v", got)
	}
}

func TestErrorMapping(t *testing.T) {
	srv := apnstest.NewServer()
	defer srv.Close()
	c := newClient(t, srv)
	tests := []struct {
		answer apnstest.Answer
		want   error // nil: matches none of the sentinels
	}{
		{apnstest.Answer{Status: http.StatusGone, Reason: "Unregistered"}, apns.ErrTokenDead},
		{apnstest.Answer{Status: http.StatusBadRequest, Reason: "BadDeviceToken"}, apns.ErrTokenDead},
		{apnstest.Answer{Status: http.StatusBadRequest, Reason: "DeviceTokenNotForTopic"}, apns.ErrTokenDead},
		{apnstest.Answer{Status: http.StatusForbidden, Reason: "BadCertificate"}, apns.ErrAuth},
		{apnstest.Answer{Status: http.StatusForbidden, Reason: "ExpiredProviderToken"}, apns.ErrAuth},
		{apnstest.Answer{Status: http.StatusTooManyRequests, Reason: "TooManyRequests"}, apns.ErrRetry},
		{apnstest.Answer{Status: http.StatusServiceUnavailable, Reason: "ServiceUnavailable"}, apns.ErrRetry},
		{apnstest.Answer{Status: http.StatusInternalServerError, Reason: "InternalServerError"}, apns.ErrRetry},
		{apnstest.Answer{Status: http.StatusBadRequest, Reason: "BadTopic"}, nil},
	}
	sentinels := []error{apns.ErrTokenDead, apns.ErrAuth, apns.ErrRetry}
	for i, tt := range tests {
		tok := token(byte(i + 10))
		srv.Answer(strings.ToLower(strings.TrimSpace(hexOf(tok))), tt.answer)
		_, err := c.Push(t.Context(), apns.Target{Token: tok, PushMagic: "m"})
		var apiErr *apns.Error
		if !errors.As(err, &apiErr) || apiErr.Status != tt.answer.Status || apiErr.Reason != tt.answer.Reason {
			t.Errorf("%d %s: error = %v, want an *apns.Error with that status and reason", tt.answer.Status, tt.answer.Reason, err)
			continue
		}
		for _, s := range sentinels {
			if got, want := errors.Is(err, s), s == tt.want; got != want {
				t.Errorf("%d %s: errors.Is(err, %v) = %v, want %v", tt.answer.Status, tt.answer.Reason, s, got, want)
			}
		}
		if tt.answer.Status == http.StatusGone && apiErr.Unregistered.IsZero() {
			t.Errorf("410 without the time the token became invalid")
		}
	}
	if _, err := c.Push(t.Context(), apns.Target{PushMagic: "m"}); !errors.Is(err, apns.ErrTokenDead) {
		t.Errorf("push without a token: %v, want ErrTokenDead", err)
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	var s strings.Builder
	for _, c := range b {
		s.WriteByte(digits[c>>4])
		s.WriteByte(digits[c&15])
	}
	return s.String()
}

func TestProviderToken(t *testing.T) {
	srv := apnstest.NewServer()
	defer srv.Close()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var mu sync.Mutex
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	c, err := apns.New(topic, apns.WithToken(key, "KEY123", "TEAM456"), apns.WithEndpoint(srv.URL()),
		apns.WithRootCAs(srv.RootCAs()), apns.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	push := func() string {
		t.Helper()
		if _, err := c.Push(t.Context(), apns.Target{Token: token(1), PushMagic: "m"}); err != nil {
			t.Fatal(err)
		}
		ps := srv.Pushes()
		return ps[len(ps)-1].Authorization
	}
	first := push()
	checkJWT(t, first, &key.PublicKey, now)
	mu.Lock()
	now = now.Add(49 * time.Minute)
	mu.Unlock()
	if again := push(); again != first {
		t.Error("token renewed before it was 50 minutes old")
	}
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	renewed := push()
	if renewed == first {
		t.Error("token not renewed after 51 minutes")
	}
	checkJWT(t, renewed, &key.PublicKey, now)
}

// checkJWT verifies an APNs provider token: ES256 over header.claims, with
// the key ID, team ID and issue time expected.
func checkJWT(t *testing.T, header string, pub *ecdsa.PublicKey, iat time.Time) {
	t.Helper()
	jwt, ok := strings.CutPrefix(header, "bearer ")
	parts := strings.Split(jwt, ".")
	if !ok || len(parts) != 3 {
		t.Fatalf("authorization %q is not a bearer JWT", header)
	}
	dec := base64.RawURLEncoding
	var h map[string]string
	var claims map[string]any
	hb, _ := dec.DecodeString(parts[0])
	cb, _ := dec.DecodeString(parts[1])
	sig, _ := dec.DecodeString(parts[2])
	if json.Unmarshal(hb, &h) != nil || json.Unmarshal(cb, &claims) != nil || len(sig) != 64 {
		t.Fatalf("malformed JWT %q", jwt)
	}
	if h["alg"] != "ES256" || h["kid"] != "KEY123" || claims["iss"] != "TEAM456" || claims["iat"] != float64(iat.Unix()) {
		t.Errorf("JWT header %v claims %v", h, claims)
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(pub, digest[:], r, s) {
		t.Error("JWT signature does not verify")
	}
}

func TestPushAllBoundsConcurrency(t *testing.T) {
	srv := apnstest.NewServer()
	defer srv.Close()
	const limit, n = 3, 40
	c := newClient(t, srv, apns.WithConcurrency(limit))
	srv.Answer(hexOf(token(7)), apnstest.Answer{Status: http.StatusGone, Reason: "Unregistered"})
	targets := make([]apns.Target, n)
	for i := range targets {
		targets[i] = apns.Target{Token: token(byte(i)), PushMagic: "m"}
	}
	srv.Hold()
	done := make(chan []apns.Result)
	go func() { done <- c.PushAll(t.Context(), targets) }()
	// Wait until the client has filled its streams; the bound is then
	// checked over the whole run by the server's high-water mark.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if now, _ := srv.InFlight(); now == limit {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the client never had its streams in flight")
		}
	}
	srv.Release()
	results := <-done
	if _, most := srv.InFlight(); most != limit {
		t.Errorf("at most %d pushes in flight, want exactly the limit %d", most, limit)
	}
	if len(results) != n {
		t.Fatalf("%d results for %d targets", len(results), n)
	}
	for i, r := range results {
		if string(r.Target.Token) != string(targets[i].Token) {
			t.Fatalf("result %d is for another target", i)
		}
		if dead := errors.Is(r.Err, apns.ErrTokenDead); dead != (i == 7) {
			t.Errorf("result %d: %v", i, r.Err)
		}
		if i != 7 && (r.Err != nil || r.ID == "") {
			t.Errorf("result %d: id %q, err %v", i, r.ID, r.Err)
		}
	}
}

func TestPushStopsWithContext(t *testing.T) {
	srv := apnstest.NewServer()
	defer srv.Close()
	c := newClient(t, srv, apns.WithConcurrency(1))
	srv.Hold()
	defer srv.Release()
	ctx, cancel := context.WithCancel(t.Context())
	first := make(chan error)
	go func() {
		_, err := c.Push(ctx, apns.Target{Token: token(1), PushMagic: "m"})
		first <- err
	}()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if now, _ := srv.InFlight(); now == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("push never arrived")
		}
	}
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Errorf("held push after cancel: %v", err)
	}
	// The only stream was freed: a new push under a live context proceeds.
	srv.Release()
	if _, err := c.Push(t.Context(), apns.Target{Token: token(2), PushMagic: "m"}); err != nil {
		t.Errorf("push after a cancelled one: %v", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	tc, _ := pushCert(t)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	tests := map[string]struct {
		topic string
		opts  []apns.Option
	}{
		"no credentials":      {topic, nil},
		"both credentials":    {topic, []apns.Option{apns.WithCertificate(tc), apns.WithToken(ec, "k", "t")}},
		"empty topic":         {"", []apns.Option{apns.WithCertificate(tc)}},
		"plain http endpoint": {topic, []apns.Option{apns.WithCertificate(tc), apns.WithEndpoint("http://localhost")}},
		"RSA provider key":    {topic, []apns.Option{apns.WithToken(rk, "k", "t")}},
		"token without team":  {topic, []apns.Option{apns.WithToken(ec, "k", "")}},
		"zero concurrency":    {topic, []apns.Option{apns.WithCertificate(tc), apns.WithConcurrency(0)}},
		"certificate, no key": {topic, []apns.Option{apns.WithCertificate(tls.Certificate{Certificate: tc.Certificate})}},
	}
	for name, tt := range tests {
		if _, err := apns.New(tt.topic, tt.opts...); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
}
