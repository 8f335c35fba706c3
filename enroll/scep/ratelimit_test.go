package scep_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/scep/sceptest"
)

// TestRefusedRequestsAreLimited (issue 22, finding 12): an unauthenticated
// PKIOperation with a bad challenge cost ~2.3 ms of CPU (decrypting the
// envelope, signing the failure), with no limit on how many one source
// could send. Refused requests are now limited per address (then 503,
// before any cryptography), refusals within the limit are still signed
// FAILURE replies, and enrollments are not held back.
func TestRefusedRequestsAreLimited(t *testing.T) {
	f := newFixture(t)
	h := http.NewServeMux()
	h.Handle("/scep/{org}", f.svc.Handler())
	post := func(msg []byte, addr string) int {
		r := httptest.NewRequest("POST", "/scep/"+string(f.org)+"?operation=PKIOperation", bytes.NewReader(msg))
		r.RemoteAddr = addr
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code == http.StatusOK && w.Header().Get("Content-Type") != "application/x-pki-message" {
			t.Fatalf("200 without a CertRep: %s", w.Header().Get("Content-Type"))
		}
		return w.Code
	}
	bad, _ := f.request(t, f.org, sceptest.Request{Key: key(t, 0), Challenge: enroll.NewSessionID() + ".bm90LWEtY2hhbGxlbmdlLW5vdC1hLWNoYWxsZW5nZS0"})
	answered, limited := 0, 0
	for range 100 {
		switch post(bad, "203.0.113.5:4444") {
		case http.StatusOK: // the signed FAILURE CertRep
			answered++
		case http.StatusServiceUnavailable:
			limited++
		}
	}
	if answered > 25 || answered == 0 || limited == 0 {
		t.Errorf("100 refused requests from one address: %d answered with a CertRep, %d limited; want at most 20 answered, the rest limited", answered, limited)
	}
	// Another address enrolls, and so do the good requests of this one
	// while it still has budget elsewhere: a certificate gives its token
	// back.
	for i := range 30 {
		_, challenge := f.session(t, f.org, "alice")
		msg, p := f.request(t, f.org, sceptest.Request{Key: key(t, 1), Challenge: challenge})
		r := httptest.NewRequest("POST", "/scep/"+string(f.org)+"?operation=PKIOperation", bytes.NewReader(msg))
		r.RemoteAddr = "198.51.100.9:5555"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("enrollment %d from another address: %d", i, w.Code)
		}
		if _, err := p.Read(w.Body.Bytes(), f.ca); err != nil {
			t.Fatalf("enrollment %d: %v", i, err)
		}
	}
}
