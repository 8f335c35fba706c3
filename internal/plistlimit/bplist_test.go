package plistlimit

import (
	"encoding/binary"
)

// bobj is one object of a hand-built binary plist; refs index other bobjs.
type bobj struct {
	marker byte   // full marker byte; low nibble is overwritten for lengths
	body   []byte // raw bytes after the marker (scalars, string content)
	refs   []int  // for arrays; for dicts keys then values
	count  int    // element count for strings, data, arrays, dicts
}

func bstr(s string) bobj      { return bobj{marker: 0x50, body: []byte(s), count: len(s)} }
func bdata(b []byte) bobj     { return bobj{marker: 0x40, body: b, count: len(b)} }
func bint(v byte) bobj        { return bobj{marker: 0x10, body: []byte{v}} }
func btrue() bobj             { return bobj{marker: 0x09} }
func barray(refs ...int) bobj { return bobj{marker: 0xa0, refs: refs, count: len(refs)} }
func bdict(keys, vals []int) bobj {
	return bobj{marker: 0xd0, refs: append(append([]int{}, keys...), vals...), count: len(keys)}
}

// encodeBinary writes objs as a bplist00 with 2-byte refs and offsets and
// object top as the root. It writes whatever it is given, including cycles
// and dangling references, which is the point.
func encodeBinary(objs []bobj, top int) []byte {
	out := []byte("bplist00")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = len(out)
		m := o.marker
		hasCount := m>>4 == 0x4 || m>>4 == 0x5 || m>>4 == 0x6 || m>>4 == 0xa || m>>4 == 0xd
		if hasCount && o.count < 15 {
			out = append(out, m&0xf0|byte(o.count))
		} else if hasCount {
			out = append(out, m|0x0f, 0x13)
			out = binary.BigEndian.AppendUint64(out, uint64(o.count))
		} else {
			out = append(out, m)
		}
		out = append(out, o.body...)
		for _, r := range o.refs {
			out = binary.BigEndian.AppendUint16(out, uint16(r))
		}
	}
	table := len(out)
	for _, off := range offsets {
		out = binary.BigEndian.AppendUint16(out, uint16(off))
	}
	out = append(out, 0, 0, 0, 0, 0, 0, 2, 2)
	out = binary.BigEndian.AppendUint64(out, uint64(len(objs)))
	out = binary.BigEndian.AppendUint64(out, uint64(top))
	out = binary.BigEndian.AppendUint64(out, uint64(table))
	return out
}

// sampleBinary is {"UDID": "0000", "Count": 7, "Flag": true, "Blob": <01 02>,
// "List": ["0000", "0000"]} with the string object shared.
func sampleBinary() []byte {
	return encodeBinary([]bobj{
		bdict([]int{1, 2, 3, 4, 5}, []int{6, 7, 8, 9, 10}), // 0
		bstr("UDID"), bstr("Count"), bstr("Flag"), bstr("Blob"), bstr("List"),
		bstr("0000"), bint(7), btrue(), bdata([]byte{1, 2}), barray(6, 6),
	}, 0)
}

// laughs builds n arrays, each holding the previous one twice: n+1 objects
// that a decoder expands into 2^n values.
func laughs(n int) []byte {
	objs := []bobj{bstr("lol")}
	for i := 0; i < n; i++ {
		objs = append(objs, barray(i, i))
	}
	return encodeBinary(objs, n)
}

// chain builds n arrays each holding the next: depth n.
func chain(n int) []byte {
	objs := make([]bobj, n+1)
	for i := 0; i < n; i++ {
		objs[i] = barray(i + 1)
	}
	objs[n] = btrue()
	return encodeBinary(objs, 0)
}
