package omm_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/openomm/omm"
	"github.com/openomm/omm/auth/authtest"
	"github.com/openomm/omm/enroll/apns"
	"github.com/openomm/omm/enroll/apns/apnstest"
	"github.com/openomm/omm/events"
	"github.com/openomm/omm/storage"
)

const credTopic = "com.apple.mgmt.External.4b1c2d3e-0000-4000-8000-00000000cafe"

// credCert makes a push certificate for topic (or a plain one when topic
// is empty) valid until notAfter.
func credCert(t *testing.T, topic string, notAfter time.Time) tls.Certificate {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	subject := pkix.Name{CommonName: "serving"}
	if topic != "" {
		subject = pkix.Name{CommonName: "APSP:" + topic,
			ExtraNames: []pkix.AttributeTypeAndValue{{Type: asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}, Value: topic}}}
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(notAfter.Unix()), Subject: subject, NotBefore: notAfter.AddDate(-1, 0, 0),
		NotAfter: notAfter, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// TestCredentialExpiry: the admin API shows the expiry of the push and
// serving certificates, marks the one within 30 days expiring, and every
// org's event stream gets one credential.expiring event a day; the push
// certificate is replaced without a restart by one for the same topic,
// and one for another topic is refused with a clear error.
func TestCredentialExpiry(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock(time.Date(2027, 5, 1, 12, 0, 0, 0, time.UTC))
	srv := apnstest.NewServer()
	defer srv.Close()
	push, err := apns.New(credTopic, apns.WithCertificate(credCert(t, credTopic, clock.Now().Add(20*24*time.Hour))),
		apns.WithEndpoint(srv.URL()), apns.WithRootCAs(srv.RootCAs()))
	if err != nil {
		t.Fatal(err)
	}
	defer push.Close()
	serving := credCert(t, "", clock.Now().Add(90*24*time.Hour)).Leaf
	store := lcMemory()
	sdk, err := omm.New(ctx, omm.Config{Store: store, Directory: &authtest.Directory{}, PublicURL: "https://mdm.example.com",
		Logger: lcQuiet, Clock: clock.Now, Push: push, Topic: credTopic, Secrets: lcKeeper,
		ServingCertificate: func() *x509.Certificate { return serving }})
	if err != nil {
		t.Fatal(err)
	}
	var orgs []storage.OrgID
	for _, name := range []string{"acme", "beta"} {
		o := storage.Org{ID: storage.NewOrgID(), Name: name, DisplayName: name}
		if _, err := store.CreateOrg(ctx, o, storage.AuditEntry{Org: o.ID, Time: clock.Now(), Actor: "admin:root", Action: "org.create"}); err != nil {
			t.Fatal(err)
		}
		orgs = append(orgs, o.ID)
	}

	h := sdk.AdminHandler("/admin", func(*http.Request) (omm.Admin, error) { return omm.Admin{Org: orgs[0], Actor: "admin:test"}, nil })
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/admin/credentials", nil))
	var got struct{ Credentials []omm.Credential }
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != 200 || len(got.Credentials) != 2 {
		t.Fatalf("GET /credentials: %d %s", rec.Code, rec.Body)
	}
	for _, c := range got.Credentials {
		switch c.Name {
		case omm.CredentialPush:
			if !c.Expiring || c.Expired || c.Topic != credTopic {
				t.Errorf("push certificate 20 days from expiry: %+v", c)
			}
		case omm.CredentialServing:
			if c.Expiring || c.Expired {
				t.Errorf("serving certificate 90 days from expiry: %+v", c)
			}
		}
	}

	expiring := func(org storage.OrgID) int {
		page, err := sdk.Events(ctx, org, events.Query{Limit: events.MaxPage})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range page.Events {
			if e.Kind == events.CredentialExpiring && e.Data["credential"] == omm.CredentialPush {
				n++
			}
		}
		return n
	}
	// Other replicas on the same database, one of them restarted: the
	// deployment warns once a day, not once per process.
	replica := func() *omm.SDK {
		r, err := omm.New(ctx, omm.Config{Store: store, Directory: &authtest.Directory{}, PublicURL: "https://mdm.example.com",
			Logger: lcQuiet, Clock: clock.Now, Push: push, Topic: credTopic, Secrets: lcKeeper, ReplicaID: "replica-b",
			ServingCertificate: func() *x509.Certificate { return serving }})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	sdk.ReconcileAll(ctx)
	sdk.RenewAll(ctx)
	replica().ReconcileAll(ctx)
	restarted := replica()
	restarted.ReconcileAll(ctx)
	for _, o := range orgs {
		if n := expiring(o); n != 1 {
			t.Errorf("org %s: %d credential.expiring events after rounds of three processes the same day; want 1", o, n)
		}
	}
	clock.Advance(25 * time.Hour)
	restarted.RenewAll(ctx)
	sdk.RenewAll(ctx)
	if n := expiring(orgs[1]); n != 2 {
		t.Errorf("a day later, two replicas: %d events; want 2", n)
	}

	if err := sdk.ReplacePushCertificate(credCert(t, "com.apple.mgmt.External.other", clock.Now().AddDate(1, 0, 0))); !errors.Is(err, apns.ErrTopicMismatch) {
		t.Errorf("a certificate for another topic: %v; want apns.ErrTopicMismatch", err)
	}
	renewed := credCert(t, credTopic, clock.Now().AddDate(1, 0, 0))
	if err := sdk.ReplacePushCertificate(renewed); err != nil {
		t.Fatal(err)
	}
	for _, c := range sdk.Credentials() {
		if c.Name == omm.CredentialPush && (c.Expiring || !c.NotAfter.Equal(renewed.Leaf.NotAfter)) {
			t.Errorf("after the replacement: %+v", c)
		}
	}
	clock.Advance(25 * time.Hour)
	sdk.RenewAll(ctx)
	if n := expiring(orgs[1]); n != 2 {
		t.Errorf("after the replacement: %d events; want no new one", n)
	}
}
