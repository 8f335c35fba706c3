package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/openomm/omm/enroll/declarative"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
)

// simulatorReport is the SDK's sample of the simulator's status report:
// enroll/declarative's TestStatusReportsMatchAppleSchema validates it, and
// every status item parsed from it, against Apple's schema. (Examples
// import no internal package, so the schema check lives there.)
var simulatorReport = filepath.Join("..", "..", "enroll", "declarative", "testdata", "status", "devicesim.json")

// TestDeviceStatusMatchesSchema applies the declarations the server builds
// for a phone like the simulated one and checks that the status report the
// simulator then sends is the sample Apple's schema is checked against
// (DEVICESIM_WRITE_SAMPLE=1 rewrites the sample), that it parses, and that
// what it says follows from the declarations.
func TestDeviceStatusMatchesSchema(t *testing.T) {
	d := &device{spec: newSpec("SIMSCHEMA01")}
	d.UDID = "00008110-0000000000ABCDEF"
	set := declarative.Build(declarative.Target{Platform: inventory.PlatformIOS, Enrollment: declarative.EnrollDevice,
		Ownership: inventory.OwnershipCompany, EnrollmentType: inventory.EnrollAppleDevice, OSVersion: d.OSVersion,
		Requirements: policy.Requirements{Passcode: policy.Passcode{Required: true, MinLength: 8},
			OSUpdate: policy.OSUpdate{TargetVersion: "17.5", Deadline: "2026-03-31T18:00:00"}},
		Apps: []declarative.App{{ID: "app_1", Identifier: "com.acme.expenses", ManifestURL: "https://apps.example.com/expenses.plist", Required: true}}})
	d.declarativeCommand(command{Body: map[string]any{}})
	for _, decl := range set.Declarations {
		b, err := decl.JSON()
		if err != nil {
			t.Fatal(err)
		}
		var back declarative.Declaration
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		d.ddm.decls[ddmKey(decl.Type.Kind(), decl.Identifier)] = back
	}
	d.applyDeclarations(t.Context(), nop)
	// Subscribed to the software update items too, so that the sample
	// has them.
	d.ddm.subscribed = append(d.ddm.subscribed, "softwareupdate.pending-version", "softwareupdate.install-state")
	data, names, err := d.statusReport(true)
	if err != nil {
		t.Fatal(err)
	}
	var indented bytes.Buffer
	if err := json.Indent(&indented, data, "", "  "); err != nil {
		t.Fatal(err)
	}
	indented.WriteByte('\n')
	if os.Getenv("DEVICESIM_WRITE_SAMPLE") == "1" {
		if err := os.WriteFile(simulatorReport, indented.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sample, err := os.ReadFile(simulatorReport)
	if err != nil {
		t.Fatal(err)
	}
	var got, want any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(sample, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("the simulator's report is no longer the schema-checked sample %s (DEVICESIM_WRITE_SAMPLE=1 rewrites it):\n%s", simulatorReport, indented.Bytes())
	}
	r, err := declarative.ParseStatus(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Items)+1 != len(names) || r.Declarations == nil || len(r.Declarations) != len(set.Declarations) {
		t.Fatalf("parsed %d items and %d declarations from %v", len(r.Items), len(r.Declarations), names)
	}
	for _, st := range r.Declarations {
		if st.Valid == declarative.Invalid {
			t.Errorf("declaration %s invalid: %+v", st.Identifier, st.Reasons)
		}
	}
	// The passcode of 6 digits does not meet a minimum of 8.
	if v := r.Items["passcode.is-compliant"]; v != false {
		t.Errorf("passcode.is-compliant = %v", v)
	}
}
