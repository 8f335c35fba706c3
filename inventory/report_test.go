package inventory_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/openomm/omm/inventory"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestReportJSON pins the report's JSON: field names are a stable interface
// for the web UI, and every value shown must be one stored, with its source
// and collection time.
func TestReportJSON(t *testing.T) {
	f := newFixture(t, inventory.WithDirectory(phoneBook{"alice": "+1 555 0100"}))
	d := f.apple(t, udid)
	for _, name := range []string{"DeviceInformation.full.plist", "SecurityInfo.plist", "ProfileList.plist", "ManagedApplicationList.plist", "InstalledApplicationList.plist"} {
		if _, err := f.svc.IngestApple(t.Context(), f.org, d.ID, readFile(t, testdata("apple", name))); err != nil {
			t.Fatal(err)
		}
	}
	*f.clock = now.Add(time.Hour)
	r, err := f.svc.Report(t.Context(), f.org, d.ID, inventory.ReportOptions{FullWipeAllowed: true})
	if err != nil {
		t.Fatal(err)
	}
	r.DeviceID = "dev_golden" // random per run
	got, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden := testdata("report.golden.json")
	if *update {
		if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := readFile(t, golden)
	if d := cmp.Diff(string(bytes.TrimSpace(want)), string(got)); d != "" {
		t.Errorf("report JSON (-golden +got):\n%s", d)
	}
	checkNotStored(t, f, appleSecrets)
	if bytes.Contains(got, []byte("35 209900")) || bytes.Contains(got, []byte("24.3")) {
		t.Error("report shows a forbidden value")
	}
}

func TestReportWipe(t *testing.T) {
	tests := []struct {
		name   string
		owner  inventory.Ownership
		et     inventory.EnrollmentType
		policy bool
		want   bool
	}{
		{"company device, policy allows", inventory.OwnershipCompany, inventory.EnrollAppleDevice, true, true},
		{"company device, policy forbids", inventory.OwnershipCompany, inventory.EnrollAppleDevice, false, false},
		{"personal device, policy allows", inventory.OwnershipPersonal, inventory.EnrollAppleDevice, true, false},
		{"user enrollment", inventory.OwnershipPersonal, inventory.EnrollAppleUser, true, false},
		{"company work profile", inventory.OwnershipCompany, inventory.EnrollAndroidWorkProfile, true, false},
		{"fully managed", inventory.OwnershipCompany, inventory.EnrollAndroidFullyManaged, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := inventory.PlatformIOS
			if tt.et == inventory.EnrollAndroidWorkProfile || tt.et == inventory.EnrollAndroidFullyManaged {
				p = inventory.PlatformAndroid
			}
			d := inventory.Device{ID: "dev_1", Platform: p, Ownership: tt.owner, EnrollmentType: tt.et}
			r := inventory.BuildReport(d, nil, nil, inventory.ReportOptions{FullWipeAllowed: tt.policy}, now)
			if r.Wipe.FactoryReset != tt.want || !r.Wipe.SelectiveWipe || r.Wipe.Explanation == "" {
				t.Errorf("wipe = %+v, want factory reset %v", r.Wipe, tt.want)
			}
			if got := inventory.AccessRights(tt.policy && d.FactoryResetPermitted())&int(inventory.RightErase) != 0; got != tt.want {
				t.Errorf("erase right %v, want %v", got, tt.want)
			}
		})
	}
}

// TestReportShowsOnlyStored: nothing collected, nothing shown, but every
// promise and every forbidden category listed.
func TestReportShowsOnlyStored(t *testing.T) {
	d := inventory.Device{ID: "dev_1", Platform: inventory.PlatformAndroid, Ownership: inventory.OwnershipPersonal, EnrollmentType: inventory.EnrollAndroidWorkProfile}
	r := inventory.BuildReport(d, nil, nil, inventory.ReportOptions{}, now)
	for _, item := range r.CanSee {
		if item.Value != "" || item.CollectedAt != nil {
			t.Errorf("%s shows %q collected %v with nothing stored", item.Attribute, item.Value, item.CollectedAt)
		}
		if item.Attribute == inventory.KeyModelNumber || item.Attribute == inventory.KeyDeviceName {
			t.Errorf("%s listed for Android, which does not report it", item.Attribute)
		}
	}
	if len(r.CannotSee) != len(inventory.Forbidden()) {
		t.Errorf("%d categories listed as unseen, want %d", len(r.CannotSee), len(inventory.Forbidden()))
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var generic map[string]any
	if err := json.Unmarshal(b, &generic); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"device_id", "platform", "ownership", "enrollment_type", "state", "generated_at", "can_see", "apps", "cannot_see", "wipe"} {
		if _, ok := generic[k]; !ok {
			t.Errorf("report JSON lacks %q", k)
		}
	}
}

// TestPreviewIsTheReportsPromise: what a user is shown before enrolling
// lists exactly the rows the report of the enrolled device can hold, with
// the same wipe rule.
func TestPreviewIsTheReportsPromise(t *testing.T) {
	now := time.Now()
	for _, tt := range []struct {
		p     inventory.Platform
		own   inventory.Ownership
		typ   inventory.EnrollmentType
		wipe  bool
		reset bool
	}{
		{inventory.PlatformIOS, inventory.OwnershipPersonal, inventory.EnrollAppleDevice, true, false},
		{inventory.PlatformIOS, inventory.OwnershipCompany, inventory.EnrollAppleDevice, true, true},
		{inventory.PlatformAndroid, inventory.OwnershipPersonal, inventory.EnrollAndroidWorkProfile, true, false},
		{inventory.PlatformMacOS, inventory.OwnershipCompany, inventory.EnrollAppleDevice, false, false},
	} {
		pre := inventory.Preview(tt.p, tt.own, tt.typ, inventory.ReportOptions{FullWipeAllowed: tt.wipe}, now)
		d := inventory.Device{ID: "d1", Platform: tt.p, Ownership: tt.own, EnrollmentType: tt.typ, State: inventory.StateEnrolled}
		rep := inventory.BuildReport(d, nil, nil, inventory.ReportOptions{FullWipeAllowed: tt.wipe}, now)
		var a, b []inventory.Key
		for _, it := range pre.CanSee {
			if it.Value != "" || it.CollectedAt != nil {
				t.Errorf("%s preview holds a value: %+v", tt.p, it)
			}
			a = append(a, it.Attribute)
		}
		for _, it := range rep.CanSee {
			b = append(b, it.Attribute)
		}
		if !slices.Equal(a, b) || len(a) == 0 {
			t.Errorf("%s: preview rows %v, report rows %v", tt.p, a, b)
		}
		if pre.Wipe.FactoryReset != tt.reset || len(pre.CannotSee) == 0 || pre.Apps.Promise == "" {
			t.Errorf("%s %s: preview wipe %+v, %d cannot-see rows", tt.p, tt.own, pre.Wipe, len(pre.CannotSee))
		}
	}
}
