package amapi_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/openomm/omm/android/amapi"
)

// The fake provider stands in for Google in tests: patch a policy, create an
// enrollment token for it, and see what was recorded.
func Example() {
	ctx := context.Background()
	fake := amapi.NewFake()
	name, _ := fake.PatchPolicy(ctx, "enterprises/LC01", "sales", amapi.Policy{
		Applications:  []amapi.ApplicationPolicy{{PackageName: "com.example.mail", InstallType: amapi.ForceInstalled}},
		PlayStoreMode: amapi.PlayStoreAllowList,
	})
	tok, _ := fake.CreateEnrollmentToken(ctx, "enterprises/LC01", amapi.EnrollmentTokenRequest{PolicyName: name, AdditionalData: "ours"})
	req, _ := fake.Token(tok.Value)
	p, _ := fake.Policy(name)
	body, _ := json.Marshal(p)
	fmt.Println(name, req.AdditionalData)
	fmt.Println(string(body))
	// Output:
	// enterprises/LC01/policies/sales ours
	// {"applications":[{"packageName":"com.example.mail","installType":"FORCE_INSTALLED"}],"playStoreMode":"WHITELIST"}
}
