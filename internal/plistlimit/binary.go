package plistlimit

import (
	"encoding/binary"
	"fmt"
)

// bplist object kinds (high nibble of the marker byte) that micromdm/plist
// decodes. UIDs, sets, null and fill are refused: the decoder turns them
// into invalid values, and nothing this project reads uses them.
const (
	kindSingleton = 0x0
	kindInt       = 0x1
	kindReal      = 0x2
	kindDate      = 0x3
	kindData      = 0x4
	kindASCII     = 0x5
	kindUTF16     = 0x6
	kindArray     = 0xa
	kindDict      = 0xd
)

// object is what checkBinary learns from one object's header.
type object struct {
	kind     byte
	payload  int   // bytes of string or data content
	children []int // referenced objects, keys before values for dicts
}

type binReader struct {
	data     []byte
	tableOff int // objects must lie before the offset table
	refSize  int
	count    int
}

func (r *binReader) uint(off, size int) (uint64, error) {
	if off < 0 || size < 1 || size > 8 || off+size > r.tableOff {
		return 0, fmt.Errorf("%w: read past object area at %d", ErrMalformed, off)
	}
	var v uint64
	for _, c := range r.data[off : off+size] {
		v = v<<8 | uint64(c)
	}
	return v, nil
}

// checkBinary validates a binary plist so that micromdm/plist's decoder,
// which trusts every length and reference, only ever sees sane input.
func checkBinary(data []byte, lim Limits) (Stats, error) {
	const header, trailer = 8, 32
	if len(data) < header+trailer+1 || string(data[:header]) != "bplist00" {
		return Stats{}, fmt.Errorf("%w: bad binary header or too short", ErrMalformed)
	}
	t := data[len(data)-trailer:]
	offSize, refSize := int(t[6]), int(t[7])
	num := binary.BigEndian.Uint64(t[8:16])
	top := binary.BigEndian.Uint64(t[16:24])
	tableOff := binary.BigEndian.Uint64(t[24:32])
	end := uint64(len(data) - trailer)
	switch {
	case offSize < 1 || offSize > 8 || refSize < 1 || refSize > 8:
		return Stats{}, fmt.Errorf("%w: offset size %d, ref size %d", ErrMalformed, offSize, refSize)
	case num == 0 || num > uint64(lim.MaxValues):
		return Stats{}, fmt.Errorf("%w: %d objects", ErrTooMany, num)
	case top >= num:
		return Stats{}, fmt.Errorf("%w: root object %d of %d", ErrMalformed, top, num)
	case tableOff < header || tableOff > end || num*uint64(offSize) > end-tableOff:
		return Stats{}, fmt.Errorf("%w: offset table out of range", ErrMalformed)
	}
	r := &binReader{data: data, tableOff: int(tableOff), refSize: refSize, count: int(num)}

	objs := make([]object, num)
	for i := range objs {
		// The offset table itself lies after tableOff, so read it directly.
		var off uint64
		for _, c := range data[int(tableOff)+i*offSize : int(tableOff)+(i+1)*offSize] {
			off = off<<8 | uint64(c)
		}
		if off < header || off >= tableOff {
			return Stats{}, fmt.Errorf("%w: object %d at offset %d", ErrMalformed, i, off)
		}
		o, err := r.object(int(off))
		if err != nil {
			return Stats{}, fmt.Errorf("object %d: %w", i, err)
		}
		objs[i] = o
	}
	for i, o := range objs {
		if o.kind != kindDict {
			continue
		}
		for _, k := range o.children[:len(o.children)/2] {
			if objs[k].kind != kindASCII && objs[k].kind != kindUTF16 {
				return Stats{}, fmt.Errorf("%w: dictionary %d has a non-string key", ErrMalformed, i)
			}
		}
	}
	r0, err := walk(objs, int(top), lim)
	if err != nil {
		return Stats{}, err
	}
	return Stats{size: len(data), binary: true, depth: r0.depth, values: r0.values, objects: int(num), bytes: r0.bytes}, nil
}

