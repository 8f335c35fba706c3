package ota_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/ota"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/profile"
)

func TestDirectProfile(t *testing.T) {
	f := newFixture(t)
	ticket, err := f.ota.Begin(t.Context(), f.org, "alice", decision(true), enroll.KindDirect)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ticket.URL, "/enroll/"+string(f.org)+"/mobileconfig?token=") {
		t.Errorf("ticket URL %s", ticket.URL)
	}
	if _, err := f.ota.ServiceProfile(t.Context(), f.org, ticket.Token); !errors.Is(err, enroll.ErrChallenge) {
		t.Errorf("direct token for phase 1: %v", err)
	}
	signed, err := f.ota.DirectProfile(t.Context(), f.org, ticket.Token)
	if err != nil {
		t.Fatal(err)
	}
	p, err := profile.Decode(f.verified(t, signed))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.EncryptedContent) != 0 || len(p.Payloads) != 2 {
		t.Fatalf("direct profile: %d payloads, encrypted %v", len(p.Payloads), len(p.EncryptedContent) > 0)
	}
	mdm, ok := p.Payloads[1].(*profile.MDM)
	if !ok || !mdm.SignMessage || mdm.IdentityCertificateUUID != scepPayload(t, p).UUID || mdm.Topic != topic {
		t.Fatalf("MDM payload %+v", p.Payloads[1])
	}
	if _, err := f.ota.DirectProfile(t.Context(), f.org, ticket.Token); !errors.Is(err, enroll.ErrChallenge) {
		t.Errorf("direct token used twice: %v", err)
	}
	cert := f.getCert(t, scepPayload(t, p).Challenge, deviceKey(t, 0))
	sess, err := f.store.EnrollSession(t.Context(), f.org, ticket.Session)
	if err != nil {
		t.Fatal(err)
	}
	if sess.Phase != enroll.PhaseEnrolled || sess.Identity != enroll.FingerprintOf(cert) {
		t.Errorf("direct session ends at %s", sess.Phase)
	}
	if !strings.HasPrefix(cert.Subject.CommonName, "enrollment ") {
		t.Errorf("direct identity subject %v", cert.Subject)
	}
}

func TestPolicyProfile(t *testing.T) {
	f := newFixture(t)
	ticket, err := f.ota.Begin(t.Context(), f.org, "alice", decision(false), enroll.KindOTA)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := f.ota.SignedPolicyProfile(t.Context(), f.org, ticket.Session)
	if err != nil {
		t.Fatal(err)
	}
	p, err := profile.Decode(f.verified(t, signed))
	if err != nil {
		t.Fatal(err)
	}
	var pc *profile.Passcode
	var r *profile.Restrictions
	for _, pl := range p.Payloads {
		switch v := pl.(type) {
		case *profile.Passcode:
			pc = v
		case *profile.Restrictions:
			r = v
		}
	}
	if pc == nil || pc.MinLength != 6 || pc.MaxFailedAttempts != 10 || !pc.ForcePIN {
		t.Errorf("passcode payload %+v", pc)
	}
	if r == nil || r.AllowOpenFromManagedToUnmanaged == nil || *r.AllowOpenFromManagedToUnmanaged ||
		r.AllowOpenFromUnmanagedToManaged == nil || *r.AllowOpenFromUnmanagedToManaged {
		t.Errorf("restrictions payload %+v", r)
	}
	if none := f.ota.PolicyProfile(f.org, "Acme", policy.Requirements{}); none != nil {
		t.Errorf("empty requirements yield a profile")
	}
}

func TestHTTP(t *testing.T) {
	f := newFixture(t)
	mux := http.NewServeMux()
	mux.Handle("GET /enroll/{org}/profile", f.ota.ProfileHandler())
	mux.Handle("POST /enroll/{org}/ota", f.ota.PostHandler())
	mux.Handle("GET /enroll/{org}/mobileconfig", f.ota.MobileconfigHandler())
	srv := httptest.NewServer(mux)
	defer srv.Close()
	local := func(u string) string { return strings.Replace(u, publicURL, srv.URL, 1) }

	ticket, err := f.ota.Begin(t.Context(), f.org, "alice", decision(false), enroll.KindOTA)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(local(ticket.URL))
	if err != nil {
		t.Fatal(err)
	}
	signed, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-apple-aspen-config" {
		t.Fatalf("phase 1: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	svc, err := profile.DecodeService(f.verified(t, signed))
	if err != nil {
		t.Fatal(err)
	}
	dev := newDevice(t, "00008110-000A1D2E3F40801E")
	body, _ := dev.Phase2(svc.Challenge, attrs)
	resp, err = http.Post(local(svc.URL), "application/pkcs7-signature", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("phase 2: %d", resp.StatusCode)
	}
	for _, tc := range []struct {
		name string
		do   func() (*http.Response, error)
		want int
	}{
		{"replayed phase 2", func() (*http.Response, error) {
			return http.Post(local(svc.URL), "", bytes.NewReader(body))
		}, 403},
		{"oversized body", func() (*http.Response, error) {
			return http.Post(local(svc.URL), "", bytes.NewReader(make([]byte, ota.MaxBodySize+1)))
		}, 413},
		{"garbage body", func() (*http.Response, error) {
			return http.Post(local(svc.URL), "", strings.NewReader("not cms"))
		}, 400},
		{"used token", func() (*http.Response, error) { return http.Get(local(ticket.URL)) }, 403},
		{"no token", func() (*http.Response, error) {
			return http.Get(srv.URL + "/enroll/" + string(f.org) + "/mobileconfig")
		}, 403},
		{"unknown session", func() (*http.Response, error) {
			return http.Post(srv.URL+"/enroll/"+string(f.org)+"/ota?session=0123", "", bytes.NewReader(body))
		}, 403},
	} {
		resp, err := tc.do()
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
	}
}

func TestIssueDirectProfile(t *testing.T) {
	f := newFixture(t)
	signed, err := f.ota.IssueDirectProfile(t.Context(), f.org, "alice", decision(false))
	if err != nil {
		t.Fatal(err)
	}
	p, err := profile.Decode(f.verified(t, signed))
	if err != nil {
		t.Fatal(err)
	}
	f.getCert(t, scepPayload(t, p).Challenge, deviceKey(t, 2))
	d := decision(false)
	d.Outcome = policy.Denied
	if _, err := f.ota.IssueDirectProfile(t.Context(), f.org, "alice", d); !errors.Is(err, ota.ErrNotEligible) {
		t.Errorf("denied user: %v", err)
	}
}
