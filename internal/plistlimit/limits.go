package plistlimit

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"

	"github.com/micromdm/plist"
)

// Default limits. Profiles and MDM messages are kilobytes and nest about a
// dozen levels; the largest legitimate input is a profile with embedded
// certificates and web clip icons.
const (
	DefaultMaxSize   = 4 << 20
	DefaultMaxDepth  = 32
	DefaultMaxValues = 1 << 16
)

// Sentinel errors, wrapped with %w.
var (
	ErrTooLarge  = errors.New("plist: input too large")
	ErrTooDeep   = errors.New("plist: nested too deeply")
	ErrTooMany   = errors.New("plist: too many values")
	ErrMalformed = errors.New("plist: malformed input")
)

// Limits bounds what Check accepts. A zero field means the default.
type Limits struct {
	// MaxSize bounds the input length and, for binary plists, the total
	// bytes of strings and data the decoded tree would hold.
	MaxSize int
	// MaxDepth bounds the nesting of elements (XML, counting <plist>) or of
	// containers (binary, counting the root).
	MaxDepth int
	// MaxValues bounds the number of elements (XML) or of values in the
	// decoded tree (binary).
	MaxValues int
}

func (l Limits) withDefaults() Limits {
	if l.MaxSize <= 0 {
		l.MaxSize = DefaultMaxSize
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxValues <= 0 {
		l.MaxValues = DefaultMaxValues
	}
	return l
}

// binaryMagic is the prefix micromdm/plist uses to pick its binary parser.
var binaryMagic = []byte("bplist0")

// Check reports whether data is within lim, without decoding it.
func Check(data []byte, lim Limits) error {
	lim = lim.withDefaults()
	if len(data) > lim.MaxSize {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(data), lim.MaxSize)
	}
	if bytes.HasPrefix(data, binaryMagic) {
		return checkBinary(data, lim)
	}
	return checkXML(data, lim)
}

// Unmarshal decodes data into v after Check has accepted it.
func Unmarshal(data []byte, v any, lim Limits) error {
	if err := Check(data, lim); err != nil {
		return err
	}
	if err := plist.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return nil
}

func checkXML(data []byte, lim Limits) error {
	d := xml.NewDecoder(bytes.NewReader(data))
	depth, values := 0, 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			if values == 0 {
				return fmt.Errorf("%w: no elements", ErrMalformed)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		switch tok.(type) {
		case xml.StartElement:
			depth++
			values++
			if depth > lim.MaxDepth {
				return fmt.Errorf("%w: deeper than %d elements", ErrTooDeep, lim.MaxDepth)
			}
			if values > lim.MaxValues {
				return fmt.Errorf("%w: more than %d elements", ErrTooMany, lim.MaxValues)
			}
		case xml.EndElement:
			depth--
		}
	}
}
