package omm

import "net/http"

// ClientSource names the client of r for per-source throttles and audit
// entries: its peer's address, or, with Config.Proxy.ForwardedFor and a
// peer in Config.Proxy.Trusted, the rightmost X-Forwarded-For hop that is
// not a trusted proxy (package clientaddr). The SDK's sign-in, SCEP and
// denied-request audit use it; a host uses it for its own throttles (its
// sign-in pages) and for [WithDeniedSource].
func (s *SDK) ClientSource(r *http.Request) string {
	return s.clients.Source(r)
}
