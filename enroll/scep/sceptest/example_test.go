package sceptest_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"fmt"

	"github.com/openomm/omm/enroll/scep/sceptest"
)

// CSR writes the challengePassword attribute that crypto/x509 cannot.
func ExampleCSR() {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	der, err := sceptest.CSR(key, x509.Certificate{}.Subject, "one-time-challenge")
	if err != nil {
		panic(err)
	}
	csr, _ := x509.ParseCertificateRequest(der)
	fmt.Println("signature valid:", csr.CheckSignature() == nil)
	// Output:
	// signature valid: true
}
