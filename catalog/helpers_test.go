package catalog_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/micromdm/plist"

	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/catalog"
	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
)

var start = time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// directory is a fixed directory: users' groups and attributes.
type directory struct {
	mu     sync.Mutex
	groups map[string][]string // user → groups
	users  map[string]auth.User
}

func (d *directory) Groups(_ context.Context, org storage.OrgID, user string) ([]auth.Group, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.users[user]; !ok {
		return nil, fmt.Errorf("user %q: %w", user, storage.ErrNotFound)
	}
	var out []auth.Group
	for _, g := range d.groups[user] {
		out = append(out, auth.Group{Org: org, ID: g, Name: g})
	}
	return out, nil
}

func (d *directory) GroupMembers(_ context.Context, _ storage.OrgID, group string) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for u, gs := range d.groups {
		if slices.Contains(gs, group) {
			out = append(out, u)
		}
	}
	slices.Sort(out)
	return out, nil
}

func (d *directory) User(_ context.Context, _ storage.OrgID, user string) (auth.User, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	u, ok := d.users[user]
	if !ok {
		return auth.User{}, fmt.Errorf("user %q: %w", user, storage.ErrNotFound)
	}
	return u, nil
}

func (d *directory) leave(user, group string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.groups[user] = slices.DeleteFunc(d.groups[user], func(g string) bool { return g == group })
}

// nudger records the devices it was asked to nudge.
type nudger struct {
	mu     sync.Mutex
	nudged []string
}

func (n *nudger) Nudge(_ context.Context, _ storage.OrgID, devices []string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.nudged = append(n.nudged, devices...)
	return nil
}

func (n *nudger) take() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := n.nudged
	n.nudged = nil
	slices.Sort(out)
	return out
}

// backend is every store contract the fixture uses.
type backend interface {
	storage.OrgStore
	storage.AuditLog
	catalog.Store
	inventory.Store
	enroll.CommandQueue
}

type fixture struct {
	store  backend
	inv    *inventory.Service
	svc    *catalog.Service
	dir    *directory
	nudger *nudger
	org    storage.OrgID
	now    time.Time
}

// newFixture returns a catalog over a memory store with org "acme", users
// alice (groups sales, all) and bob (group all).
func newFixture(t testing.TB) *fixture { return newFixtureOn(t, memory.New()) }

func newFixtureOn(t testing.TB, store backend) *fixture {
	t.Helper()
	f := &fixture{store: store, org: "org_acme", now: start, nudger: &nudger{}}
	f.dir = &directory{
		groups: map[string][]string{"alice": {"grp_sales", "grp_all"}, "bob": {"grp_all"}},
		users: map[string]auth.User{
			"alice": {ID: "alice", Username: "alice", Email: "alice@acme.example", DisplayName: "Alice Liddell"},
			"bob":   {ID: "bob", Username: "bob", DisplayName: "Bob"},
		},
	}
	o := storage.Org{ID: f.org, Name: "acme", DisplayName: "Acme"}
	if _, err := f.store.CreateOrg(t.Context(), o, storage.AuditEntry{Org: o.ID, Time: start, Actor: "system", Action: "org.create"}); err != nil {
		t.Fatal(err)
	}
	clock := func() time.Time { return f.now }
	f.inv = inventory.New(f.store, inventory.WithClock(clock), inventory.WithLogger(quiet()))
	f.svc = catalog.New(f.store, f.store, f.dir, catalog.WithClock(clock), catalog.WithLogger(quiet()), catalog.WithNudger(f.nudger))
	return f
}

// tick moves the clock on, so that every event has its own time.
func (f *fixture) tick() { f.now = f.now.Add(time.Minute) }

