package sqlstore

import "context"

// WriteExec runs fn in one of s's write transactions; exec runs a
// statement in it (tables in braces, ? placeholders), for tests that need
// transactions the store's methods never make.
func (s *Store) WriteExec(ctx context.Context, fn func(exec func(query string, args ...any) error) error) error {
	return s.write(ctx, func(t tx) error {
		return fn(func(query string, args ...any) error {
			_, err := t.exec(ctx, query, args...)
			return err
		})
	})
}
