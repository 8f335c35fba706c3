package cms

import "fmt"

// Default limits for Parse. CMS messages this project handles (profiles,
// device attribute posts, Mdm-Signature headers, SCEP messages) are a few
// kilobytes to a few hundred; real structures nest about a dozen levels.
const (
	DefaultMaxSize  = 4 << 20
	DefaultMaxDepth = 64
)

// Limits bounds what Parse accepts. A zero field means the default.
type Limits struct {
	// MaxSize is the largest encoding accepted, in bytes.
	MaxSize int
	// MaxDepth is the deepest nesting of constructed BER/DER values accepted.
	MaxDepth int
}

func (l Limits) withDefaults() Limits {
	if l.MaxSize <= 0 {
		l.MaxSize = DefaultMaxSize
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	return l
}

// checkEncoding walks a BER or DER encoding without building it and fails
// if it is larger or deeper than allowed, is not exactly one value, or is
// shaped in a way the pkcs7 BER converter would read differently (a child
// running past its parent, an empty indefinite-length value). pkcs7 recurses
// once per nesting level, so only input that passes here may reach it.
func checkEncoding(b []byte, lim Limits) error {
	lim = lim.withDefaults()
	if len(b) > lim.MaxSize {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(b), lim.MaxSize)
	}
	if len(b) == 0 {
		return fmt.Errorf("%w: empty input", ErrMalformed)
	}
	w := berWalker{b: b, maxDepth: lim.MaxDepth}
	end, err := w.value(0, 1)
	if err != nil {
		return err
	}
	if end != len(b) {
		return fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(b)-end)
	}
	return nil
}

type berWalker struct {
	b        []byte
	maxDepth int
}

// value reads one TLV starting at off and returns the offset just past it.
// Recursion is bounded by maxDepth, which is checked before descending.
func (w *berWalker) value(off, depth int) (int, error) {
	if depth > w.maxDepth {
		return 0, fmt.Errorf("%w: deeper than %d levels", ErrTooDeep, w.maxDepth)
	}
	b := w.b
	if off >= len(b) {
		return 0, fmt.Errorf("%w: truncated tag at %d", ErrMalformed, off)
	}
	constructed := b[off]&0x20 != 0
	if b[off]&0x1f == 0x1f {
		// High tag number form: base-128 digits, last one below 0x80.
		// Four digits cover every tag number in use.
		off++
		for n := 0; ; n++ {
			if off >= len(b) || n == 4 {
				return 0, fmt.Errorf("%w: bad high tag number", ErrMalformed)
			}
			c := b[off]
			off++
			if c < 0x80 {
				break
			}
		}
	} else {
		off++
	}
	if off >= len(b) {
		return 0, fmt.Errorf("%w: truncated length at %d", ErrMalformed, off)
	}
	l := b[off]
	off++
	switch {
	case l == 0x80:
		if !constructed {
			return 0, fmt.Errorf("%w: indefinite length on primitive value", ErrMalformed)
		}
		if w.isEOC(off) {
			return 0, fmt.Errorf("%w: empty indefinite-length value", ErrMalformed)
		}
		for !w.isEOC(off) {
			if off+2 > len(b) {
				return 0, fmt.Errorf("%w: missing end-of-contents", ErrMalformed)
			}
			next, err := w.value(off, depth+1)
			if err != nil {
				return 0, err
			}
			off = next
		}
		return off + 2, nil
	case l > 0x80:
		n := int(l & 0x7f)
		if n > 4 || off+n > len(b) {
			return 0, fmt.Errorf("%w: bad length at %d", ErrMalformed, off)
		}
		if b[off] == 0 {
			return 0, fmt.Errorf("%w: length with leading zero at %d", ErrMalformed, off)
		}
		length := 0
		for i := 0; i < n; i++ {
			length = length<<8 | int(b[off+i])
		}
		off += n
		return w.contents(off, length, constructed, depth)
	default:
		return w.contents(off, int(l), constructed, depth)
	}
}

func (w *berWalker) contents(off, length int, constructed bool, depth int) (int, error) {
	if length < 0 || length > len(w.b)-off {
		return 0, fmt.Errorf("%w: length %d runs past end", ErrMalformed, length)
	}
	end := off + length
	if !constructed {
		return end, nil
	}
	for off < end {
		next, err := w.value(off, depth+1)
		if err != nil {
			return 0, err
		}
		if next > end {
			return 0, fmt.Errorf("%w: child runs past its parent", ErrMalformed)
		}
		off = next
	}
	return end, nil
}

// isEOC reports whether an end-of-contents marker (00 00) starts at off.
func (w *berWalker) isEOC(off int) bool {
	return off+2 <= len(w.b) && w.b[off] == 0 && w.b[off+1] == 0
}
