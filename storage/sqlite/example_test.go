package sqlite_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/sqlite"
)

// A change acknowledged by the store is on disk: it is there after reopening.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "omm-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "omm.db")
	quiet := sqlite.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))

	s, err := sqlite.Open(ctx, path, quiet)
	if err != nil {
		fmt.Println(err)
		return
	}
	o := storage.Org{ID: "org_acme", Name: "acme", DisplayName: "Acme"}
	_, err = s.CreateOrg(ctx, o, storage.AuditEntry{Org: o.ID, Time: time.Now(), Actor: "system", Action: "org.create"})
	s.Close()
	if err != nil {
		fmt.Println(err)
		return
	}

	s, err = sqlite.Open(ctx, path, quiet)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	found, err := s.OrgByName(ctx, "acme")
	fmt.Println(found.ID, err)
	// Output: org_acme <nil>
}
