package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/openomm/omm/enroll/declarative"
	"github.com/openomm/omm/internal/appleschema"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
)

// plainJSON turns decoded JSON numbers into what appleschema.Check types.
func plainJSON(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = plainJSON(e)
		}
	case []any:
		for i, e := range x {
			x[i] = plainJSON(e)
		}
	}
	return v
}

// TestDeviceStatusMatchesSchema applies the declarations the server builds
// for a phone like the simulated one, and validates the status report the
// simulator then sends, and every status item parsed from it, against
// Apple's schema.
func TestDeviceStatusMatchesSchema(t *testing.T) {
	root, err := appleschema.Dir()
	if err != nil {
		t.Skipf("Apple's schema not found (%v)", err)
	}
	d := &device{spec: newSpec("SIMSCHEMA01")}
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
	// Subscribed to the software update items too, to check them.
	d.ddm.subscribed = append(d.ddm.subscribed, "softwareupdate.pending-version", "softwareupdate.install-state")
	data, names, err := d.statusReport(true)
	if err != nil {
		t.Fatal(err)
	}
	load := func(rel ...string) appleschema.Schema {
		s, err := appleschema.Load(filepath.Join(append([]string{root, "declarative"}, rel...)...))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var whole map[string]any
	if err := dec.Decode(&whole); err != nil {
		t.Fatal(err)
	}
	for _, p := range appleschema.Check("report", plainJSON(whole).(map[string]any), load("protocol", "statusreport.yaml").Keys) {
		t.Error(p)
	}
	r, err := declarative.ParseStatus(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Items)+1 != len(names) || r.Declarations == nil || len(r.Declarations) != len(set.Declarations) {
		t.Fatalf("parsed %d items and %d declarations from %v", len(r.Items), len(r.Declarations), names)
	}
	for name, v := range r.Items {
		s := load("status", name+".yaml")
		for _, p := range appleschema.Check(name, map[string]any{name: plainJSON(v)}, s.Keys) {
			t.Error(p)
		}
	}
	// Everything applies on iOS 17.4 but the apps, activated from 17.2…
	for _, st := range r.Declarations {
		if st.Valid == declarative.Invalid {
			t.Errorf("declaration %s invalid: %+v", st.Identifier, st.Reasons)
		}
	}
	// … and the passcode of 6 digits does not meet a minimum of 8.
	if v := r.Items["passcode.is-compliant"]; v != false {
		t.Errorf("passcode.is-compliant = %v", v)
	}
}
