package clientaddr_test

import (
	"fmt"
	"net/http/httptest"
	"net/netip"

	"github.com/openomm/omm/clientaddr"
)

// A server behind a TLS-terminating proxy at 10.0.0.5 names each client
// by the address the proxy appended; a client connecting directly is
// named by its own address, whatever header it sends.
func Example() {
	res := clientaddr.New([]netip.Prefix{netip.MustParsePrefix("10.0.0.5/32")})

	viaProxy := httptest.NewRequest("POST", "/signin", nil)
	viaProxy.RemoteAddr = "10.0.0.5:41000"
	viaProxy.Header.Set("X-Forwarded-For", "192.0.2.1, 198.51.100.23") // the client wrote the first hop, the proxy the second
	fmt.Println(res.Source(viaProxy))

	direct := httptest.NewRequest("POST", "/signin", nil)
	direct.RemoteAddr = "203.0.113.9:5000"
	direct.Header.Set("X-Forwarded-For", "198.51.100.23")
	fmt.Println(res.Source(direct))
	// Output:
	// 198.51.100.23
	// 203.0.113.9
}
