package plistlimit

import (
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/micromdm/plist"
)

// An idle message as a device writes it.
const idleMessage = `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Status</key>
	<string>Idle</string>
	<key>UDID</key>
	<string>00008030-001A2B3C4D5E6F70</string>
</dict>
</plist>
`

// flatSeeds: what the fast path reads (prefix "flat") and what it must
// leave to the decoder ("other"), each with what the decoder makes of it.
func flatSeeds() map[string][]byte {
	return map[string][]byte{
		"flat-idle":           []byte(idleMessage),
		"flat-acknowledged":   []byte("<plist version=\"1.0\"><dict><key>CommandUUID</key><string>0d2f3c1e-1111-4a4a-9c9c-000000000001</string><key>Status</key><string>Acknowledged</string><key>UDID</key><string>u-1</string></dict></plist>"),
		"flat-empty":          []byte("<plist><dict></dict></plist>"),
		"flat-duplicate-key":  []byte("<plist><dict><key>a</key><string>1</string><key>a</key><string>2</string></dict></plist>"),
		"flat-markup-text":    []byte("<plist><dict><key> a>b ]] </key><string>\tx\ny </string></dict></plist>\n"),
		"other-entity":        []byte("<plist><dict><key>a</key><string>x &amp; y</string></dict></plist>"),
		"other-comment":       []byte("<plist><dict><!-- c --><key>a</key><string>b</string></dict></plist>"),
		"other-cdata":         []byte("<plist><dict><key>a</key><string><![CDATA[b]]></string></dict></plist>"),
		"other-nested":        []byte("<plist><dict><key>a</key><dict><key>b</key><string>c</string></dict></dict></plist>"),
		"other-integer":       []byte("<plist><dict><key>a</key><integer>1</integer></dict></plist>"),
		"other-attribute":     []byte("<plist><dict><key>a</key><string x=\"1\">b</string></dict></plist>"),
		"other-non-ascii":     []byte("<plist><dict><key>a</key><string>é</string></dict></plist>"),
		"other-carriage":      []byte("<plist><dict><key>a</key><string>b\r\nc</string></dict></plist>"),
		"other-self-closing":  []byte("<plist><dict><key>a</key><string/></dict></plist>"),
		"other-trailing":      []byte("<plist><dict></dict></plist><x/>"),
		"other-unclosed":      []byte("<plist><dict><key>a</key><string>b</string></dict>"),
		"other-key-only":      []byte("<plist><dict><key>a</key></dict></plist>"),
		"other-mismatched":    []byte("<plist><dict><key>a</key><string>b</strinG></dict></plist>"),
		"other-other-version": []byte("<plist version=\"2.0\"><dict></dict></plist>"),
		"other-latin1":        []byte("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><plist><dict></dict></plist>"),
	}
}

// TestFlatDict: the fast path reads the messages it is for, leaves the
// rest to the decoder, and through UnmarshalMeasured either way gives what
// the decoder gives.
func TestFlatDict(t *testing.T) {
	for name, data := range flatSeeds() {
		t.Run(name, func(t *testing.T) {
			got, ok := decodeFlatDict(data)
			if wantOK := name[:4] == "flat"; ok != wantOK {
				t.Fatalf("fast path ok = %v, want %v", ok, wantOK)
			}
			var want map[string]any
			wantErr := plist.Unmarshal(data, &want)
			if ok {
				if wantErr != nil {
					t.Fatalf("fast path read what the decoder refuses: %v", wantErr)
				}
				if d := cmp.Diff(want, got); d != "" {
					t.Fatalf("fast path differs from the decoder (-decoder +fast):\n%s", d)
				}
			}
			var through map[string]any
			_, err := UnmarshalMeasured(data, &through, Limits{})
			if (err != nil) != (wantErr != nil) {
				t.Fatalf("UnmarshalMeasured error %v, decoder's %v", err, wantErr)
			}
			if d := cmp.Diff(want, through); err == nil && d != "" {
				t.Fatalf("UnmarshalMeasured differs from the decoder (-decoder +got):\n%s", d)
			}
		})
	}
	if m, ok := decodeFlatDict([]byte(idleMessage)); !ok || m["Status"] != "Idle" || m["UDID"] != "00008030-001A2B3C4D5E6F70" || len(m) != 2 {
		t.Fatalf("idle message: %v, %v", m, ok)
	}
}

// TestFlatDictKeepsMap: a map the caller filled is decoded into by the
// decoder, as before, not replaced.
func TestFlatDictKeepsMap(t *testing.T) {
	m := map[string]any{"kept": "yes"}
	if err := Unmarshal([]byte(idleMessage), &m, Limits{}); err != nil {
		t.Fatal(err)
	}
	if m["kept"] != "yes" || m["Status"] != "Idle" {
		t.Fatalf("map = %v", m)
	}
}

// TestFlatDictLimits: the limits hold on the fast path too: it runs after
// the input was measured.
func TestFlatDictLimits(t *testing.T) {
	var m map[string]any
	if _, err := UnmarshalMeasured([]byte(idleMessage), &m, Limits{MaxValues: 3}); err == nil {
		t.Fatal("7 elements accepted under a limit of 3")
	}
	if _, err := UnmarshalMeasured([]byte(idleMessage), &m, Limits{MaxSize: 100}); err == nil {
		t.Fatal("a message over the size limit accepted")
	}
}

// FuzzFlatDict: whatever the fast path reads, the decoder reads to the
// same dictionary.
func FuzzFlatDict(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		got, ok := decodeFlatDict(data)
		if !ok {
			return
		}
		var want map[string]any
		if err := plist.Unmarshal(data, &want); err != nil {
			t.Fatalf("fast path read what the decoder refuses: %v", err)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("fast path differs from the decoder (-decoder +fast):\n%s", d)
		}
	})
}

func TestFlatDictFuzzSeeds(t *testing.T) {
	checkSeedCorpus(t, filepath.Join("testdata", "fuzz", "FuzzFlatDict"), flatSeeds())
}

// BenchmarkUnmarshalIdle: an idle message through UnmarshalMeasured, and
// through the decoder alone (what the fast path saves).
func BenchmarkUnmarshalIdle(b *testing.B) {
	data := []byte(idleMessage)
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var m map[string]any
			if _, err := UnmarshalMeasured(data, &m, Limits{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decoder", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var m map[string]any
			if _, err := measureToDecode(data, Limits{}); err != nil {
				b.Fatal(err)
			}
			if err := plist.Unmarshal(data, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
}
