package inventory_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
)

// shared is Apple's schema and real device messages, beside the repository.
const shared = "../../shared"

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
type phoneBook map[string]string

func (p phoneBook) PhoneNumber(_ context.Context, _ storage.OrgID, user string) (string, error) {
	n, ok := p[user]
	if !ok {
		return "", storage.ErrNotFound
	}
	return n, nil
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

// apple registers an enrolled company iPhone with the UDID of the
// testdata fixtures.
func (f *fixture) apple(t testing.TB, udid string) inventory.Device {
	t.Helper()
	d, err := f.svc.Register(t.Context(), inventory.Device{
		Org: f.org, UserID: "alice", Platform: inventory.PlatformIOS, Ownership: inventory.OwnershipCompany,
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
// parent in one of Apple's command schemas (YAML), in file order.
func schemaKeys(t testing.TB, file, parent string) []string {
	t.Helper()
	fh, err := os.Open(filepath.Join(shared, "apple-device-management/mdm/commands", file))
	if err != nil {
		t.Fatalf("Apple's schema (expected beside the repository): %v", err)
	}
	defer fh.Close()
	top := regexp.MustCompile(`^- key: (\S+)`)
	sub := regexp.MustCompile(`^  - key: (\S+)`)
	var keys []string
	in, responses := false, false
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		line := sc.Text()
		if line == "responsekeys:" {
			responses = true
		}
		if m := top.FindStringSubmatch(line); m != nil {
			in = responses && m[1] == parent
			continue
		}
		if in {
			if m := sub.FindStringSubmatch(line); m != nil {
				keys = append(keys, m[1])
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(keys) == 0 {
		t.Fatalf("no keys under %s in %s", parent, file)
	}
	return keys
}

func dropTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}
