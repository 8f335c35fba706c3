package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/openomm/omm"
)

// What the SDK sees of Acme's users is what Acme's directory says: bob is
// in staff, so the staff policy decides for his iPhone.
func Example_directory() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "acme-example-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "acme.db")+"?_foreign_keys=1&_busy_timeout=10000&_txlock=immediate")
	if err != nil {
		panic(err)
	}
	defer db.Close()
	a := &acme{db: db, sessions: map[string]string{}}
	if err := a.setUp(ctx, "https://127.0.0.1:8444/device-mgmt", false, io.Discard); err != nil {
		panic(err)
	}
	groups, _ := a.Groups(ctx, org, "u_bob")
	staff, _ := a.GroupMembers(ctx, org, "staff")
	dec, err := a.sdk.Decide(ctx, org, "u_bob", omm.Facts{Platform: "ios", OSVersion: "17.4"})
	if err != nil {
		panic(err)
	}
	fmt.Println(groups[0].Name, staff, dec.Outcome, dec.Requirements.Passcode.MinLength)
	// Output: Staff [u_ada u_bob] enroll 8
}
