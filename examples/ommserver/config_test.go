package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"zero config", nil, ""},
		{"public URL", []string{"-public-url", "https://mdm.example.com"}, ""},
		{"public URL over http", []string{"-public-url", "http://mdm.example.com"}, "must be an https URL"},
		{"public URL with path", []string{"-public-url", "https://mdm.example.com/x"}, "must be an https URL"},
		{"certificate without key", []string{"-apns-cert", "c.pem"}, "go together"},
		{"token without team", []string{"-apns-token-key", "k.p8", "-apns-key-id", "K", "-apns-topic", "t"}, "provider token needs"},
		{"both kinds", []string{"-apns-cert", "c.pem", "-apns-key", "k.pem", "-apns-token-key", "k.p8"}, "not both"},
		{"stray argument", []string{"serve"}, "unexpected arguments"},
		{"behind a proxy", []string{"-trusted-proxies", "10.0.0.5, 10.1.0.0/16,::1", "-public-url", "https://mdm.example.com"}, ""},
		{"proxy without public URL", []string{"-trusted-proxies", "10.0.0.5"}, "needs -public-url"},
		{"proxy not an address", []string{"-trusted-proxies", "proxy.example.com", "-public-url", "https://mdm.example.com"}, "neither an IP address nor a CIDR"},
		{"forwarded-for behind a proxy", []string{"-trusted-proxies", "10.0.0.5", "-public-url", "https://mdm.example.com", "-forwarded-for"}, ""},
		{"forwarded-for without a proxy", []string{"-forwarded-for"}, "needs -trusted-proxies"},
		{"classical key exchange", []string{"-tls-key-exchange", "classical", "-http2"}, ""},
		{"unknown key exchange", []string{"-tls-key-exchange", "x25519"}, `want "hybrid", "hybrid-every-handshake" or "classical"`},
		{"re-application batch", []string{"-reapply-batch", "500"}, ""},
		{"negative re-application batch", []string{"-reapply-batch", "-1"}, "-reapply-batch must not be negative"},
		{"bad header name", []string{"-trusted-proxies", "10.0.0.5", "-public-url", "https://mdm.example.com", "-client-cert-header", "X Cert"}, "not a header name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseFlags(append([]string{"-listen", "127.0.0.1:8443"}, tt.args...), io.Discard)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.listen != "127.0.0.1:8443" {
					t.Errorf("listen = %q", c.listen)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestSetupPush(t *testing.T) {
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	p8 := filepath.Join(dir, "key.p8")
	if err := os.WriteFile(p8, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		cfg       config
		mode      string
		hasClient bool
		wantErr   string
	}{
		{"disabled", config{}, "disabled", false, ""},
		{"provider token to a fake endpoint", config{apnsTokenKey: p8, apnsKeyID: "KEYID12345", apnsTeamID: "TEAMID1234",
			apnsTopic: "com.apple.mgmt.External.test", apnsEndpoint: "https://127.0.0.1:1"}, "provider token", true, ""},
		{"unreadable key", config{apnsTokenKey: filepath.Join(dir, "missing.p8"), apnsKeyID: "K", apnsTeamID: "T", apnsTopic: "t"}, "", false, "-apns-token-key"},
		{"missing roots file", config{apnsRoots: filepath.Join(dir, "missing.pem")}, "", false, "-apns-roots"},
		{"missing certificate", config{apnsCert: filepath.Join(dir, "c.pem"), apnsKey: filepath.Join(dir, "k.pem")}, "", false, "push certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps, err := setupPush(tt.cfg, discardLog())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ps.mode != tt.mode || (ps.client != nil) != tt.hasClient || ps.topic == "" {
				t.Errorf("push = %+v", ps)
			}
			if ps.client != nil {
				ps.client.Close()
			}
		})
	}
}

func TestDevCA(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	ca, err := loadOrCreateCA(dir, []string{"localhost", "127.0.0.1"}, now)
	if err != nil || !ca.created {
		t.Fatalf("first load: %v", err)
	}
	leaf, err := x509.ParseCertificate(ca.serving.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "localhost", CurrentTime: now}); err != nil {
		t.Errorf("serving certificate does not verify: %v", err)
	}
	if info, err := os.Stat(filepath.Join(dir, caKeyFile)); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("CA key file mode: %v, %v", info, err)
	}

	// Same hosts: everything reused. A new host: same CA, new certificate.
	again, err := loadOrCreateCA(dir, []string{"localhost", "127.0.0.1"}, now)
	if err != nil || again.created || again.Fingerprint() != ca.Fingerprint() || !again.serving.Leaf.Equal(leafOf(t, ca.serving)) {
		t.Errorf("reload changed something: %v", err)
	}
	more, err := loadOrCreateCA(dir, []string{"localhost", "127.0.0.1", "mdm.example.test"}, now)
	if err != nil || more.Fingerprint() != ca.Fingerprint() {
		t.Fatalf("new host: %v", err)
	}
	if l := leafOf(t, more.serving); l.VerifyHostname("mdm.example.test") != nil {
		t.Errorf("new certificate does not cover the new host: %v", l.DNSNames)
	}
	// Close to expiry: reissued.
	late, err := loadOrCreateCA(dir, []string{"localhost"}, now.Add(servingValidity-time.Hour))
	if err != nil || leafOf(t, late.serving).NotAfter.Before(now.Add(servingValidity)) {
		t.Errorf("expiring certificate not reissued: %v", err)
	}

	cfg := tlsConfig(ca, false)
	if cfg.ClientAuth != tls.RequestClientCert {
		t.Errorf("client auth = %v, want RequestClientCert (devices present SCEP identities, browsers none)", cfg.ClientAuth)
	}
}

