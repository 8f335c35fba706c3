package inventory_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/internal/appleschema"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
)

// shared returns a path inside the shared folder beside the repository
// (Apple's schema, real device messages), found by walking up from the
// package as CI lays it out.
func shared(t testing.TB, rel string) string {
	t.Helper()
	schema, err := appleschema.Dir()
	if err != nil {
		t.Fatalf("Apple's schema and device fixtures (expected beside the repository): %v", err)
	}
	return filepath.Join(filepath.Dir(schema), rel)
}

var now = time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.UTC)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return b
}

// phoneBook is a directory with fixed numbers.
// phoneBook is a directory of users' phone numbers.
type phoneBook map[string]string

func (p phoneBook) User(_ context.Context, org storage.OrgID, user string) (auth.User, error) {
	n, ok := p[user]
	if !ok {
		return auth.User{}, storage.ErrNotFound
	}
	return auth.User{Org: org, ID: user, Username: user, Phone: n}, nil
}

type fixture struct {
	store *memory.Store
	svc   *inventory.Service
	org   storage.OrgID
	clock *time.Time
	logs  *bytes.Buffer
}

func newFixture(t testing.TB, opts ...inventory.Option) *fixture {
	t.Helper()
	s := memory.New()
	o := storage.Org{ID: "org_acme", Name: "acme", DisplayName: "Acme"}
	if _, err := s.CreateOrg(t.Context(), o, storage.AuditEntry{Org: o.ID, Time: now, Actor: "system", Action: "org.create"}); err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: s, org: o.ID, logs: &bytes.Buffer{}}
	clock := now
	f.clock = &clock
	base := []inventory.Option{
		inventory.WithClock(func() time.Time { return *f.clock }),
		// Without the wall-clock time: the checks search the log for
		// short values ("7.0"), which a timestamp may contain by chance.
		inventory.WithLogger(slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{ReplaceAttr: dropTime}))),
	}
	f.svc = inventory.New(s, append(base, opts...)...)
	return f
}

// iPhone is the OS of the testdata fixtures.
var iPhone = inventory.OS{Platform: inventory.PlatformIOS, Version: "17.4.1"}

// apple registers an enrolled company iPhone with the UDID of the
// testdata fixtures.
func (f *fixture) apple(t testing.TB, udid string) inventory.Device {
	t.Helper()
	return f.device(t, udid, inventory.PlatformIOS)
}

// device registers an enrolled company Apple device of platform p.
func (f *fixture) device(t testing.TB, udid string, p inventory.Platform) inventory.Device {
	t.Helper()
	d, err := f.svc.Register(t.Context(), inventory.Device{
		Org: f.org, UserID: "alice", Platform: p, Ownership: inventory.OwnershipCompany,
		EnrollmentType: inventory.EnrollAppleDevice, State: inventory.StateEnrolled, Identifier: udid,
	}, "system")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (f *fixture) android(t testing.TB, et inventory.EnrollmentType, o inventory.Ownership) inventory.Device {
	t.Helper()
	d, err := f.svc.Register(t.Context(), inventory.Device{
		Org: f.org, UserID: "alice", Platform: inventory.PlatformAndroid, Ownership: o,
		EnrollmentType: et, State: inventory.StateEnrolled, Identifier: "3a1f9c2b7d4e6f80",
	}, "system")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// dump is everything the store holds about the org, as text: the device
// records, stored values, apps and audit log. A forbidden value found in
// it was stored somewhere.
func (f *fixture) dump(t testing.TB) string {
	t.Helper()
	ctx := t.Context()
	var b strings.Builder
	page, err := f.store.ListDevices(ctx, f.org, inventory.DeviceQuery{Limit: inventory.MaxDevicePage})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range page.Devices {
		b.WriteString(strings.Join([]string{d.ID, d.UserID, d.Identifier, d.EnrollmentID, d.SerialNumber}, "|") + "\n")
		vals, err := f.store.DeviceValues(ctx, f.org, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			b.WriteString(string(v.Key) + "=" + v.Value + "\n")
		}
		apps, err := f.store.DeviceApps(ctx, f.org, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range apps {
			b.WriteString(strings.Join([]string{a.Identifier, a.Name, a.Version, a.State}, "|") + "\n")
		}
	}
	log, err := f.store.ListAudit(ctx, f.org, storage.AuditQuery{Limit: storage.MaxAuditPage})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range log.Entries {
		b.WriteString(e.Action + " " + e.Target + "\n")
		for _, k := range slices.Sorted(maps.Keys(e.Details)) {
			b.WriteString(k + "=" + e.Details[k] + "\n")
		}
	}
	return b.String()
}

// schemaKeys returns the keys listed directly under the response key
// parent in one of Apple's command schemas, in file order.
func schemaKeys(t testing.TB, file, parent string) []string {
	t.Helper()
	var keys []string
	for _, k := range schemaResponse(t, file, parent).Subkeys {
		keys = append(keys, k.Key)
	}
	if len(keys) == 0 {
		t.Fatalf("no keys under %s in %s", parent, file)
	}
	return keys
}

// schemaResponse returns the response key parent of one of Apple's
// command schemas, with its subkeys and their OS support.
func schemaResponse(t testing.TB, file, parent string) appleschema.Key {
	t.Helper()
	s, err := appleschema.Load(shared(t, filepath.Join("apple-device-management/mdm/commands", file)))
	if err != nil {
		t.Fatal(err)
	}
	k, ok := appleschema.Find(s.ResponseKeys, parent)
	if !ok {
		t.Fatalf("no response key %s in %s", parent, file)
	}
	return k
}

// schemaDeviceKeys returns the QueryResponses keys of Apple's
// DeviceInformation schema, each with the OS support of the query that
// asks for it where the response key says nothing of its own (the schema
// records when a key arrived on the query: ModelNumber in iOS 16.4).
func schemaDeviceKeys(t testing.TB) []appleschema.Key {
	t.Helper()
	s, err := appleschema.Load(shared(t, "apple-device-management/mdm/commands/information.device.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	resp, ok := appleschema.Find(s.ResponseKeys, "QueryResponses")
	queries, ok2 := appleschema.Find(s.Keys, "Queries")
	if !ok || !ok2 || len(queries.Subkeys) != 1 {
		t.Fatal("DeviceInformation schema: no QueryResponses or Queries")
	}
	keys := slices.Clone(resp.Subkeys)
	for i, k := range keys {
		q, ok := appleschema.Find(queries.Subkeys[0].Subkeys, k.Key)
		if !ok {
			continue
		}
		merged := maps.Clone(q.SupportedOS)
		if merged == nil {
			merged = map[string]appleschema.OSSupport{}
		}
		maps.Copy(merged, k.SupportedOS)
		keys[i].SupportedOS = merged
	}
	return keys
}

// appResult is an Apple result of udid with one response.
func appResult(udid, key, body string) []byte {
	return []byte(`<plist version="1.0"><dict><key>Status</key><string>Acknowledged</string><key>UDID</key><string>` + udid +
		`</string><key>` + key + `</key>` + body + `</dict></plist>`)
}

func dropTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}
