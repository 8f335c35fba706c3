package migrate_test

import (
	"fmt"
	"testing/fstest"

	"github.com/openomm/omm/storage/internal/migrate"
)

// A database at version 1 has one migration still to apply.
func ExamplePending() {
	fsys := fstest.MapFS{
		"migrations/0001_core.sql":  {Data: []byte("CREATE TABLE orgs (id TEXT);")},
		"migrations/0002_users.sql": {Data: []byte("CREATE TABLE users (id TEXT);")},
	}
	all, err := migrate.Load(fsys, "migrations")
	if err != nil {
		fmt.Println(err)
		return
	}
	pending, _ := migrate.Pending(all, 1)
	for _, m := range pending {
		fmt.Println(m.Version, m.Name)
	}
	_, err = migrate.Pending(all, 3)
	fmt.Println(err)
	// Output:
	// 2 users
	// database schema is newer than this release supports: database at version 3, this release knows 2
}
