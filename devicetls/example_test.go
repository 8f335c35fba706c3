package devicetls_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"time"

	"github.com/openomm/omm/devicetls"
)

// A server for devices: full handshakes use the post-quantum hybrid, the
// resumptions of those sessions X25519.
func ExampleNewListener() {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)

	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	ln, err := devicetls.NewListener(inner, &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		ClientAuth:   tls.RequestClientCert, // devices present their identity
		NextProtos:   []string{"http/1.1"},  // what ServeTLS would have set
	}, devicetls.Hybrid)
	if err != nil {
		panic(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "resumed %v with %v", r.TLS.DidResume, r.TLS.CurveID)
	})}
	go srv.Serve(ln)
	defer srv.Close()

	// A phone: a new connection per wake, one session cache.
	roots := x509.NewCertPool()
	leaf, _ := x509.ParseCertificate(der)
	roots.AddCert(leaf)
	cache := tls.NewLRUClientSessionCache(1)
	for range 2 {
		client := &http.Client{Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: roots, ClientSessionCache: cache},
			DisableKeepAlives: true,
		}}
		resp, err := client.Get("https://" + inner.Addr().String() + "/")
		if err != nil {
			panic(err)
		}
		var body [64]byte
		n, _ := resp.Body.Read(body[:])
		resp.Body.Close()
		fmt.Println(string(body[:n]))
	}
	// Output:
	// resumed false with X25519MLKEM768
	// resumed true with X25519
}
