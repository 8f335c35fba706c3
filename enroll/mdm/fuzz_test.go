package mdm_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/openomm/omm/enroll/mdm"
)

func addFixtures(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.plist")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("bplist00"))
}

// FuzzParseCheckIn: any body yields a message or an error, never a panic,
// and a message always names its device.
func FuzzParseCheckIn(f *testing.F) {
	addFixtures(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := mdm.ParseCheckIn(body)
		if err == nil && m.From().Device() == "" {
			t.Fatalf("accepted a message without a device: %+v", m)
		}
	})
}

// FuzzParseResult: any body yields a result or an error, never a panic.
func FuzzParseResult(f *testing.F) {
	addFixtures(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := mdm.ParseResult(body)
		if err == nil && (r.Device() == "" || r.Status == "") {
			t.Fatalf("accepted a result without device or status: %+v", r)
		}
	})
}
