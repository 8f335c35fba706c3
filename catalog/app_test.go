package catalog_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/catalog"
	"github.com/openomm/omm/storage"
)

func TestAppValidate(t *testing.T) {
	base := catalog.App{ID: "app_1", Org: "org_acme", Kind: catalog.InHouse, Identifier: "com.acme.sales",
		ManifestURL: "https://apps.acme.example/m.plist", BundleVersion: "1.2.3", Name: "Sales"}
	tests := []struct {
		name string
		edit func(*catalog.App)
		ok   bool
	}{
		{"valid", func(*catalog.App) {}, true},
		{"manifest http", func(a *catalog.App) { a.ManifestURL = "http://apps.acme.example/m.plist" }, false},
		{"manifest with credentials", func(a *catalog.App) { a.ManifestURL = "https://u:p@apps.acme.example/m.plist" }, false},
		{"manifest with space", func(a *catalog.App) { a.ManifestURL = "https://apps.acme.example/m .plist" }, false},
		{"relative manifest", func(a *catalog.App) { a.ManifestURL = "/m.plist" }, false},
		{"four-part version", func(a *catalog.App) { a.BundleVersion = "1.2.3.4" }, false},
		{"empty version part", func(a *catalog.App) { a.BundleVersion = "1..2" }, false},
		{"negative version", func(a *catalog.App) { a.BundleVersion = "-1" }, false},
		{"bundle id with underscore", func(a *catalog.App) { a.Identifier = "com.acme_sales" }, false},
		{"bundle id with hyphen", func(a *catalog.App) { a.Identifier = "com.acme-corp.sales" }, true},
		{"single-part bundle id", func(a *catalog.App) { a.Identifier = "sales" }, true},
		{"play package", func(a *catalog.App) {
			a.Kind, a.ManifestURL, a.BundleVersion, a.Identifier = catalog.Play, "", "", "com.acme.sales_2"
		}, true},
		{"play package, one part", func(a *catalog.App) {
			a.Kind, a.ManifestURL, a.BundleVersion, a.Identifier = catalog.Play, "", "", "sales"
		}, false},
		{"play package, digit first", func(a *catalog.App) {
			a.Kind, a.ManifestURL, a.BundleVersion, a.Identifier = catalog.Play, "", "", "com.1acme"
		}, false},
		{"play with manifest", func(a *catalog.App) { a.Kind, a.Identifier = catalog.Play, "com.acme.sales" }, false},
		{"app store without id", func(a *catalog.App) { a.Kind, a.ManifestURL, a.BundleVersion = catalog.AppStore, "", "" }, false},
		{"description multiline", func(a *catalog.App) { a.Description = "one\ntwo" }, true},
		{"name multiline", func(a *catalog.App) { a.Name = "one\ntwo" }, false},
		{"bad org", func(a *catalog.App) { a.Org = "" }, false},
		{"bad id", func(a *catalog.App) { a.ID = "app 1" }, false},
	}
	for _, tc := range tests {
		a := base
		tc.edit(&a)
		err := a.Validate()
		if tc.ok != (err == nil) || err != nil && !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("%s: Validate = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func TestCompareBundleVersions(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"1", "1.0.0", 0}, {"1.10", "1.9", 1}, {"2", "10", -1}, {"1.2.3", "1.2.4", -1}, {"007", "7", 0},
	}
	for _, tc := range tests {
		got, err := catalog.CompareBundleVersions(tc.a, tc.b)
		if err != nil || got != tc.want {
			t.Errorf("CompareBundleVersions(%q, %q) = %d, %v; want %d", tc.a, tc.b, got, err, tc.want)
		}
	}
	if _, err := catalog.CompareBundleVersions("1.x", "1"); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("CompareBundleVersions(1.x): %v, want ErrInvalid", err)
	}
}

func TestResolveConfig(t *testing.T) {
	u := auth.User{ID: "u1", Username: "alice", Email: "alice@acme.example", DisplayName: "Alice"}
	entries := []catalog.ConfigEntry{
		{Key: "login", Type: catalog.TypeString, Value: "${user.login}"},
		{Key: "greeting", Type: catalog.TypeString, Value: "Hi ${user.name} (${user.id}), costs $5 and $${literal}"},
		{Key: "count", Type: catalog.TypeInteger, Value: "-12"},
		{Key: "on", Type: catalog.TypeBoolean, Value: "false"},
		{Key: "ratio", Type: catalog.TypeReal, Value: "1e-3"},
	}
	if err := catalog.ValidateConfig(entries); err != nil {
		t.Fatal(err)
	}
	got, err := catalog.ResolveConfig(entries, u)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"login": "alice", "greeting": "Hi Alice (u1), costs $5 and ${literal}", "count": int64(-12), "on": false, "ratio": 0.001}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("ResolveConfig (-want +got):\n%s", d)
	}
	if _, err := catalog.ResolveConfig(entries[:1], auth.User{ID: "u2"}); !errors.Is(err, catalog.ErrUnresolved) {
		t.Errorf("ResolveConfig without a login: %v, want ErrUnresolved", err)
	}
	if got, err := catalog.ResolveConfig(nil, u); got != nil || err != nil {
		t.Errorf("ResolveConfig(nil) = %v, %v; want no configuration", got, err)
	}

	bad := []catalog.ConfigEntry{
		{Key: "k", Type: catalog.TypeString, Value: "${user.login"},
		{Key: "k", Type: catalog.TypeString, Value: "${}"},
		{Key: "k", Type: catalog.TypeString, Value: "${USER.LOGIN}"},
		{Key: "k", Type: catalog.TypeInteger, Value: "${user.id}"},
		{Key: "k", Type: catalog.TypeInteger, Value: "99999999999999999999"},
		{Key: "k", Type: catalog.TypeBoolean, Value: "yes"},
		{Key: "k", Type: catalog.TypeReal, Value: "NaN"},
		{Key: "k", Type: "date", Value: "2026-01-01"},
		{Key: "", Type: catalog.TypeString, Value: "x"},
	}
	for _, e := range bad {
		if err := catalog.ValidateConfig([]catalog.ConfigEntry{e}); !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("ValidateConfig(%+v) = %v, want ErrInvalid", e, err)
		}
	}
	many := make([]catalog.ConfigEntry, catalog.MaxConfigEntries+1)
	for i := range many {
		many[i] = catalog.ConfigEntry{Key: string(rune('a'+i%26)) + string(rune('0'+i/26)), Type: catalog.TypeBoolean, Value: "true"}
	}
	if err := catalog.ValidateConfig(many); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("ValidateConfig(too many) = %v, want ErrInvalid", err)
	}
}
