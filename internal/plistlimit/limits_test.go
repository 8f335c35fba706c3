package plistlimit

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const sampleXML = `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>UDID</key><string>0000</string>
	<key>List</key><array><integer>1</integer><true/></array>
</dict>
</plist>`

func deepXML(n int) string {
	return "<plist>" + strings.Repeat("<array>", n) + strings.Repeat("</array>", n) + "</plist>"
}

func TestCheck(t *testing.T) {
	manyShared := encodeBinary(append([]bobj{bdata(bytes.Repeat([]byte{1}, 1000))},
		barray(make([]int, 100)...)), 1) // 100 references to one 1000-byte blob

	for _, tc := range []struct {
		name string
		in   []byte
		lim  Limits
		want error
	}{
		{"xml", []byte(sampleXML), Limits{}, nil},
		{"xml too large", []byte(sampleXML), Limits{MaxSize: 100}, ErrTooLarge},
		{"xml deep", []byte(deepXML(10000)), Limits{}, ErrTooDeep},
		{"xml at depth limit", []byte(deepXML(DefaultMaxDepth - 1)), Limits{}, nil},
		{"xml over depth limit", []byte(deepXML(DefaultMaxDepth)), Limits{}, ErrTooDeep},
		{"xml too many", []byte("<plist><array>" + strings.Repeat("<true/>", 100) + "</array></plist>"), Limits{MaxValues: 50}, ErrTooMany},
		{"xml unclosed", []byte("<plist><dict>"), Limits{}, ErrMalformed},
		{"xml mismatched", []byte("<plist><dict></array></plist>"), Limits{}, ErrMalformed},
		{"empty", nil, Limits{}, ErrMalformed},
		{"binary", sampleBinary(), Limits{}, nil},
		{"binary cycle", encodeBinary([]bobj{barray(1), barray(0)}, 0), Limits{}, ErrMalformed},
		{"binary self reference", encodeBinary([]bobj{barray(0)}, 0), Limits{}, ErrMalformed},
		{"binary laughs", laughs(40), Limits{}, ErrTooMany},
		{"binary shared bytes", manyShared, Limits{MaxSize: 50000}, ErrTooLarge},
		{"binary shared bytes within limit", manyShared, Limits{}, nil},
		{"binary deep", chain(100), Limits{}, ErrTooDeep},
		{"binary at depth limit", chain(DefaultMaxDepth - 1), Limits{}, nil},
		{"binary dangling ref", encodeBinary([]bobj{barray(5), btrue()}, 0), Limits{}, ErrMalformed},
		{"binary ref equal to count", encodeBinary([]bobj{barray(2), btrue()}, 0), Limits{}, ErrMalformed},
		{"binary root out of range", encodeBinary([]bobj{btrue()}, 1), Limits{}, ErrMalformed},
		{"binary string past end", encodeBinary([]bobj{{marker: 0x50, count: 1 << 40}}, 0), Limits{}, ErrMalformed},
		{"binary utf16 past end", encodeBinary([]bobj{{marker: 0x60, body: []byte{0, 'a'}, count: 2}}, 0), Limits{}, ErrMalformed},
		{"binary non-string key", encodeBinary([]bobj{bdict([]int{1}, []int{1}), btrue()}, 0), Limits{}, ErrMalformed},
		{"binary set", encodeBinary([]bobj{{marker: 0xc0}}, 0), Limits{}, ErrMalformed},
		{"binary uid", encodeBinary([]bobj{{marker: 0x80, body: []byte{1}}}, 0), Limits{}, ErrMalformed},
		{"binary null", encodeBinary([]bobj{{marker: 0x00}}, 0), Limits{}, ErrMalformed},
		{"binary short real", encodeBinary([]bobj{{marker: 0x22, body: []byte{0, 0, 0, 0}}}, 0), Limits{}, ErrMalformed},
		{"binary bad ref size", withTrailerByte(sampleBinary(), 7, 9), Limits{}, ErrMalformed},
		{"binary bad offset size", withTrailerByte(sampleBinary(), 6, 0), Limits{}, ErrMalformed},
		{"binary too many objects", withTrailerUint(sampleBinary(), 8, 1<<40), Limits{}, ErrTooMany},
		{"binary offset table past end", withTrailerUint(sampleBinary(), 24, 1<<20), Limits{}, ErrMalformed},
		{"binary truncated", sampleBinary()[:20], Limits{}, ErrMalformed},
		{"binary wrong version", append([]byte("bplist01"), sampleBinary()[8:]...), Limits{}, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := Check(tc.in, tc.lim); !errors.Is(err, tc.want) {
				t.Fatalf("Check = %v, want %v", err, tc.want)
			}
		})
	}
}

func withTrailerByte(b []byte, i int, v byte) []byte {
	b = bytes.Clone(b)
	b[len(b)-32+i] = v
	return b
}

func withTrailerUint(b []byte, i int, v uint64) []byte {
	b = bytes.Clone(b)
	binary.BigEndian.PutUint64(b[len(b)-32+i:], v)
	return b
}

func TestUnmarshal(t *testing.T) {
	var got map[string]any
	if err := Unmarshal(sampleBinary(), &got, Limits{}); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"UDID": "0000", "Count": uint64(7), "Flag": true, "Blob": []byte{1, 2},
		"List": []any{"0000", "0000"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("binary decode (-want +got):\n%s", d)
	}

	var x struct {
		UDID string
		List []any
	}
	if err := Unmarshal([]byte(sampleXML), &x, Limits{}); err != nil {
		t.Fatal(err)
	}
	if x.UDID != "0000" || len(x.List) != 2 {
		t.Fatalf("xml decode: %+v", x)
	}
	// Checked input can still fail to decode into the target type.
	var n int
	if err := Unmarshal([]byte(sampleXML), &n, Limits{}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("type mismatch: %v", err)
	}
	if err := Unmarshal(laughs(40), &got, Limits{}); !errors.Is(err, ErrTooMany) {
		t.Fatalf("laughs: %v", err)
	}
}
