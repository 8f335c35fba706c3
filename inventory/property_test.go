package inventory_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/micromdm/plist"

	"github.com/openomm/omm/inventory"
)

// gen builds random reports. Every value under a key the contract does not
// allow is marked "SECRET"; contract keys get "OK" values, or values of a
// random wrong type. Nothing marked SECRET may ever be stored.
type gen struct {
	r   *rand.Rand
	n   int
	all []string // candidate keys: contract, forbidden and made-up
}

func newGen(seed uint64, allowed []string, forbidden []string) *gen {
	g := &gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	g.all = append(append(append(g.all, allowed...), forbidden...), "Foo", "LastLocation", "Contacts", "SMSCount", "x.y")
	return g
}

func (g *gen) secret() string { g.n++; return fmt.Sprintf("SECRET-%d", g.n) }

// value returns a random value; ok selects a harmless payload.
func (g *gen) value(ok bool, depth int) any {
	s := g.secret()
	if ok {
		s = fmt.Sprintf("OK-%d", g.n)
	}
	switch g.r.IntN(7) {
	case 0:
		return int64(g.r.IntN(1000))
	case 1:
		return g.r.Float64() * 512
	case 2:
		return g.r.IntN(2) == 0
	case 3:
		if depth < 3 {
			return []any{g.value(false, depth+1), s}
		}
	case 4:
		if depth < 3 {
			return map[string]any{g.pick(): g.value(false, depth+1), "v": s}
		}
	}
	return s
}

func (g *gen) pick() string { return g.all[g.r.IntN(len(g.all))] }

// pickExcept picks a key that is none of keep (the fields an app entry may
// legitimately carry).
func (g *gen) pickExcept(keep ...string) string {
	for {
		if k := g.pick(); !slices.Contains(keep, k) {
			return k
		}
	}
}

func (g *gen) dict(allowed map[string]bool) map[string]any {
	m := map[string]any{}
	for range g.r.IntN(20) {
		k := g.pick()
		m[k] = g.value(allowed[k], 0)
	}
	return m
}

func checkOnlyAllowed(t *testing.T, f *fixture, seed uint64) {
	t.Helper()
	if dump := f.dump(t); strings.Contains(dump, "SECRET") {
		t.Fatalf("seed %d: a value outside the contract was stored:\n%s", seed, dump)
	}
	for _, d := range f.devices(t) {
		vals, _ := f.store.DeviceValues(t.Context(), f.org, d)
		for _, v := range vals {
			a, ok := inventory.AttributeFor(v.Key)
			if !ok || v.Validate() != nil || v.Source != a.Source {
				t.Fatalf("seed %d: stored %+v, outside the contract", seed, v)
			}
		}
		apps, _ := f.store.DeviceApps(t.Context(), f.org, d)
		for _, a := range apps {
			if !a.Managed && (a.Version != "" || a.State != "") {
				t.Fatalf("seed %d: personal app stored with details: %+v", seed, a)
			}
		}
	}
}

