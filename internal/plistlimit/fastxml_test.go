package plistlimit

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// inventoryResult is a DeviceInformation answer as a device writes it:
// nested dictionaries, an array, every scalar type.
const inventoryResult = `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>CommandUUID</key>
	<string>76eda240-5488-4989-8339-f2ae160113c4</string>
	<key>QueryResponses</key>
	<dict>
		<key>AvailableDeviceCapacity</key>
		<real>51.234</real>
		<key>BatteryLevel</key>
		<real>0.85</real>
		<key>BuildVersion</key>
		<string>22A3354</string>
		<key>DeviceCapacity</key>
		<real>128</real>
		<key>DeviceName</key>
		<string>Alice’s iPhone</string>
		<key>IsSupervised</key>
		<false/>
		<key>IsActivationLockEnabled</key>
		<true/>
		<key>LastCloudBackupDate</key>
		<date>2026-12-01T08:30:00Z</date>
		<key>ModelName</key>
		<string>iPhone</string>
		<key>OSVersion</key>
		<string>18.1</string>
		<key>ServiceSubscriptions</key>
		<array>
			<dict>
				<key>Slot</key>
				<string>CTSubscriptionSlotOne</string>
				<key>IsDataPreferred</key>
				<true/>
			</dict>
		</array>
		<key>SystemIntegrityProtectionEnabled</key>
		<integer>1</integer>
		<key>PushMagic</key>
		<data>
		AAECAwQFBgcICQoLDA0ODw==
		</data>
	</dict>
	<key>RequestType</key>
	<string>DeviceInformation</string>
	<key>Status</key>
	<string>Acknowledged</string>
	<key>UDID</key>
	<string>66ADE930-5FDF-5EC4-8429-15640684C489</string>
</dict>
</plist>
`

// fastSeeds: what the fast path reads (prefix "fast") and what it must
// leave to the decoder ("other"), each with what the decoder makes of it.
func fastSeeds() map[string][]byte {
	return map[string][]byte{
		"fast-idle":              []byte(idleMessage),
		"fast-inventory":         []byte(inventoryResult),
		"fast-acknowledged":      []byte("<plist version=\"1.0\"><dict><key>CommandUUID</key><string>0d2f3c1e-1111-4a4a-9c9c-000000000001</string><key>Status</key><string>Acknowledged</string><key>UDID</key><string>u-1</string></dict></plist>"),
		"fast-empty":             []byte("<plist><dict></dict></plist>"),
		"fast-duplicate-key":     []byte("<plist><dict><key>a</key><string>1</string><key>a</key><string>2</string></dict></plist>"),
		"fast-markup-text":       []byte("<plist><dict><key> a>b ]] </key><string>\tx\ny </string></dict></plist>\n"),
		"fast-nested":            []byte("<plist><dict><key>a</key><dict><key>b</key><string>c</string></dict></dict></plist>"),
		"fast-integers":          []byte("<plist><dict><key>a</key><integer>18446744073709551615</integer><key>b</key><integer>-9223372036854775808</integer><key>c</key><integer>-0</integer></dict></plist>"),
		"fast-reals":             []byte("<plist><dict><key>a</key><real>-1.5e3</real><key>b</key><real>.5</real><key>c</key><real>7</real></dict></plist>"),
		"fast-arrays":            []byte("<plist><dict><key>a</key><array></array><key>b</key><array><array><false/></array><integer>2</integer></array></dict></plist>"),
		"fast-data":              []byte("<plist><dict><key>a</key><data></data><key>b</key><data> </data><key>c</key><data>aGk=</data></dict></plist>"),
		"fast-date-offset":       []byte("<plist><dict><key>a</key><date>2026-12-07T10:00:00.5+02:00</date></dict></plist>"),
		"fast-unicode":           []byte("<plist><dict><key>é</key><string>日本 \U0001F600 \uFFFD</string></dict></plist>"),
		"other-entity":           []byte("<plist><dict><key>a</key><string>x &amp; y</string></dict></plist>"),
		"other-comment":          []byte("<plist><dict><!-- c --><key>a</key><string>b</string></dict></plist>"),
		"other-cdata":            []byte("<plist><dict><key>a</key><string><![CDATA[b]]></string></dict></plist>"),
		"other-attribute":        []byte("<plist><dict><key>a</key><string x=\"1\">b</string></dict></plist>"),
		"other-invalid-utf8":     []byte("<plist><dict><key>a</key><string>\xff</string></dict></plist>"),
		"other-nonchar":          []byte("<plist><dict><key>a</key><string>\uFFFE</string></dict></plist>"),
		"other-carriage":         []byte("<plist><dict><key>a</key><string>b\r\nc</string></dict></plist>"),
		"other-self-closing":     []byte("<plist><dict><key>a</key><string/></dict></plist>"),
		"other-true-closed":      []byte("<plist><dict><key>a</key><true></true></dict></plist>"),
		"other-integer-space":    []byte("<plist><dict><key>a</key><integer> 1</integer></dict></plist>"),
		"other-integer-overflow": []byte("<plist><dict><key>a</key><integer>18446744073709551616</integer></dict></plist>"),
		"other-real-inf":         []byte("<plist><dict><key>a</key><real>-Inf</real></dict></plist>"),
		"other-data-bad":         []byte("<plist><dict><key>a</key><data>aGk</data></dict></plist>"),
		"other-date-bad":         []byte("<plist><dict><key>a</key><date>2026-13-07T10:00:00Z</date></dict></plist>"),
		"other-key-key":          []byte("<plist><dict><key>a</key><key>b</key><string>c</string></dict></plist>"),
		"other-trailing":         []byte("<plist><dict></dict></plist><x/>"),
		"other-unclosed":         []byte("<plist><dict><key>a</key><string>b</string></dict>"),
		"other-key-only":         []byte("<plist><dict><key>a</key></dict></plist>"),
		"other-mismatched":       []byte("<plist><dict><key>a</key><string>b</strinG></dict></plist>"),
		"other-other-version":    []byte("<plist version=\"2.0\"><dict></dict></plist>"),
		"other-latin1":           []byte("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><plist><dict></dict></plist>"),
		"other-root-array":       []byte("<plist><array></array></plist>"),
	}
}

