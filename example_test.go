package omm_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
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

// A deployment behind a TLS-terminating proxy (nginx, HAProxy, a load
// balancer): the handler is served as plain HTTP, and the proxy at
// 10.0.0.5 forwards each device's client certificate in X-Client-Cert.
// The same header from any other address is refused.
func Example_behindProxy() {
	ctx := context.Background()
	st := memory.New()
	defer st.Close()
	sdk, err := omm.New(ctx, omm.Config{Store: st, PublicURL: "https://mdm.example.com",
		Proxy:  omm.ProxyConfig{ClientCertHeader: "X-Client-Cert", Trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.5/32")}},
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	srv := &http.Server{Addr: "10.0.0.9:8080", Handler: sdk.Handler(), ReadHeaderTimeout: 10 * time.Second}
	_ = srv // srv.ListenAndServe() on the address the proxy forwards to

	req := httptest.NewRequest("PUT", "/mdm/org_acme/checkin", strings.NewReader("<plist/>"))
	req.RemoteAddr = "192.0.2.1:50000" // not the proxy
	req.Header.Set("X-Client-Cert", "-----BEGIN%20CERTIFICATE-----…")
	rec := httptest.NewRecorder()
	sdk.Handler().ServeHTTP(rec, req)
	fmt.Println(rec.Code)

	_, err = omm.New(ctx, omm.Config{Store: st, PublicURL: "https://mdm.example.com", Proxy: omm.ProxyConfig{ClientCertHeader: "X-Client-Cert"}})
	fmt.Println(errors.Is(err, storage.ErrInvalid))
	// Output:
	// 403
	// true
}
