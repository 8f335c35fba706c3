package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/openomm/omm/storage/sqlite"
)

// TestWriterConnectionSettings: the writer's connection keeps the
// durability settings (WAL, synchronous=FULL, foreign keys) and holds
// temporary storage — the group commit's savepoint journals — in memory
// rather than in temporary files.
func TestWriterConnectionSettings(t *testing.T) {
	db, err := sql.Open("sqlite", sqlite.WriterDSN(filepath.Join(t.TempDir(), "omm.db")))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, c := range []struct {
		pragma string
		want   string
	}{
		{"journal_mode", "wal"},
		{"synchronous", "2"}, // FULL
		{"foreign_keys", "1"},
		{"temp_store", "2"}, // MEMORY
	} {
		var got string
		if err := db.QueryRow("PRAGMA " + c.pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", c.pragma, err)
		}
		if got != c.want {
			t.Errorf("PRAGMA %s = %s, want %s", c.pragma, got, c.want)
		}
	}
}
