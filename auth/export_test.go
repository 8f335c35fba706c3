package auth

// Test hooks: compiled only into this package's tests.

// WithTestParams sets argon2id parameters below the production floor for
// both passwords and PINs, so that tests (especially under -race) do not
// spend seconds hashing. Production code cannot reach it.
func WithTestParams(p Params) Option {
	return func(c *config) error {
		if err := p.bounded(); err != nil {
			return err
		}
		c.password, c.pin = p, p
		return nil
	}
}

// DecodeJSON exposes the API's JSON reader to the fuzz target.
var DecodeJSON = decodeJSON

// ParseToken exposes the token parser.
var ParseToken = parseToken
