package android_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// FuzzProviderDevice feeds arbitrary Device resources (what Google relays
// from the device) to EnrollManaged and SyncNotified: they must never
// panic, a resource that does not name a valid token must never enroll
// anything, and a device that did not enroll is never synced.
func FuzzProviderDevice(f *testing.F) {
	f.Add([]byte(`{"enrollmentTokenData":"x","hardwareInfo":{"serialNumber":"S"}}`))
	f.Add([]byte(`{"hardwareInfo":[]}`))
	f.Add([]byte(`[`))
	f.Add([]byte(`{"enrollmentTokenData":1}`))
	// TOKEN is replaced with the issued token's ID, so that the fuzzer
	// also explores resources that do enroll.
	f.Add([]byte(`{"enrollmentTokenData":"TOKEN","hardwareInfo":{"serialNumber":"S1","model":"P"},"networkInfo":{"imei":"1"}}`))
	f.Add([]byte(`{"enrollmentTokenData":"b3JnX2FjbWU.TOKEN","applicationReports":[{"packageName":"a"}]}`))
	f.Add([]byte(`{"enrollmentTokenData":"b3JnX290aGVy.TOKEN"}`))
	f.Fuzz(func(t *testing.T, resource []byte) {
		e := newEnv(t)
		managed := e.decision(t, policy.Modes{WorkProfile: true}, policy.Device{OSVersion: "14", APILevel: 34, WorkProfile: true})
		iss := e.token(t, managed, true, 0)
		name := "enterprises/E1/devices/fz"
		e.fake.SetDevice(name, bytes.ReplaceAll(resource, []byte("TOKEN"), []byte(iss.Token.ID)))
		d, err := e.svc.EnrollManaged(context.Background(), "org_acme", name)
		_, serr := e.svc.SyncNotified(context.Background(), name)
		if err != nil {
			if errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("unexpected not-found: %v", err)
			}
			if serr == nil {
				t.Fatal("synced a device that did not enroll")
			}
			return
		}
		// Enrolled: the resource must have named our token.
		if d.TokenID != iss.Token.ID {
			t.Fatalf("enrolled with token %q, issued %q", d.TokenID, iss.Token.ID)
		}
		inv, err := e.store.Device(context.Background(), "org_acme", d.ID)
		if err != nil || inv.State != inventory.StateEnrolled {
			t.Fatal(fmt.Sprint("device not enrolled: ", inv.State, err))
		}
	})
}
