package declarative_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/micromdm/plist"

	"github.com/openomm/omm/enroll/declarative"
	"github.com/openomm/omm/internal/cms"
	"github.com/openomm/omm/inventory"
)

// addReports seeds f with the sample status reports and a few broken ones.
func addReports(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "status", "*.json"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{`{}`, `{"StatusItems":{}}`, `{"StatusItems":{"management":{"declarations":{"activations":[{}]}}}}`,
		`{"StatusItems":{"app":{"managed":{"list":[{"identifier":"a","_removed":true},{"identifier":"b","state":"managed"}]}}}}`,
		`{"StatusItems":{"device":{"operating-system":{"version":17}}}}`, `[`, `null`, `"x"`,
		`{"StatusItems":` + strings.Repeat(`{"a":`, 20) + `1` + strings.Repeat(`}`, 20) + `}`} {
		f.Add([]byte(s))
	}
}

// FuzzParseStatus feeds arbitrary status reports to the parser: it never
// panics, refuses only with ErrMalformed, and what it returns keeps its
// limits and holds only Apple's status items.
func FuzzParseStatus(f *testing.F) {
	addReports(f)
	names := map[string]bool{}
	for _, n := range declarative.StatusItemNames() {
		names[n] = true
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := declarative.ParseStatus(data)
		if err != nil {
			if !errors.Is(err, declarative.ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		if len(data) > declarative.MaxStatusSize {
			t.Fatalf("accepted %d bytes", len(data))
		}
		for name := range r.Items {
			if !names[name] || strings.HasPrefix(name, "management.") {
				t.Fatalf("item %q kept", name)
			}
		}
		for _, d := range r.Declarations {
			if d.Identifier == "" || len(d.Identifier) > declarative.MaxIdentifier || len(d.Reasons) > 8 ||
				(d.Valid != declarative.Valid && d.Valid != declarative.Invalid && d.Valid != declarative.Unknown) {
				t.Fatalf("declaration status %+v", d)
			}
		}
	})
}

// FuzzStatusThroughFilter runs arbitrary reports through the parser and
// the privacy filter: whatever the report, only the contract's values for
// what the device may report are left, each valid for storage.
func FuzzStatusThroughFilter(f *testing.F) {
	addReports(f)
	filter := inventory.NewFilter(0)
	dev := inventory.Device{Platform: inventory.PlatformIOS, Ownership: inventory.OwnershipPersonal, EnrollmentType: inventory.EnrollAppleUser}
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := declarative.ParseStatus(data)
		if err != nil {
			return
		}
		o := filter.Declarative(r.Items, at, dev, inventory.OS{Platform: inventory.PlatformIOS})
		for _, v := range o.Values {
			if err := v.Validate(); err != nil {
				t.Fatalf("value %+v: %v", v, err)
			}
			if v.Key == inventory.KeySerialNumber {
				t.Fatal("a User Enrollment's serial number kept")
			}
		}
		for _, a := range append(append([]inventory.App(nil), o.Managed...), o.Installed...) {
			if err := a.Validate(); err != nil {
				t.Fatalf("app %+v: %v", a, err)
			}
		}
	})
}

// FuzzParseEndpoint checks that any endpoint parses or is refused as
// malformed, and that a parsed declaration endpoint names a known kind.
func FuzzParseEndpoint(f *testing.F) {
	for _, s := range []string{"tokens", "declaration-items", "status", "declaration/configuration/omm.passcode",
		"declaration/activation/x/y", "declaration//x", "declaration/gadget/x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ep, err := declarative.ParseEndpoint(s)
		if err != nil {
			if !errors.Is(err, declarative.ErrMalformed) {
				t.Fatalf("error %v", err)
			}
			return
		}
		if ep.Name == "declaration" && (ep.Identifier == "" || ep.Kind == "") {
			t.Fatalf("endpoint %+v", ep)
		}
	})
}

// FuzzChannel sends arbitrary DeclarativeManagement messages, signed with
// the identity of a device on the declarative channel, through the
// check-in endpoint: whatever the endpoint and data, the answer is never a
// server error.
func FuzzChannel(f *testing.F) {
	e := newEnv(f)
	p := e.newPhone(e.orgA, "00008110-000A1B2C3D4EF022", "17.4").enroll()
	p.drain()
	for _, ep := range []string{"tokens", "declaration-items", "declaration/configuration/omm.passcode", "declaration/activation/omm.activation"} {
		f.Add(ep, []byte(nil))
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "status", "*.json"))
	for _, file := range files {
		b, _ := os.ReadFile(file)
		f.Add("status", b)
	}
	f.Add("status", []byte(`{"StatusItems":{"management":{"declarations":{"configurations":[{"identifier":"omm.passcode","server-token":"x","valid":"invalid"}]}}}}`))
	h := e.srv.Config.Handler
	f.Fuzz(func(t *testing.T, endpoint string, data []byte) {
		msg := map[string]any{"MessageType": "DeclarativeManagement", "Endpoint": endpoint, "UDID": p.udid}
		if data != nil {
			msg["Data"] = data
		}
		body, err := plist.Marshal(msg)
		if err != nil {
			return // not a plist string (invalid UTF-8): no device sends it
		}
		sig, err := cms.SignDetached(body, p.key, p.cert, nil)
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequestWithContext(t.Context(), http.MethodPut, "/mdm/"+string(p.org)+"/checkin", bytes.NewReader(body))
		req.Header.Set("Mdm-Signature", base64.StdEncoding.EncodeToString(sig))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("endpoint %q, data %q: status %d", endpoint, data, rec.Code)
		}
	})
}