func (f *fixture) device(t testing.TB, user string, p inventory.Platform, et inventory.EnrollmentType, own inventory.Ownership) inventory.Device {
	t.Helper()
	f.tick()
	d, err := f.inv.Register(t.Context(), inventory.Device{
		Org: f.org, UserID: user, Platform: p, Ownership: own, EnrollmentType: et,
		State: inventory.StateEnrolled, Identifier: fmt.Sprintf("UDID-%s-%d", user, f.now.Unix()),
	}, "system")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (f *fixture) iphone(t testing.TB, user string) inventory.Device {
	return f.device(t, user, inventory.PlatformIOS, inventory.EnrollAppleDevice, inventory.OwnershipCompany)
}

func (f *fixture) app(t testing.TB, a catalog.App) catalog.App {
	t.Helper()
	a.Org = f.org
	got, err := f.svc.CreateApp(t.Context(), a, "admin:root")
	if err != nil {
		t.Fatalf("CreateApp(%q): %v", a.Name, err)
	}
	return got
}

func (f *fixture) assign(t testing.TB, app, group string, mode catalog.Mode) catalog.Assignment {
	t.Helper()
	f.tick()
	a, err := f.svc.Assign(t.Context(), catalog.Assignment{Org: f.org, AppID: app, Group: group, Mode: mode}, "admin:root")
	if err != nil {
		t.Fatalf("Assign(%q, %q): %v", app, group, err)
	}
	return a
}

func mailApp() catalog.App {
	return catalog.App{Kind: catalog.AppStore, Identifier: "com.acme.mail", StoreID: 361309726, Name: "Mail",
		Config: []catalog.ConfigEntry{
			{Key: "user", Type: catalog.TypeString, Value: "${user.login}"},
			{Key: "address", Type: catalog.TypeString, Value: "${user.name} <${user.email}>"},
			{Key: "port", Type: catalog.TypeInteger, Value: "993"},
			{Key: "tls", Type: catalog.TypeBoolean, Value: "true"},
		}}
}

func salesApp() catalog.App {
	return catalog.App{Kind: catalog.InHouse, Identifier: "com.acme.sales", ManifestURL: "https://apps.acme.example/sales.plist",
		BundleVersion: "1.4", Name: "Sales"}
}

// reportedApp is one app in a simulated device report.
type reportedApp struct {
	id, name, version string
	status            string // ManagedApplicationList status; "" for a personal app
}

// report simulates the device's answers to InstalledApplicationList and
// ManagedApplicationList, ingested through inventory as the check-in
// service would.
func (f *fixture) report(t testing.TB, d inventory.Device, apps ...reportedApp) {
	t.Helper()
	f.tick()
	var inst, managed strings.Builder
	for _, a := range apps {
		if a.name != "" {
			fmt.Fprintf(&inst, "<dict><key>Identifier</key><string>%s</string><key>Name</key><string>%s</string><key>ShortVersion</key><string>%s</string></dict>", a.id, a.name, a.version)
		}
		if a.status != "" {
			fmt.Fprintf(&managed, "<key>%s</key><dict><key>Status</key><string>%s</string></dict>", a.id, a.status)
		}
	}
	// Managed list first: inventory keeps a managed app missing from an
	// installed list (it may still be installing) until the managed list
	// drops it, so this order shows a removal at once.
	for _, body := range []string{
		"<key>ManagedApplicationList</key><dict>" + managed.String() + "</dict>",
		"<key>InstalledApplicationList</key><array>" + inst.String() + "</array>",
	} {
		res := `<plist version="1.0"><dict><key>Status</key><string>Acknowledged</string><key>UDID</key><string>` + d.Identifier +
			`</string><key>CommandUUID</key><string>inv</string>` + body + `</dict></plist>`
		if _, err := f.inv.IngestApple(t.Context(), f.org, d.ID, []byte(res)); err != nil {
			t.Fatalf("ingest: %v", err)
		}
	}
}

// command is a queued MDM command, decoded.
type command struct {
	UUID        string
	RequestType string
	Request     map[string]any
}

// commands returns the device's open commands of the given request types,
// oldest first.
func (f *fixture) commands(t testing.TB, d inventory.Device, types ...string) []command {
	t.Helper()
	qs, err := f.store.Commands(t.Context(), f.org, d.ID, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []command
	for _, q := range slices.Backward(qs) {
		if !slices.Contains(types, q.RequestType) {
			continue
		}
		var body struct {
			CommandUUID string
			Command     map[string]any
		}
		if err := plist.Unmarshal(q.Body, &body); err != nil {
			t.Fatalf("queued %s: %v", q.RequestType, err)
		}
		out = append(out, command{UUID: body.CommandUUID, RequestType: q.RequestType, Request: body.Command})
	}
	return out
}

// only returns the single command of the types, failing otherwise.
func (f *fixture) only(t testing.TB, d inventory.Device, types ...string) command {
	t.Helper()
	cs := f.commands(t, d, types...)
	if len(cs) != 1 {
		t.Fatalf("device has %d %v commands, want 1: %+v", len(cs), types, cs)
	}
	return cs[0]
}

func (f *fixture) answer(t testing.TB, d inventory.Device, c command, status enroll.CommandStatus, detail string) {
	t.Helper()
	f.tick()
	if err := f.svc.InstallOutcome(t.Context(), f.org, d.ID, c.UUID, status, detail); err != nil {
		t.Fatalf("InstallOutcome(%s %s): %v", c.RequestType, status, err)
	}
}

// item returns the app's item in the user's store on the device.
func (f *fixture) item(t testing.TB, user string, d inventory.Device, appID string) catalog.Item {
	t.Helper()
	v, err := f.svc.View(t.Context(), f.org, user, d.ID)
	if err != nil {
		t.Fatalf("View: %v", err)
	}
	for _, it := range v.Items {
		if it.App.ID == appID {
			return it
		}
	}
	t.Fatalf("app %q is not in %s's store: %+v", appID, user, v.Items)
	return catalog.Item{}
}

func (f *fixture) wantState(t testing.TB, user string, d inventory.Device, appID string, want catalog.State) catalog.Item {
	t.Helper()
	it := f.item(t, user, d, appID)
	if it.State != want {
		t.Fatalf("%s is %s (reason %q), want %s", it.App.Name, it.State, it.Reason, want)
	}
	return it
}

func (f *fixture) auditEntry(action string) storage.AuditEntry {
	return storage.AuditEntry{Org: f.org, Time: f.now, Actor: "admin:root", Action: action}
}

// catalogState is what a rejected call must leave unchanged.
type catalogState struct {
	Apps  []catalog.App
	Audit int
}

func (f *fixture) snapshot(t testing.TB) catalogState {
	t.Helper()
	apps, err := f.store.ListApps(t.Context(), f.org)
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.store.ListAudit(t.Context(), f.org, storage.AuditQuery{Limit: storage.MaxAuditPage})
	if err != nil {
		t.Fatal(err)
	}
	return catalogState{Apps: apps, Audit: len(p.Entries)}
}
