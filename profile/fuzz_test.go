package profile

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzDecode feeds Decode arbitrary input. Besides not crashing, anything
// that decodes and validates must survive an encode/decode round trip.
func FuzzDecode(f *testing.F) {
	goldens, err := filepath.Glob(filepath.Join("testdata", "*.golden"))
	if err != nil {
		f.Fatal(err)
	}
	for _, g := range goldens {
		b, err := os.ReadFile(g)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Decode(data)
		if err != nil {
			if !errors.Is(err, ErrDecode) && !errors.Is(err, ErrNotConfiguration) {
				t.Fatalf("Decode error wraps no sentinel: %v", err)
			}
			return
		}
		if p.Validate() != nil {
			return
		}
		b1, err := p.Encode()
		if err != nil {
			t.Fatalf("valid profile does not encode: %v", err)
		}
		p2, err := Decode(b1)
		if err != nil {
			t.Fatalf("own output does not decode: %v\n%s", err, b1)
		}
		b2, err := p2.Encode()
		if err != nil || !bytes.Equal(b1, b2) {
			t.Fatalf("round trip changed the profile (%v)", err)
		}
	})
}

// fuzzSeeds are the committed corpus entries beside the golden files.
func fuzzSeeds() map[string]string {
	deep := "<plist>" + strings.Repeat("<array>", 2000) + strings.Repeat("</array>", 2000) + "</plist>"
	return map[string]string{
		"deep-xml": deep,
		"binary-cycle": "bplist00\xa1\x01\xa1\x00\x08\x0a\x00\x00\x00\x00\x00\x00\x01\x01" +
			"\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x0c",
		"payload-content-not-array": `<plist><dict><key>PayloadType</key><string>Configuration</string>` +
			`<key>PayloadContent</key><dict/></dict></plist>`,
		"unknown-payload": `<plist><dict><key>PayloadType</key><string>Configuration</string>` +
			`<key>PayloadIdentifier</key><string>a</string><key>PayloadContent</key><array><dict>` +
			`<key>PayloadType</key><string>x.y</string><key>k</key><array><integer>-1</integer></array></dict></array></dict></plist>`,
	}
}

func TestFuzzDecodeSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzDecode")
	if *update {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, data := range fuzzSeeds() {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, data := range fuzzSeeds() {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("%v (go test -run TestFuzzDecodeSeeds -update)", err)
		}
		if string(b) != fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data) {
			t.Errorf("seed %s is stale (go test -run TestFuzzDecodeSeeds -update)", name)
		}
	}
	if _, err := Decode([]byte(fuzzSeeds()["deep-xml"])); !errors.Is(err, ErrDecode) {
		t.Errorf("deep-xml: %v", err)
	}
	if _, err := Decode([]byte(fuzzSeeds()["binary-cycle"])); !errors.Is(err, ErrDecode) {
		t.Errorf("binary-cycle: %v", err)
	}
	if _, err := Decode([]byte(fuzzSeeds()["unknown-payload"])); err != nil {
		t.Errorf("unknown-payload: %v", err)
	}
}
