package main

import (
	"errors"
	"strings"
	"testing"
)

// TestLeaveWalk: a user with an iPhone, a Knox phone and a work-profile
// phone, and one unused enrollment credential of each kind, is
// deactivated in the admin console; every credential and the session are
// refused afterwards and every device ends deprovisioned. Another user's
// walk on the same server is unaffected.
func TestLeaveWalk(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	out := &syncBuffer{}
	res, err := walkLeave(t.Context(), leaveConfig{commonFlags: ts.flags("bob"), adminToken: ts.adminToken}, out)
	if err != nil {
		t.Fatalf("leave walk: %v\n%s", err, out)
	}
	for _, kind := range []string{credLink, credIdentity, credPhase3, credAgent, credAMAPI, credSession} {
		if res.Refused[kind] == "" {
			t.Errorf("%s not shown refused: %v", kind, res.Refused)
		}
	}
	if res.Refused[credSession] != "401 Unauthorized" || res.Refused[credLink] != "403 Forbidden" {
		t.Errorf("refusals %v", res.Refused)
	}
	for _, d := range []string{"iPhone", "Knox phone", "work-profile phone"} {
		if res.Final[d] != "deprovisioned" {
			t.Errorf("%s ends %q", d, res.Final[d])
		}
	}
	// Revoked: the link and the OTA session, the two identities, the two
	// Android tokens.
	if !strings.Contains(res.Console, "3 device(s) are being deprovisioned") || !strings.Contains(res.Console, "6 unused enrollment credential(s) were revoked") {
		t.Errorf("console said %q", res.Console)
	}
	// alice, who stays, still enrolls.
	if _, err := walkIOS(t.Context(), walkConfig{commonFlags: ts.flags("alice"), delivery: "direct", storeApp: ""}, &syncBuffer{}); err != nil {
		t.Errorf("alice's walk after bob left: %v", err)
	}
}

func TestParseLeave(t *testing.T) {
	for _, args := range [][]string{{"-password", "x"}, {"-admin-token", "t", "-agent-token", "s"}} {
		if _, err := parseLeave(args, &syncBuffer{}); !errors.Is(err, errUsage) {
			t.Errorf("parseLeave(%q) = %v, want a usage error", args, err)
		}
	}
	if _, err := parseLeave([]string{"-password", "x", "-admin-token", "t"}, &syncBuffer{}); err != nil {
		t.Error(err)
	}
}
