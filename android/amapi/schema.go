package amapi

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/openomm/omm/android/internal/discovery"
)

// ErrInvalid is returned for a request Google's service would refuse as
// INVALID_ARGUMENT or FAILED_PRECONDITION: a policy or command the API
// schema does not allow, an expired or used-up enrollment token, a command
// the device's management mode does not support.
var ErrInvalid = errors.New("amapi: invalid request")

// The discovery document is linked in only by programs that validate (the
// linker drops an unreferenced embedded file).
//
//go:embed testdata/androidmanagement-api.json
var discoveryDoc []byte

var schema = sync.OnceValues(func() (*discovery.Doc, error) { return discovery.Parse(discoveryDoc) })

// Validate checks v, marshalled to JSON, against the named schema of
// Google's discovery document for the API ("Policy", "Command" …): unknown
// fields, wrong types, unknown, deprecated or *_UNSPECIFIED enum values and
// output-only fields are refused with an error wrapping ErrInvalid that
// lists each problem.
func Validate(schemaName string, v any) error {
	doc, err := schema()
	if err != nil {
		return err
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrInvalid, schemaName, err)
	}
	if errs := doc.Validate(schemaName, data); len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalid, errors.Join(errs...))
	}
	return nil
}
