package checkin_test

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/openomm/omm/enroll/checkin"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
)

// noCA is an org without a device CA yet.
type noCA struct{}

func (noCA) CACertificate(context.Context, storage.OrgID) (*x509.Certificate, error) {
	return nil, storage.ErrNotFound
}

// A device must prove its identity on every request; refusals are 400 or
// 403, never 401, which would make the device drop its enrollment.
func ExampleService_Mount() {
	mem := memory.New()
	svc := checkin.New(mem, checkin.Inventory{Service: inventory.New(mem), Store: mem}, noCA{}, checkin.WithLogger(quiet))
	mux := http.NewServeMux()
	svc.Mount(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	body := `<plist version="1.0"><dict><key>MessageType</key><string>Authenticate</string>` +
		`<key>UDID</key><string>0000-1111</string><key>Topic</key><string>t</string></dict></plist>`
	for _, sig := range []string{"", "bm90IGEgc2lnbmF0dXJl"} {
		req, _ := http.NewRequest(http.MethodPut, srv.URL+"/mdm/org_acme/checkin", strings.NewReader(body))
		if sig != "" {
			req.Header.Set("Mdm-Signature", sig)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		resp.Body.Close()
		fmt.Println(resp.StatusCode)
	}
	// Output:
	// 400
	// 403
}
