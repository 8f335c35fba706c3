package sqlite

import (
	"path/filepath"
	"testing"
)

// TestDurabilitySettings checks the settings every connection runs with:
// WAL, synchronous=FULL, foreign keys, a busy timeout, and read-only
// readers.
func TestDurabilitySettings(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "omm.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, pool := range []struct {
		name string
		q    func(string) (string, error)
	}{
		{"writer", func(p string) (v string, err error) { return v, s.w.QueryRow("PRAGMA " + p).Scan(&v) }},
		{"reader", func(p string) (v string, err error) { return v, s.r.QueryRow("PRAGMA " + p).Scan(&v) }},
	} {
		for pragma, want := range map[string]string{
			"journal_mode": "wal",
			"synchronous":  "2", // FULL
			"foreign_keys": "1",
			"busy_timeout": "10000",
		} {
			got, err := pool.q(pragma)
			if err != nil {
				t.Fatalf("%s: PRAGMA %s: %v", pool.name, pragma, err)
			}
			if got != want {
				t.Errorf("%s: PRAGMA %s = %s, want %s", pool.name, pragma, got, want)
			}
		}
	}
	if _, err := s.r.Exec("INSERT INTO orgs (id, name, display_name, version, created_us, updated_us) VALUES ('x', 'x', 'x', 1, 0, 0)"); err == nil {
		t.Errorf("a reader connection accepted a write")
	}
}
