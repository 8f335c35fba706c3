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
	_, err := Measure(data, lim)
	return err
}

// Stats is what Check measured of an input it accepted: enough to tell,
// without reading the input again, whether it is also within stricter
// limits (see Stats.Within).
type Stats struct {
	size   int
	binary bool
	// depth and values as Check counts them (XML: elements; binary: the
	// expanded tree's levels and values), objects the binary object
	// count, bytes the binary tree's content bytes.
	depth, values, objects, bytes int
}

// Measure is Check that also returns what it measured of accepted input.
func Measure(data []byte, lim Limits) (Stats, error) {
	lim = lim.withDefaults()
	if len(data) > lim.MaxSize {
		return Stats{}, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(data), lim.MaxSize)
	}
	if bytes.HasPrefix(data, binaryMagic) {
		return checkBinary(data, lim)
	}
	return checkXML(data, lim)
}

// Within reports what Check(data, lim) reports for the input s measures
// (nil, or an error wrapping ErrTooLarge, ErrTooDeep or ErrTooMany), for
// lim no looser in any bound than the limits s was measured under: input
// beyond those was refused, not measured.
func (s Stats) Within(lim Limits) error {
	lim = lim.withDefaults()
	kind := "elements"
	if s.binary {
		kind = "levels"
	}
	switch {
	case s.size > lim.MaxSize:
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, s.size, lim.MaxSize)
	case s.binary && s.objects > lim.MaxValues:
		return fmt.Errorf("%w: %d objects", ErrTooMany, s.objects)
	case s.depth > lim.MaxDepth:
		return fmt.Errorf("%w: deeper than %d %s", ErrTooDeep, lim.MaxDepth, kind)
	case s.values > lim.MaxValues:
		return fmt.Errorf("%w: more than %d values", ErrTooMany, lim.MaxValues)
	case s.bytes > lim.MaxSize:
		return fmt.Errorf("%w: more than %d bytes of content once expanded", ErrTooLarge, lim.MaxSize)
	}
	return nil
}

// Unmarshal decodes data into v after Check has accepted it.
func Unmarshal(data []byte, v any, lim Limits) error {
	_, err := UnmarshalMeasured(data, v, lim)
	return err
}

// UnmarshalMeasured is Unmarshal that also returns what Check measured:
// a caller handing the decoded value to a reader with stricter limits
// checks them with Stats.Within instead of decoding again.
func UnmarshalMeasured(data []byte, v any, lim Limits) (Stats, error) {
	st, err := Measure(data, lim)
	if err != nil {
		return Stats{}, err
	}
	if err := plist.Unmarshal(data, v); err != nil {
		return Stats{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return st, nil
}

func checkXML(data []byte, lim Limits) (Stats, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	depth, values, deepest := 0, 0, 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			if values == 0 {
				return Stats{}, fmt.Errorf("%w: no elements", ErrMalformed)
			}
			return Stats{size: len(data), depth: deepest, values: values}, nil
		}
		if err != nil {
			return Stats{}, fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		switch tok.(type) {
		case xml.StartElement:
			depth++
			values++
			deepest = max(deepest, depth)
			if depth > lim.MaxDepth {
				return Stats{}, fmt.Errorf("%w: deeper than %d elements", ErrTooDeep, lim.MaxDepth)
			}
			if values > lim.MaxValues {
				return Stats{}, fmt.Errorf("%w: more than %d elements", ErrTooMany, lim.MaxValues)
			}
		case xml.EndElement:
			depth--
		}
	}
}
