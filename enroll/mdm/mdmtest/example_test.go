package mdmtest_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"math/big"
	"time"

	"go.mozilla.org/pkcs7"

	"github.com/openomm/omm/enroll/mdm"
	"github.com/openomm/omm/enroll/mdm/mdmtest"
)

// A device reads the command the server queued, and signs its answer
// with its MDM identity; an independent CMS implementation checks the
// signature over the body.
func Example() {
	encoded, _ := mdm.DeviceInformation([]string{"OSVersion", "SerialNumber"}).Encode()
	cmd, err := mdmtest.DecodeCommand(encoded, mdmtest.Limits{})
	if err != nil {
		panic(err)
	}
	fmt.Println(cmd.RequestType, cmd.Body["Queries"])

	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "device identity"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	cert, _ := x509.ParseCertificate(der)

	body := []byte(`<plist version="1.0"><dict><key>Status</key><string>Idle</string></dict></plist>`)
	header, err := mdmtest.Signature(body, key, cert)
	if err != nil {
		panic(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(header)
	p7, err := pkcs7.Parse(raw)
	if err != nil {
		panic(err)
	}
	p7.Content = body // detached: the verifier supplies the body
	fmt.Println(mdmtest.SignatureHeader, "verifies:", p7.Verify() == nil, "signer:", p7.GetOnlySigner().Subject.CommonName)
	// Output:
	// DeviceInformation [OSVersion SerialNumber]
	// Mdm-Signature verifies: true signer: device identity
}