func leafOf(t *testing.T, c tls.Certificate) *x509.Certificate {
	t.Helper()
	l, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestTLSResumes: the server's TLS is cheap for phones that reconnect on
// every wake: its serving key is ECDSA P-256, and a second connection
// resumes the first one's session (TLS 1.3 tickets) instead of a full
// handshake. (devicesim's TestLoadConnections resumes with device
// certificates and checks in.)
func TestTLSResumes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	ts := startServer(t, dir)
	tr := ts.client.Transport.(*http.Transport)
	cfg := tr.TLSClientConfig.Clone()
	cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	addr := strings.TrimPrefix(ts.base, "https://")
	for i, wantResumed := range []bool{false, true, true} {
		conn, err := tls.Dial("tcp", addr, cfg)
		if err != nil {
			t.Fatal(err)
		}
		// TLS 1.3 sends the ticket after the handshake: read until the
		// server answers so that the client has it.
		if _, err := conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadAll(conn); err != nil {
			t.Fatal(err)
		}
		st := conn.ConnectionState()
		conn.Close()
		if st.DidResume != wantResumed {
			t.Errorf("connection %d: resumed = %v, want %v", i, st.DidResume, wantResumed)
		}
		if pub, ok := st.PeerCertificates[0].PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
			t.Errorf("serving key %T, want ECDSA P-256", st.PeerCertificates[0].PublicKey)
		}
	}
}

// TestTLSProtocols: over TLS the server speaks HTTP/1.1 by default, and
// HTTP/2 only when asked to (-http2). Its full handshakes use the hybrid
// post-quantum key exchange, and resumptions of those sessions X25519
// (devicetls.Hybrid), unless told otherwise (-tls-key-exchange).
func TestTLSProtocols(t *testing.T) {
	for _, tc := range []struct {
		name      string
		args      []string
		wantProto string
		wantCurve [2]tls.CurveID // full handshake, resumption
	}{
		{"default", nil, "http/1.1", [2]tls.CurveID{tls.X25519MLKEM768, tls.X25519}},
		{"http2-hybrid-every-handshake", []string{"-http2", "-tls-key-exchange", "hybrid-every-handshake"}, "h2", [2]tls.CurveID{tls.X25519MLKEM768, tls.X25519MLKEM768}},
		{"classical", []string{"-tls-key-exchange", "classical"}, "http/1.1", [2]tls.CurveID{tls.X25519, tls.X25519}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServerArgs(t, filepath.Join(t.TempDir(), "data"), append([]string{"-postgres", ""}, tc.args...)...)
			cfg := ts.client.Transport.(*http.Transport).TLSClientConfig.Clone()
			cfg.NextProtos = []string{"h2", "http/1.1"} // what a phone and a browser offer
			cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
			for i, wantResumed := range []bool{false, true} {
				conn, err := tls.Dial("tcp", strings.TrimPrefix(ts.base, "https://"), cfg)
				if err != nil {
					t.Fatal(err)
				}
				// The session ticket comes after the handshake, before any
				// data: read some (HTTP/2's settings, or an answer).
				st := conn.ConnectionState()
				if st.NegotiatedProtocol == "h2" {
					_, err = conn.Read(make([]byte, 1))
				} else if _, err = conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")); err == nil {
					_, err = io.ReadAll(conn)
				}
				if err != nil {
					t.Fatal(err)
				}
				conn.Close()
				if st.NegotiatedProtocol != tc.wantProto || st.CurveID != tc.wantCurve[i] || st.DidResume != wantResumed {
					t.Errorf("protocol %q, key exchange %v, resumed %v; want %q, %v, %v", st.NegotiatedProtocol, st.CurveID, st.DidResume,
						tc.wantProto, tc.wantCurve[i], wantResumed)
				}
			}
		})
	}
}
