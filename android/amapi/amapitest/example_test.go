package amapitest_test

import (
	"context"
	"fmt"

	"github.com/openomm/omm/android/amapi"
	"github.com/openomm/omm/android/amapi/amapitest"
)

// A work profile enrolls through the fake, and a wipe removes the work
// profile only: the personal app stays.
func Example() {
	ctx := context.Background()
	srv, _ := amapitest.New("enterprises/LOCAL", amapitest.WithNotifier(func(_ context.Context, n amapitest.Notification) {
		fmt.Println("notified:", n.Type)
	}))
	pol, _ := srv.PatchPolicy(ctx, srv.Enterprise(), "staff", amapi.Policy{
		CrossProfilePolicies: &amapi.CrossProfilePolicies{CrossProfileDataSharing: amapi.DataSharingWorkToPersonalBlock},
	})
	tok, _ := srv.CreateEnrollmentToken(ctx, srv.Enterprise(), amapi.EnrollmentTokenRequest{PolicyName: pol, OneTimeOnly: true})

	dev, _ := srv.Enroll(ctx, amapitest.Enrollment{Token: tok.Value, Provisioning: amapitest.ProvisionLink, APILevel: 34,
		Apps: []amapitest.App{{PackageName: "org.example.diary"}}})
	v, _ := srv.DeviceView(dev.Secret)
	fmt.Println(v.ManagementMode, v.Ownership, v.Policy.CrossProfilePolicies.CrossProfileDataSharing)

	_, _ = srv.IssueCommand(ctx, dev.Name, amapi.Command{Type: amapi.CommandWipe})
	v, _ = srv.DeviceView(dev.Secret)
	fmt.Println(v.Wiped, len(v.PersonalApps), "personal app kept")
	// Output:
	// notified: ENROLLMENT
	// PROFILE_OWNER PERSONALLY_OWNED DATA_SHARING_FROM_WORK_TO_PERSONAL_DISALLOWED
	// WORK_PROFILE_REMOVED 1 personal app kept
}
