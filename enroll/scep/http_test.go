package scep_test

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/openomm/omm/enroll/scep"
	"github.com/openomm/omm/enroll/scep/sceptest"
)

func TestHTTP(t *testing.T) {
	f := newFixture(t)
	mux := http.NewServeMux()
	mux.Handle("/scep/{org}", f.svc.Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()
	base := srv.URL + "/scep/" + string(f.org)

	get := func(t *testing.T, u string) (int, string, []byte) {
		t.Helper()
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), b
	}
	code, _, body := get(t, base+"?operation=GetCACaps")
	if code != 200 || string(body) != scep.Capabilities || !strings.Contains(string(body), "AES") || !strings.Contains(string(body), "SHA-256") {
		t.Errorf("GetCACaps: %d %q", code, body)
	}
	code, ctype, body := get(t, base+"?operation=GetCACert")
	if code != 200 || ctype != "application/x-x509-ca-cert" {
		t.Fatalf("GetCACert: %d %s", code, ctype)
	}
	if c, err := x509.ParseCertificate(body); err != nil || !c.Equal(f.ca) {
		t.Fatalf("GetCACert body: %v", err)
	}

	// PKIOperation by POST, then by GET with a fresh session.
	for _, method := range []string{http.MethodPost, http.MethodGet} {
		_, challenge := f.session(t, f.org, "alice")
		msg, p := f.request(t, f.org, sceptest.Request{Key: key(t, 0), Challenge: challenge})
		var resp *http.Response
		var err error
		if method == http.MethodPost {
			resp, err = http.Post(base+"?operation=PKIOperation", "application/x-pki-message", bytes.NewReader(msg))
		} else {
			resp, err = http.Get(base + "?operation=PKIOperation&message=" + url.QueryEscape(base64.StdEncoding.EncodeToString(msg)))
		}
		if err != nil {
			t.Fatal(err)
		}
		reply, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-pki-message" {
			t.Fatalf("%s PKIOperation: %d %q", method, resp.StatusCode, reply)
		}
		if _, err := p.Read(reply, f.ca); err != nil {
			t.Fatalf("%s PKIOperation: %v", method, err)
		}
	}

	for _, tc := range []struct {
		name string
		req  func() (*http.Response, error)
		want int
	}{
		{"oversized body", func() (*http.Response, error) {
			return http.Post(base+"?operation=PKIOperation", "", bytes.NewReader(make([]byte, scep.MaxMessageSize+1)))
		}, 400},
		{"garbage", func() (*http.Response, error) {
			return http.Post(base+"?operation=PKIOperation", "", strings.NewReader("garbage"))
		}, 400},
		{"bad base64", func() (*http.Response, error) { return http.Get(base + "?operation=PKIOperation&message=%%%") }, 400},
		{"unknown operation", func() (*http.Response, error) { return http.Get(base + "?operation=GetNextCACert") }, 400},
		{"bad org", func() (*http.Response, error) { return http.Get(srv.URL + "/scep/nope?operation=GetCACert") }, 404},
	} {
		resp, err := tc.req()
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
	}
}
