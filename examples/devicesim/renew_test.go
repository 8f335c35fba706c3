package main

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestRenewWalk runs ommserver with a 9-second identity validity (renewed
// in its last 3 seconds) and walks two iPhones through two renewals each:
// one enrolled directly proving itself with its TLS client certificate,
// one over the air signing its messages. Each takes its MDM enrollment
// profile again, enrolls and switches to a new identity, stays the same
// device on the server with no renewal left unfinished, and sees its
// first identity refused after its expiry.
func TestRenewWalk(t *testing.T) {
	t.Parallel()
	ts := startServerArgs(t, "-allow-simulators", "-identity-validity", "9s", "-renewal-interval", "500ms")
	for _, tc := range []struct{ name, delivery, proof, user string }{
		{"direct-tls", "direct", "tls", "alice"}, {"ota-signature", "ota", "signature", "bob"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out := &syncBuffer{}
			flags := ts.flags(tc.user)
			flags.proof = tc.proof
			res, err := walkRenew(t.Context(), renewConfig{commonFlags: flags, delivery: tc.delivery, renewals: 2,
				every: 200 * time.Millisecond, timeout: time.Minute, adminToken: ts.adminToken}, out)
			if err != nil {
				t.Fatalf("walk: %v\n%s", err, out)
			}
			if len(res.Renewals) != 2 || !res.OldRefused {
				t.Fatalf("%d renewals, old identity refused: %t\n%s", len(res.Renewals), res.OldRefused, out)
			}
			for i, r := range res.Renewals {
				if r.New.SerialNumber.Cmp(r.Old.SerialNumber) == 0 || !r.New.NotAfter.After(r.Old.NotAfter) ||
					!slices.Equal(r.New.Subject.Organization, r.Old.Subject.Organization) {
					t.Errorf("renewal %d: %s (until %s) → %s (until %s)", i+1, r.Old.Subject, r.Old.NotAfter, r.New.Subject, r.New.NotAfter)
				}
			}
			if i := 1; res.Renewals[i].Old != res.Renewals[i-1].New {
				t.Error("the second renewal does not renew the first one's identity")
			}
			// Nothing of enrollment was repeated: only the renewal
			// profiles came.
			for _, c := range res.Commands {
				if c != "InstallProfile" {
					t.Errorf("while renewing the device got %v", res.Commands)
					break
				}
			}
			for _, want := range []string{"MDM identity renewed", "still knows the phone as device", "no unfinished renewal",
				"is refused after its expiry: 403", "still checks in"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("log lacks %q:\n%s", want, out)
				}
			}
		})
	}
}
