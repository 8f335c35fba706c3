package omm_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/openomm/omm"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
)

// A host composes the SDK from a store and its directory (nil here: the
// built-in one; a host IAM passes its own auth.Directory), then mounts
// the device handler and the admin API under a prefix of its own mux,
// behind its own sessions.
func Example() {
	ctx := context.Background()
	st := memory.New() // or sqlite.OpenDB / postgres.OpenDB on the host's database
	defer st.Close()
	_, err := st.CreateOrg(ctx, storage.Org{ID: "org_acme", Name: "acme", DisplayName: "Acme"},
		storage.AuditEntry{Org: "org_acme", Time: time.Now(), Actor: "host:setup", Action: "org.create"})
	if err != nil {
		panic(err)
	}
	sdk, err := omm.New(ctx, omm.Config{Store: st, Directory: nil, PublicURL: "https://idp.example.com/device-mgmt",
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	hostSession := func(r *http.Request) (omm.Principal, error) { return omm.Principal{}, errors.New("not signed in") }
	hostAdmin := func(r *http.Request) (omm.Admin, error) { return omm.Admin{}, errors.New("not an admin") }

	mux := http.NewServeMux()
	mux.Handle("/device-mgmt/", sdk.Handler(omm.WithAgentAuth(hostSession)))
	mux.Handle("/device-mgmt/api/admin/", sdk.AdminHandler("/device-mgmt/api/admin", hostAdmin))

	for _, path := range []string{"/device-mgmt/scep/org_acme?operation=GetCACaps", "/device-mgmt/api/agent/devices",
		"/device-mgmt/api/admin/devices", "/scep/org_acme?operation=GetCACaps"} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		fmt.Println(rec.Code, path)
	}
	fmt.Println(sdk.URL("/scep/org_acme"))
	// Output:
	// 200 /device-mgmt/scep/org_acme?operation=GetCACaps
	// 401 /device-mgmt/api/agent/devices
	// 401 /device-mgmt/api/admin/devices
	// 404 /scep/org_acme?operation=GetCACaps
	// https://idp.example.com/device-mgmt/scep/org_acme
}
