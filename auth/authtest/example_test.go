package authtest_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/auth/authtest"
)

// A directory whose user leaves: every enrollment step refuses them.
func Example() {
	ctx := context.Background()
	var dir authtest.Directory
	dir.AddUser(auth.User{Org: "org_acme", ID: "u1", Username: "alice"})
	dir.AddGroup(auth.Group{Org: "org_acme", ID: "g1", Name: "Employees"})
	dir.Join("org_acme", "g1", "u1")

	groups, _ := dir.Groups(ctx, "org_acme", "u1")
	fmt.Println(groups[0].Name, auth.CheckActive(ctx, &dir, "org_acme", "u1"))

	dir.SetStatus("org_acme", "u1", auth.StatusDeactivated)
	fmt.Println(errors.Is(auth.CheckActive(ctx, &dir, "org_acme", "u1"), auth.ErrUserInactive))
	// Output:
	// Employees <nil>
	// true
}
