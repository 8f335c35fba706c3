package mdm_test

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/openomm/omm/enroll/mdm"
	"github.com/openomm/omm/internal/plistlimit"
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
		if err == nil && (r.Decoded == nil || r.Decoded.Dict == nil || r.Decoded.Within(mdm.ResultLimits) != nil) {
			t.Fatalf("accepted a result without its decoded plist within the limits: %+v", r)
		}
		// The envelope reads as the struct decoding of the plist does.
		var w struct {
			UDID, EnrollmentID, UserID, EnrollmentUserID, CommandUUID, RequestType string
			Status                                                                 mdm.Status
			ErrorChain                                                             []mdm.ErrorChainItem
		}
		if werr := plistlimit.Unmarshal(body, &w, mdm.ResultLimits); err == nil {
			if werr != nil {
				t.Fatalf("accepted a result the struct decoding refuses (%v): %+v", werr, r)
			}
			if w.UDID != r.UDID || w.EnrollmentID != r.EnrollmentID || w.UserID != r.UserID || w.EnrollmentUserID != r.EnrollmentUserID ||
				w.CommandUUID != r.CommandUUID || w.RequestType != r.RequestType || w.Status != r.Status || !reflect.DeepEqual(w.ErrorChain, r.ErrorChain) {
				t.Fatalf("envelope %+v, struct decoding %+v", r, w)
			}
		}
	})
}