// TestXMLDict: the fast path reads the messages it is for, leaves the
// rest to the decoder, and through UnmarshalMeasured either way gives what
// the decoder gives.
func TestXMLDict(t *testing.T) {
	for name, data := range fastSeeds() {
		t.Run(name, func(t *testing.T) {
			got, ok := decodeXMLDict(data)
			if wantOK := name[:4] == "fast"; ok != wantOK {
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
	if m, ok := decodeXMLDict([]byte(idleMessage)); !ok || m["Status"] != "Idle" || m["UDID"] != "00008030-001A2B3C4D5E6F70" || len(m) != 2 {
		t.Fatalf("idle message: %v, %v", m, ok)
	}
	m, ok := decodeXMLDict([]byte(inventoryResult))
	if !ok {
		t.Fatal("inventory result left to the decoder")
	}
	q := m["QueryResponses"].(map[string]any)
	subs := q["ServiceSubscriptions"].([]any)
	if q["BatteryLevel"] != 0.85 || q["IsSupervised"] != false || q["SystemIntegrityProtectionEnabled"] != uint64(1) ||
		q["DeviceName"] != "Alice’s iPhone" || !q["LastCloudBackupDate"].(time.Time).Equal(time.Date(2026, 12, 1, 8, 30, 0, 0, time.UTC)) ||
		len(q["PushMagic"].([]byte)) != 16 || len(subs) != 1 || subs[0].(map[string]any)["IsDataPreferred"] != true {
		t.Fatalf("inventory result: %v", q)
	}
}

// TestXMLDictDepth: the reader bounds its own recursion, whatever limits
// its caller measured with.
func TestXMLDictDepth(t *testing.T) {
	nested := func(n int) []byte {
		return []byte("<plist><dict><key>a</key>" + strings.Repeat("<array>", n) + strings.Repeat("</array>", n) + "</dict></plist>")
	}
	if _, ok := decodeXMLDict(nested(fastMaxDepth - 1)); !ok {
		t.Errorf("%d nested arrays left to the decoder", fastMaxDepth-1)
	}
	if _, ok := decodeXMLDict(nested(fastMaxDepth)); ok {
		t.Errorf("%d nested arrays read", fastMaxDepth)
	}
}

// TestXMLDictKeepsMap: a map the caller filled is decoded into by the
// decoder, as before, not replaced.
func TestXMLDictKeepsMap(t *testing.T) {
	m := map[string]any{"kept": "yes"}
	if err := Unmarshal([]byte(idleMessage), &m, Limits{}); err != nil {
		t.Fatal(err)
	}
	if m["kept"] != "yes" || m["Status"] != "Idle" {
		t.Fatalf("map = %v", m)
	}
}

// TestXMLDictLimits: the limits hold on the fast path too: it runs after
// the input was measured.
func TestXMLDictLimits(t *testing.T) {
	var m map[string]any
	if _, err := UnmarshalMeasured([]byte(idleMessage), &m, Limits{MaxValues: 3}); err == nil {
		t.Fatal("7 elements accepted under a limit of 3")
	}
	if _, err := UnmarshalMeasured([]byte(idleMessage), &m, Limits{MaxSize: 100}); err == nil {
		t.Fatal("a message over the size limit accepted")
	}
}

// FuzzXMLDict: whatever the fast path reads, the decoder reads to the
// same dictionary.
func FuzzXMLDict(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		got, ok := decodeXMLDict(data)
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

func TestXMLDictFuzzSeeds(t *testing.T) {
	checkSeedCorpus(t, filepath.Join("testdata", "fuzz", "FuzzXMLDict"), fastSeeds())
}

// BenchmarkUnmarshal: an idle message and an inventory answer through
// UnmarshalMeasured (fast), and through the decoder alone (what the fast
// path saves).
func BenchmarkUnmarshal(b *testing.B) {
	for _, msg := range []struct{ name, data string }{{"idle", idleMessage}, {"inventory", inventoryResult}} {
		data := []byte(msg.data)
		b.Run(msg.name+"/fast", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var m map[string]any
				if _, err := UnmarshalMeasured(data, &m, Limits{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(msg.name+"/decoder", func(b *testing.B) {
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
}
