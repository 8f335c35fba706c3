// Package migrate reads the versioned schema migrations that the SQL
// backends embed and apply on open. A migration is a file named
// NNNN_description.sql; versions start at 1 and have no gaps, so that every
// database of a given version has exactly the same schema.
package migrate

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// ErrSchemaTooNew is returned when a database was migrated by a newer
// release than the running one: opening it could corrupt data the newer
// release relies on.
var ErrSchemaTooNew = errors.New("database schema is newer than this release supports")

// Migration is one schema step.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Load reads the migrations in dir of fsys, ordered by version.
func Load(fsys fs.FS, dir string) ([]Migration, error) {
	files, err := fs.Glob(fsys, path.Join(dir, "*.sql"))
	if err != nil {
		return nil, err
	}
	var ms []Migration
	for _, f := range files {
		base := path.Base(f)
		num, name, ok := strings.Cut(strings.TrimSuffix(base, ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 || name == "" {
			return nil, fmt.Errorf("migration file %q: want NNNN_description.sql", base)
		}
		sql, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: name, SQL: string(sql)})
	}
	slices.SortFunc(ms, func(a, b Migration) int { return a.Version - b.Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration %d (%s): versions must run 1, 2, 3 … without gaps or repeats", m.Version, m.Name)
		}
	}
	return ms, nil
}

// Pending returns the migrations after version current, or ErrSchemaTooNew
// when current is beyond the last one known.
func Pending(ms []Migration, current int) ([]Migration, error) {
	if current > len(ms) {
		return nil, fmt.Errorf("%w: database at version %d, this release knows %d", ErrSchemaTooNew, current, len(ms))
	}
	return ms[current:], nil
}
