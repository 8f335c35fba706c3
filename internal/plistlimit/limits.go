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
	st, err := measureToDecode(data, lim)
	if err != nil {
		return Stats{}, err
	}
	if m, ok := v.(*map[string]any); ok && *m == nil {
		if fast, ok := decodeXMLDict(data); ok {
			*m = fast
			return st, nil
		}
	}
	if err := plist.Unmarshal(data, v); err != nil {
		return Stats{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return st, nil
}

// measureToDecode is Measure for input the decoder reads next: an XML
// plist is measured by scanXML, a pass over its bytes several times
// cheaper than tokenizing it, which finds the same elements as the
// tokenizer in well-formed XML; what it does not follow is measured by
// checkXML. Ill-formed XML the scan lets through is refused by the
// decoder, except after the root element, which the decoder never reads
// (there it only adds to the counts).
func measureToDecode(data []byte, lim Limits) (Stats, error) {
	lim = lim.withDefaults()
	if len(data) > lim.MaxSize || bytes.HasPrefix(data, binaryMagic) {
		return Measure(data, lim)
	}
	st, ok, err := scanXML(data, lim)
	if !ok {
		return checkXML(data, lim)
	}
	return st, err
}

// scanXML counts the elements of XML and their nesting by finding its
// markup: start tags (counted), end tags, comments, processing
// instructions and a DOCTYPE without an internal subset (skipped). In
// well-formed XML, '<' only ever starts markup, so it finds exactly the
// elements encoding/xml's Token reports. ok is false, and nothing is
// decided, when the input has anything else: CDATA sections, other <!
// declarations, a DOCTYPE with an internal subset, a self-closing tag
// with attributes, unterminated markup, or end tags that do not balance
// the start tags. It is no validator (the decoder is): of ill-formed
// markup it may accept, the decoder refuses what it reads. It never
// counts fewer elements or levels than the tokenizer finds in what the
// decoder reads, which is what makes its limits hold.
func scanXML(data []byte, lim Limits) (st Stats, ok bool, err error) {
	depth, values, deepest := 0, 0, 0
	for i := 0; ; {
		j := bytes.IndexByte(data[i:], '<')
		if j < 0 {
			break
		}
		i += j + 1
		rest := data[i:]
		switch {
		case len(rest) == 0:
			return Stats{}, false, nil
		case rest[0] == '/':
			depth--
			k := bytes.IndexByte(rest, '>')
			if depth < 0 || k < 0 {
				return Stats{}, false, nil
			}
			i += k + 1
		case rest[0] == '?':
			k := bytes.Index(rest, []byte("?>"))
			if k < 0 {
				return Stats{}, false, nil
			}
			i += k + 2
		case bytes.HasPrefix(rest, []byte("!--")):
			k := bytes.Index(rest[3:], []byte("-->"))
			if k < 0 {
				return Stats{}, false, nil
			}
			i += 3 + k + 3
		case bytes.HasPrefix(rest, []byte("!DOCTYPE")):
			k, _, found := tagEnd(rest)
			if !found || bytes.IndexByte(rest[:k], '[') >= 0 {
				return Stats{}, false, nil
			}
			i += k + 1
		case rest[0] == '!':
			return Stats{}, false, nil
		default:
			k, attrs, found := tagEnd(rest)
			if !found || k == 0 {
				return Stats{}, false, nil
			}
			selfClosing := rest[k-1] == '/'
			if selfClosing && attrs {
				return Stats{}, false, nil
			}
			depth++
			values++
			deepest = max(deepest, depth)
			if depth > lim.MaxDepth {
				return Stats{}, true, fmt.Errorf("%w: deeper than %d elements", ErrTooDeep, lim.MaxDepth)
			}
			if values > lim.MaxValues {
				return Stats{}, true, fmt.Errorf("%w: more than %d elements", ErrTooMany, lim.MaxValues)
			}
			if selfClosing {
				depth--
			}
			i += k + 1
		}
	}
	if depth != 0 || values == 0 {
		return Stats{}, false, nil
	}
	return Stats{size: len(data), depth: deepest, values: values}, true, nil
}

// tagEnd finds the '>' that ends the markup tag starts, outside quoted
// attribute values, and reports whether the tag has an '=' (attributes)
// before it; found is false without one, or at a '<' before it.
func tagEnd(tag []byte) (end int, attrs, found bool) {
	for k := 0; k < len(tag); k++ {
		switch c := tag[k]; c {
		case '"', '\'':
			q := bytes.IndexByte(tag[k+1:], c)
			if q < 0 {
				return 0, false, false
			}
			k += q + 1
		case '=':
			attrs = true
		case '<':
			return 0, false, false
		case '>':
			return k, attrs, true
		}
	}
	return 0, false, false
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
