package policy_test

import (
	"context"
	"fmt"
	"time"

	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
)

// A policy, a user and a device produce a decision: here a Samsung phone
// without work-profile support on Android 9 falls back to Samsung Knox, and
// the requirements a work profile would have enforced are dropped with a
// warning.
func Example() {
	ctx := context.Background()
	store := memory.New()
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	acme := storage.Org{ID: "org_acme", Name: "acme", DisplayName: "Acme"}
	if _, err := store.CreateOrg(ctx, acme, storage.AuditEntry{Org: acme.ID, Time: now, Actor: "system", Action: "org.create"}); err != nil {
		fmt.Println(err)
		return
	}
	svc := policy.New(store, policy.WithClock(func() time.Time { return now }))

	_, err := svc.Create(ctx, "admin:alice", policy.Policy{
		ID: "pol_sales", Org: acme.ID, Name: "Sales", Priority: 10, Groups: []string{"sales"},
		Rules: map[policy.Platform]policy.Rule{
			policy.Android: {Action: policy.Require, Requirements: policy.Requirements{
				Passcode:       policy.Passcode{Required: true, MinLength: 6},
				DataSeparation: policy.DataSeparation{BlockWorkToPersonal: true},
				Android: policy.AndroidRequirements{
					Modes: policy.Modes{WorkProfile: true, Knox: true, DeviceAdmin: true},
				},
			}},
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	dec, err := svc.Evaluate(ctx, acme.ID,
		policy.User{ID: "bob", Groups: []string{"everyone", "sales"}},
		policy.Device{Platform: policy.Android, OSVersion: "9", APILevel: 28, Manufacturer: "samsung",
			Model: "SM-G960F", Ownership: policy.OwnershipPersonal, Knox: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("outcome:", dec.Outcome, "mode:", dec.Android.Mode)
	fmt.Println("passcode length:", dec.Requirements.Passcode.MinLength)
	for _, r := range dec.Reasons {
		fmt.Println("-", r)
	}
	for _, w := range dec.Warnings {
		fmt.Println("!", w)
	}
	// Output:
	// outcome: enroll mode: Samsung Knox
	// passcode length: 6
	// - policy "Sales" (priority 10) targets the user's group "sales"
	// - work profile: the device does not support a work profile
	// - Samsung Knox: enabled and supported by the device: chosen
	// - native device admin: not needed, Samsung Knox was chosen first
	// - wiping all device data is not permitted by policy "Sales": only work data can be removed
	// - policy "Sales" requires enrollment of Android devices
	// ! work-to-personal sharing cannot be blocked in Samsung Knox mode, which has no work profile: not applied
}
