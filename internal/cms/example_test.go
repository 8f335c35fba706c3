package cms_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/openomm/omm/internal/cms"
)

func selfSigned(name string, key crypto.Signer) *x509.Certificate {
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:     time.Date(2045, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		panic(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	return cert
}

// A device signs its check-in body; the server verifies it against the
// identity certificate bound to that device, not merely "some signature".
func Example() {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cert := selfSigned("device identity", key)

	body := []byte("<plist>...</plist>")
	sig, err := cms.SignDetached(body, key, cert, nil)
	if err != nil {
		panic(err)
	}

	sd, err := cms.Parse(sig, cms.Limits{})
	if err != nil {
		panic(err)
	}
	signer, err := sd.VerifyDetached(body, cms.VerifyOptions{Signer: cert})
	fmt.Println("signed by:", signer.Subject.CommonName, err)

	_, err = sd.VerifyDetached(body, cms.VerifyOptions{})
	fmt.Println(errors.Is(err, cms.ErrNoTrustPolicy))
	// Output:
	// signed by: device identity <nil>
	// true
}

func ExampleEncryptAES() {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	cert := selfSigned("device", key)

	env, err := cms.EncryptAES([]byte("secret payloads"), []*x509.Certificate{cert})
	if err != nil {
		panic(err)
	}
	plain, err := cms.Decrypt(env, cert, key)
	fmt.Println(string(plain), err)
	// Output: secret payloads <nil>
}

func ExampleParse_limits() {
	// 100 nested indefinite-length SEQUENCEs: harmless bytes that would
	// make a recursive BER converter descend 100 times.
	var deep []byte
	for range 100 {
		deep = append(deep, 0x30, 0x80)
	}
	_, err := cms.Parse(deep, cms.Limits{MaxDepth: 64})
	fmt.Println(errors.Is(err, cms.ErrTooDeep))
	// Output: true
}
