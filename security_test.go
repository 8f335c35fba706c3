package omm_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/openomm/omm"
	"github.com/openomm/omm/auth/authtest"
	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// Regression tests of issue 22 that need the whole SDK; SECURITY.md names
// each next to its defence.

// TestOTAIdentityIsNotAnMDMIdentity (finding 1): the certificate an OTA
// enrollment's phase 2 hands out, which only signs phase 3, passed MDM
// Authenticate, so that one OTA session enrolled two devices. Check-in
// refuses it; phase 3 and the real MDM identity still work.
func TestOTAIdentityIsNotAnMDMIdentity(t *testing.T) {
	w := newWorld(t, lcMemory(), &authtest.Directory{}, nil, "")
	const udid = "00008110-0000000000000A01"
	o := w.otaIdentity("alice", udid)
	second := &iPhone{w: w, udid: "00008110-0000000000000B02", cert: o.cert, key: lcKey(3),
		checkInURL: w.sdk.URL("/mdm/" + string(w.org) + "/checkin"), serverURL: w.sdk.URL("/mdm/" + string(w.org) + "/server")}
	for _, u := range []string{second.udid, udid} {
		second.udid = u
		if st := second.authenticate(); st != http.StatusForbidden {
			t.Errorf("Authenticate as %s with the OTA identity: %d, want 403", u, st)
		}
		if _, err := w.store.DeviceByIdentifier(context.Background(), w.org, u); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("the OTA identity registered device %s: %v", u, err)
		}
	}
	// The enrollment itself goes on: phase 3 is still signed by it.
	body, err := signPhase3(o)
	if err != nil {
		t.Fatal(err)
	}
	if st, b := w.send(http.MethodPost, o.postURL, body, nil); st != http.StatusOK {
		t.Fatalf("phase 3 with the OTA identity: %d %s", st, b)
	}
}

// TestDirectIOSProfileNeedsThePolicy (finding 5): with simulators refused,
// OTA refused a fake iPhone, yet asking for the direct profile enrolled the
// same fake iPhone. The direct profile is for Macs; an iPhone or iPad gets
// it only where its policy's iOS rule accepts it (off by default), and an
// identity from a Mac's direct profile does not enroll an iPhone.
func TestDirectIOSProfileNeedsThePolicy(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, lcMemory(), &authtest.Directory{}, nil, "")
	pols, err := w.sdk.Policy.List(ctx, w.org)
	if err != nil || len(pols) == 0 || pols[0].Name != "Staff phones" {
		t.Fatalf("policies: %v %v", pols, err)
	}
	p := pols[0]
	ios := p.Rules[policy.IOS]
	ios.Requirements.AcceptDirectProfile = false
	p.Rules[policy.IOS] = ios
	p.Rules[policy.MacOS] = policy.Rule{Action: policy.Require}
	if _, err := w.sdk.UpdatePolicy(ctx, "admin:root", p); err != nil {
		t.Fatal(err)
	}
	iosFacts := omm.Facts{Platform: "ios", OSVersion: "17.4"}
	if _, err := w.sdk.BeginAppleEnrollment(ctx, w.org, "alice", iosFacts, enroll.KindDirect); !errors.Is(err, omm.ErrNotPermitted) {
		t.Errorf("direct profile for an iPhone without the policy's consent: %v, want ErrNotPermitted", err)
	}
	if _, err := w.sdk.BeginAppleEnrollment(ctx, w.org, "alice", iosFacts, enroll.KindOTA); err != nil {
		t.Errorf("OTA for an iPhone: %v", err)
	}
	// The Mac's direct profile still works, for a Mac only.
	mac := w.macIdentity("alice", "MAC-UDID-0001")
	if st := mac.authenticate(); st != http.StatusForbidden { // authenticate says "iPhone15,4"
		t.Errorf("an iPhone authenticating with a Mac's direct identity: %d, want 403", st)
	}
	if st := mac.authenticateAs("MacBookPro18,3"); st != http.StatusOK {
		t.Errorf("a Mac authenticating with its direct identity: %d, want 200", st)
	}
}