// object parses the header of the object at off and checks that its
// content lies inside the object area.
func (r *binReader) object(off int) (object, error) {
	marker := r.data[off]
	kind, info := marker>>4, int(marker&0xf)
	pos := off + 1
	switch kind {
	case kindSingleton:
		if info != 0x8 && info != 0x9 {
			return object{}, fmt.Errorf("%w: unsupported singleton %#x", ErrMalformed, marker)
		}
		return object{kind: kind}, nil
	case kindInt:
		if info > 4 {
			return object{}, fmt.Errorf("%w: integer of 2^%d bytes", ErrMalformed, info)
		}
		return object{kind: kind}, r.span(pos, 1<<info)
	case kindReal:
		if info != 3 {
			return object{}, fmt.Errorf("%w: real of 2^%d bytes", ErrMalformed, info)
		}
		return object{kind: kind}, r.span(pos, 8)
	case kindDate:
		if info != 3 {
			return object{}, fmt.Errorf("%w: bad date marker %#x", ErrMalformed, marker)
		}
		return object{kind: kind}, r.span(pos, 8)
	case kindData, kindASCII, kindUTF16:
		n, pos, err := r.length(info, pos)
		if err != nil {
			return object{}, err
		}
		unit := 1
		if kind == kindUTF16 {
			unit = 2
		}
		if n > (r.tableOff-pos)/unit {
			return object{}, fmt.Errorf("%w: %d-unit string or data runs past the end", ErrMalformed, n)
		}
		return object{kind: kind, payload: n * unit}, nil
	case kindArray, kindDict:
		n, pos, err := r.length(info, pos)
		if err != nil {
			return object{}, err
		}
		refs := n
		if kind == kindDict {
			refs = 2 * n
		}
		if n > r.tableOff || refs > (r.tableOff-pos)/r.refSize {
			return object{}, fmt.Errorf("%w: %d references run past the end", ErrMalformed, refs)
		}
		children := make([]int, refs)
		for i := range children {
			ref, err := r.uint(pos+i*r.refSize, r.refSize)
			if err != nil {
				return object{}, err
			}
			if ref >= uint64(r.count) {
				return object{}, fmt.Errorf("%w: reference %d of %d objects", ErrMalformed, ref, r.count)
			}
			children[i] = int(ref)
		}
		return object{kind: kind, children: children}, nil
	default:
		return object{}, fmt.Errorf("%w: unsupported object type %#x", ErrMalformed, kind)
	}
}

func (r *binReader) span(pos, n int) error {
	if n > r.tableOff-pos {
		return fmt.Errorf("%w: value runs past the end", ErrMalformed)
	}
	return nil
}

// length decodes a collection or string length: the marker's low nibble,
// or 0xf followed by an integer object holding it.
func (r *binReader) length(info, pos int) (n, next int, err error) {
	if info != 0xf {
		return info, pos, nil
	}
	m, err := r.uint(pos, 1)
	if err != nil {
		return 0, 0, err
	}
	if m>>4 != kindInt || m&0xf > 3 {
		return 0, 0, fmt.Errorf("%w: bad length marker %#x", ErrMalformed, m)
	}
	size := 1 << (m & 0xf)
	v, err := r.uint(pos+1, size)
	if err != nil {
		return 0, 0, err
	}
	if v > uint64(r.tableOff) {
		return 0, 0, fmt.Errorf("%w: length %d", ErrMalformed, v)
	}
	return int(v), pos + 1 + size, nil
}

// walk does a depth-first walk of the object graph from top without
// recursion, rejecting cycles and computing for every object the depth and
// size of the tree the decoder will build from it (a shared object counts
// once per reference, as the decoder copies it each time).
// walkResult is the depth, value count and content bytes of the tree the
// decoder builds from an object.
type walkResult struct{ depth, values, bytes int }

func walk(objs []object, top int, lim Limits) (walkResult, error) {
	type result = walkResult
	const (
		white = iota
		grey
		black
	)
	color := make([]byte, len(objs))
	res := make([]result, len(objs))
	type frame struct{ obj, next int }
	stack := []frame{{obj: top}}
	color[top] = grey
	for len(stack) > 0 {
		f := &stack[len(stack)-1]
		o := objs[f.obj]
		if f.next < len(o.children) {
			c := o.children[f.next]
			f.next++
			switch color[c] {
			case grey:
				return result{}, fmt.Errorf("%w: reference cycle through object %d", ErrMalformed, c)
			case white:
				color[c] = grey
				stack = append(stack, frame{obj: c})
			}
			continue
		}
		// All children are finished: combine, saturating at the limits so
		// sums over huge shared graphs cannot overflow.
		r := result{depth: 1, values: 1, bytes: o.payload}
		for _, c := range o.children {
			cr := res[c]
			r.depth = max(r.depth, cr.depth+1)
			r.values = min(r.values+cr.values, lim.MaxValues+1)
			r.bytes = min(r.bytes+cr.bytes, lim.MaxSize+1)
		}
		switch {
		case r.depth > lim.MaxDepth:
			return result{}, fmt.Errorf("%w: deeper than %d levels", ErrTooDeep, lim.MaxDepth)
		case r.values > lim.MaxValues:
			return result{}, fmt.Errorf("%w: more than %d values once expanded", ErrTooMany, lim.MaxValues)
		case r.bytes > lim.MaxSize:
			return result{}, fmt.Errorf("%w: more than %d bytes of content once expanded", ErrTooLarge, lim.MaxSize)
		}
		res[f.obj] = r
		color[f.obj] = black
		stack = stack[:len(stack)-1]
	}
	return res[top], nil
}
