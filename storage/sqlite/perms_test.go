package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/sqlite"
)

// TestFilesReadableByOwnerOnly (issue 22, finding 6): omm.db, -wal and -shm
// were created 0644, readable by every local user. They are created 0600,
// and an existing database that others may read is tightened at open.
func TestFilesReadableByOwnerOnly(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "omm.db")
	open := func() {
		t.Helper()
		s, err := sqlite.Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		o := storage.Org{ID: storage.NewOrgID(), Name: "n" + string(storage.NewOrgID())[4:14], DisplayName: "x"}
		if _, err := s.CreateOrg(context.Background(), o, storage.AuditEntry{Org: o.ID, Time: time.Now(), Actor: "test", Action: "org.create"}); err != nil {
			t.Fatal(err)
		}
		check := func(p string) {
			t.Helper()
			st, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm()&0o077 != 0 {
				t.Errorf("%s is %v: others may read it", filepath.Base(p), st.Mode().Perm())
			}
		}
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			check(p)
		}
		s.Close()
	}
	open()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		os.Chmod(p, 0o644) //nolint:errcheck // some may be gone after close
	}
	open()
}
