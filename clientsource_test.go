package omm_test

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/openomm/omm"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
)

// TestClientSource: with Config.Proxy.ForwardedFor the SDK names a client
// behind the trusted proxy by X-Forwarded-For, and any other by its peer;
// without it, every client by its peer. ForwardedFor needs Trusted.
func TestClientSource(t *testing.T) {
	st := memory.New()
	t.Cleanup(func() { st.Close() })
	proxy := omm.ProxyConfig{ClientCertHeader: "X-Client-Cert", Trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.5/32")}}
	newSDK := func(p omm.ProxyConfig) (*omm.SDK, error) {
		return omm.New(t.Context(), omm.Config{Store: st, PublicURL: "https://mdm.example.com", Proxy: p, Logger: slog.New(slog.DiscardHandler)})
	}
	req := func(remote, xff string) *http.Request {
		r := httptest.NewRequest("POST", "/api/agent/auth/signin", nil)
		r.RemoteAddr = remote
		r.Header.Set("X-Forwarded-For", xff)
		return r
	}
	withXFF := proxy
	withXFF.ForwardedFor = true
	on, err := newSDK(withXFF)
	if err != nil {
		t.Fatal(err)
	}
	off, err := newSDK(proxy)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		sdk          *omm.SDK
		remote, want string
	}{
		{on, "10.0.0.5:4000", "198.51.100.7"},
		{on, "192.0.2.1:4000", "192.0.2.1"},
		{off, "10.0.0.5:4000", "10.0.0.5"},
		{off, "192.0.2.1:4000", "192.0.2.1"},
	} {
		if got := tc.sdk.ClientSource(req(tc.remote, "203.0.113.1, 198.51.100.7")); got != tc.want {
			t.Errorf("ForwardedFor %v, peer %s: ClientSource = %q, want %q", tc.sdk == on, tc.remote, got, tc.want)
		}
	}
	if _, err := newSDK(omm.ProxyConfig{ForwardedFor: true}); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("ForwardedFor without Trusted: err = %v, want ErrInvalid", err)
	}
}

// TestDeniedSource: a denied request's audit entry names the client as
// WithDeniedSource says.
func TestDeniedSource(t *testing.T) {
	st := memory.New()
	t.Cleanup(func() { st.Close() })
	if _, err := st.CreateOrg(t.Context(), storage.Org{ID: "org_ops", Name: "ops", DisplayName: "Ops"},
		storage.AuditEntry{Org: "org_ops", Time: time.Now(), Actor: "test", Action: "org.create"}); err != nil {
		t.Fatal(err)
	}
	h := omm.AuditDenied(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusForbidden) }),
		st, "org_ops", nil, omm.WithDeniedSource(func(*http.Request) string { return "198.51.100.7" }))
	r := httptest.NewRequest("GET", "/x", nil)
	r.RemoteAddr = "10.0.0.5:1"
	h.ServeHTTP(httptest.NewRecorder(), r)
	page, err := st.ListAudit(t.Context(), "org_ops", storage.AuditQuery{Action: omm.DeniedAction})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Entries) != 1 || page.Entries[0].Details["remote"] != "198.51.100.7" {
		t.Fatalf("audit = %+v, want one entry from 198.51.100.7", page.Entries)
	}
}
