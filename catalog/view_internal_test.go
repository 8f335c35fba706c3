package catalog

import (
	"testing"
	"time"

	"github.com/openomm/omm/inventory"
)

func TestDerive(t *testing.T) {
	t0 := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	before, after := t0.Add(-time.Minute), t0.Add(time.Minute) // report times around the record's
	iphone := inventory.Device{Platform: inventory.PlatformIOS, EnrollmentType: inventory.EnrollAppleDevice}
	byod := inventory.Device{Platform: inventory.PlatformIOS, EnrollmentType: inventory.EnrollAppleUser}
	store := App{Kind: AppStore, Identifier: "com.a", Name: "A"}
	inHouse := App{Kind: InHouse, Identifier: "com.a", Name: "A", BundleVersion: "2.0"}
	managed := func(state string) reported {
		return reported{inventory.App{Identifier: "com.a", Name: "A", Managed: true, State: state, Version: "1"}, true}
	}
	personal := reported{inventory.App{Identifier: "com.a", Name: "A"}, true}
	absent := reported{}
	rec := func(p Progress) *Install { return &Install{Progress: p, Reason: "why", Updated: t0} }
	tests := []struct {
		name     string
		app      App
		mode     Mode
		rep      reported
		rec      *Install
		report   time.Time
		dev      inventory.Device
		want     State
		takeOver bool
		update   bool
	}{
		{"nothing", store, Available, absent, nil, before, iphone, StateAvailable, false, false},
		{"reported managed", store, Available, managed("Managed"), nil, after, iphone, StateInstalled, false, false},
		{"reported installing", store, Available, managed("Prompting"), nil, after, iphone, StateInstalling, false, false},
		{"managed but uninstalled", store, Available, managed("ManagedButUninstalled"), nil, after, iphone, StateAvailable, false, false},
		{"management rejected", store, Available, managed("ManagementRejected"), nil, after, iphone, StateUserRejected, false, false},
		{"android installed", App{Kind: Play, Identifier: "com.a"}, Available, managed("INSTALLED"), nil, after, inventory.Device{Platform: inventory.PlatformAndroid}, StateInstalled, false, false},
		{"personal copy", store, AutoInstall, personal, nil, after, iphone, StateUnmanaged, false, false},
		{"personal copy, take-over", store, TakeOver, personal, nil, after, iphone, StateUnmanaged, true, false},
		{"personal copy, take-over, user enrollment", store, TakeOver, personal, nil, after, byod, StateUnmanaged, false, false},
		{"user installed first", store, TakeOver, managed("UserInstalledApp"), nil, after, iphone, StateUnmanaged, true, false},
		{"queued, older report", store, Available, absent, rec(Queued), before, iphone, StateInstalling, false, false},
		{"queued, newer report without it", store, Available, absent, rec(Queued), after, iphone, StateInstalling, false, false},
		{"queued, newer report installed", store, Available, managed("Managed"), rec(Queued), after, iphone, StateInstalled, false, false},
		{"queued, older report installed (update)", store, Available, managed("Managed"), rec(Queued), before, iphone, StateInstalling, false, false},
		{"queued, report at the same time", store, Available, managed("UserRejected"), rec(Queued), t0, iphone, StateInstalling, false, false},
		{"accepted, older report", store, Available, absent, rec(Accepted), before, iphone, StateInstalling, false, false},
		{"accepted, newer report without it", store, Available, absent, rec(Accepted), after, iphone, StateAvailable, false, false},
		{"failed, older report", store, Available, absent, rec(Failed), before, iphone, StateFailed, false, false},
		{"failed, newer report without it", store, Available, absent, rec(Failed), after, iphone, StateFailed, false, false},
		{"failed, newer report installed", store, Available, managed("Managed"), rec(Failed), after, iphone, StateInstalled, false, false},
		{"rejected, newer report without it", store, Available, absent, rec(Rejected), after, iphone, StateUserRejected, false, false},
		{"removing, older report", store, Available, managed("Managed"), rec(Removing), before, iphone, StateRemoving, false, false},
		{"removing, newer report still managed", store, Available, managed("Managed"), rec(Removing), after, iphone, StateRemoving, false, false},
		{"removing, newer report gone", store, Available, absent, rec(Removing), after, iphone, StateAvailable, false, false},
		{"removed, older report", store, Available, managed("Managed"), rec(Removed), before, iphone, StateAvailable, false, false},
		{"removed, newer report", store, Available, absent, rec(Removed), after, iphone, StateAvailable, false, false},
		{"in-house from an older build", inHouse, Available, managed("Managed"), &Install{Progress: Accepted, Updated: t0, BundleVersion: "1.9"}, after, iphone, StateInstalled, false, true},
		{"in-house from the current build", inHouse, Available, managed("Managed"), &Install{Progress: Accepted, Updated: t0, BundleVersion: "2"}, after, iphone, StateInstalled, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			it := derive(Item{App: tc.app, Mode: tc.mode}, tc.rep, tc.rec, tc.report, tc.dev)
			if it.State != tc.want || it.TakeOver != tc.takeOver || it.UpdateAvailable != tc.update {
				t.Errorf("derive = %s take-over %v update %v, want %s %v %v", it.State, it.TakeOver, it.UpdateAvailable, tc.want, tc.takeOver, tc.update)
			}
			if it.State == StateUnmanaged && it.Advice == "" {
				t.Error("unmanaged without advice")
			}
		})
	}
}

func TestDeclined(t *testing.T) {
	for detail, want := range map[string]bool{
		"":                                     false,
		"Could not download the app":           false,
		"State: UserRejected":                  true,
		"The user declined to install the app": true,
		"ManagementRejected":                   true,
		"Installation canceled by the user":    true,
	} {
		if got := declined(detail); got != want {
			t.Errorf("declined(%q) = %v, want %v", detail, got, want)
		}
	}
}

func TestCleanReason(t *testing.T) {
	long := make([]rune, MaxReasonLen+10)
	for i := range long {
		long[i] = 'é'
	}
	for in, want := range map[string]string{
		"  disk full\x00\x07 ": "disk full",
		"two\nlines\tok":       "two\nlines\tok",
		"bad \xff utf8":        "bad \uFFFD utf8",
		string(long):           string(long[:MaxReasonLen]),
	} {
		if got := cleanReason(in); got != want {
			t.Errorf("cleanReason(%q) = %q, want %q", in, got, want)
		}
		if err := validateText("reason", cleanReason(in), MaxReasonLen, false, true); err != nil {
			t.Errorf("cleaned reason not storable: %v", err)
		}
	}
}
