package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/sqlstore"
)

// A host product keeps the SDK's tables in its own database, beside its
// own, under a prefix of their own.
func Example() {
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file::memory:?_foreign_keys=1") // the host's pool
	if err != nil {
		fmt.Println(err)
		return
	}
	db.SetMaxOpenConns(1) // an in-memory SQLite database lives in one connection
	defer db.Close()
	if _, err := db.Exec("CREATE TABLE devices (id TEXT PRIMARY KEY)"); err != nil { // the host's own table
		fmt.Println(err)
		return
	}

	s, err := sqlstore.New(ctx, db, sqlstore.SQLite, sqlstore.WithPrefix("mdm_"), sqlstore.WithLogger(quiet))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close() // leaves db open: it is the host's
	o := storage.Org{ID: "org_acme", Name: "acme", DisplayName: "Acme"}
	if _, err := s.CreateOrg(ctx, o, storage.AuditEntry{Org: o.ID, Time: time.Now(), Actor: "system", Action: "org.create"}); err != nil {
		fmt.Println(err)
		return
	}
	var tables int
	db.QueryRow("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name LIKE 'mdm_%'").Scan(&tables)
	found, err := s.OrgByName(ctx, "acme")
	fmt.Println(found.DisplayName, err, tables > 20)
	// Output: Acme <nil> true
}