func (f *fixture) devices(t *testing.T) []string {
	p, err := f.store.ListDevices(t.Context(), f.org, inventory.DeviceQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range p.Devices {
		ids = append(ids, d.ID)
	}
	return ids
}

func TestPropertyAppleNothingOutsideContractStored(t *testing.T) {
	allowed := map[string]bool{}
	var allowedKeys, forbidden []string
	for _, a := range inventory.Contract() {
		for _, k := range a.Apple {
			leaf := k.Key[strings.LastIndex(k.Key, ".")+1:]
			allowed[leaf] = true
			allowedKeys = append(allowedKeys, leaf)
		}
	}
	for _, c := range inventory.Forbidden() {
		forbidden = append(forbidden, c.Apple...)
	}
	appKeys := []string{"Identifier", "Name", "ShortVersion", "Version", "BundleSize", "DynamicSize", "Installing", "Status", "IsManaged", "PayloadIdentifier"}
	statuses := schemaResponse(t, "application.managed.list.yaml", "ManagedApplicationList").Subkeys[0].Subkeys[0].Rangelist
	for seed := range uint64(300) {
		g := newGen(seed, allowedKeys, append(forbidden, appKeys...))
		f := newFixture(t)
		d := f.device(t, "UDID-P", applePlatforms[seed%uint64(len(applePlatforms))])
		var apps []any
		for range g.r.IntN(8) {
			app := map[string]any{"Identifier": fmt.Sprintf("OK-app-%d", g.r.IntN(5))}
			if g.r.IntN(2) == 0 {
				app["Name"] = "OK-name"
			}
			// A version is kept only for managed apps; every other field
			// carries a secret.
			app["ShortVersion"] = g.secret()
			for range g.r.IntN(4) {
				app[g.pickExcept("Identifier", "Name", "ShortVersion", "Version")] = g.value(false, 1)
			}
			apps = append(apps, app)
		}
		managed := map[string]any{}
		for range g.r.IntN(3) {
			status := "OK-state"
			if g.r.IntN(4) > 0 {
				status = statuses[g.r.IntN(len(statuses))]
			}
			managed[fmt.Sprintf("OK-app-%d", g.r.IntN(5))] = map[string]any{"Status": status, "ManagementFlags": g.value(false, 1)}
		}
		security := g.dict(allowed)
		if g.r.IntN(2) == 0 {
			security["FirewallSettings"] = g.dict(allowed)
		}
		results := []map[string]any{
			{"Status": "Acknowledged", "UDID": "UDID-P", "QueryResponses": g.dict(allowed)},
			{"Status": "Acknowledged", "SecurityInfo": security},
			{"Status": "Acknowledged", "InstalledApplicationList": apps},
			{"Status": "Acknowledged", "ManagedApplicationList": managed},
			{"Status": "Acknowledged", "ProfileList": []any{map[string]any{"PayloadIdentifier": "OK-profile", "IsManaged": true, "PayloadDisplayName": g.secret()},
				map[string]any{"PayloadIdentifier": g.secret(), "IsManaged": false}}},
			{"Status": "Acknowledged", g.pick(): g.dict(allowed)},
		}
		for _, i := range g.r.Perm(len(results)) {
			data, err := plist.Marshal(results[i])
			if err != nil {
				t.Fatal(err)
			}
			_, _ = f.svc.IngestApple(t.Context(), f.org, d.ID, data) // refusals are fine; storage is what is checked
		}
		// Managed apps keep versions: those were secrets, so only check
		// apps the store considers personal and values.
		if dump := f.dumpPersonal(t); strings.Contains(dump, "SECRET") {
			t.Fatalf("seed %d: a value outside the contract was stored:\n%s", seed, dump)
		}
	}
}

// dumpPersonal is dump without the versions of managed apps, which the
// contract lets the organization keep.
func (f *fixture) dumpPersonal(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(f.dump(t))
	for _, d := range f.devices(t) {
		apps, _ := f.store.DeviceApps(t.Context(), f.org, d)
		for _, a := range apps {
			if a.Managed && a.Version != "" {
				b2 := strings.ReplaceAll(b.String(), "|"+a.Version+"|", "|managed-version|")
				b.Reset()
				b.WriteString(b2)
			}
			if !a.Managed && (a.Version != "" || a.State != "") {
				t.Fatalf("personal app stored with details: %+v", a)
			}
			if class, _ := inventory.AppleAppStatus(a.State); a.Managed && class != inventory.AppManaged && (a.Name != "" || a.Version != "") {
				t.Fatalf("app the user has not accepted stored as installed and managed: %+v", a)
			}
		}
	}
	return b.String()
}

func TestPropertyAndroidNothingOutsideContractStored(t *testing.T) {
	allowed := map[string]bool{}
	sections := map[string][]string{}
	for _, a := range inventory.Contract() {
		if sec, field, ok := strings.Cut(a.Android, "."); ok {
			sections[sec] = append(sections[sec], field)
			allowed[field] = true
		}
	}
	var fields []string
	for _, fs := range sections {
		fields = append(fields, fs...)
	}
	for seed := range uint64(300) {
		g := newGen(seed, fields, []string{"imei", "wifiMacAddress", "networkOperatorName", "events", "packageName", "displayName", "versionName", "state"})
		report := map[string]any{}
		for sec := range sections {
			if g.r.IntN(3) > 0 {
				report[sec] = g.dict(allowed)
			}
		}
		report["networkInfo"] = map[string]any{"imei": g.secret(), "telephonyInfos": []any{map[string]any{"phoneNumber": g.secret()}}}
		report[g.pick()] = g.value(false, 0)
		var apps []any
		for range g.r.IntN(6) {
			app := map[string]any{"packageName": fmt.Sprintf("OK.app%d", g.r.IntN(4)), "displayName": "OK-name", "versionName": g.secret(), "state": g.secret()}
			app[g.pickExcept("packageName", "displayName", "versionName", "state")] = g.value(false, 1)
			apps = append(apps, app)
		}
		report["applicationReports"] = apps
		data, err := json.Marshal(report)
		if err != nil {
			t.Fatal(err)
		}
		f := newFixture(t)
		d := f.android(t, inventory.EnrollAndroidDeviceAdmin, inventory.OwnershipPersonal)
		_, _ = f.svc.IngestAndroid(t.Context(), f.org, d.ID, data)
		checkOnlyAllowed(t, f, seed)
	}
}
