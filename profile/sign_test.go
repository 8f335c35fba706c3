package profile

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/openomm/omm/internal/appleschema"
)

func enrollmentProfile() *Profile {
	return newProfile("com.example.enroll").Add(testSCEP(), testMDM())
}

func TestSignAndVerify(t *testing.T) {
	for _, k := range []keyKind{rsaKey, ecKey} {
		t.Run(string(k), func(t *testing.T) {
			pki := newSigningPKI(t, k)
			s, err := NewSigner(pki.key, pki.cert, WithChain(pki.ca), WithClock(clock))
			if err != nil {
				t.Fatal(err)
			}
			p := enrollmentProfile()
			signed, err := s.SignProfile(p)
			if err != nil {
				t.Fatal(err)
			}
			roots := x509.NewCertPool()
			roots.AddCert(pki.ca)
			content, signer, err := Verify(signed, VerifyOptions{Roots: roots, CurrentTime: fixedNow})
			if err != nil {
				t.Fatal(err)
			}
			if !signer.Equal(pki.cert) {
				t.Fatal("wrong signer")
			}
			decoded, err := Decode(content)
			if err != nil {
				t.Fatal(err)
			}
			assertSameProfile(t, p, decoded)

			other := newSigningPKI(t, k)
			if _, _, err := Verify(signed, VerifyOptions{Signer: other.cert}); !errors.Is(err, ErrSignature) {
				t.Fatalf("other signer: err = %v, want ErrSignature", err)
			}
			if _, _, err := Verify(signed, VerifyOptions{}); !errors.Is(err, ErrSignature) {
				t.Fatalf("no trust policy: err = %v, want ErrSignature", err)
			}
			tampered := bytes.Replace(signed, []byte("mdm.example.com"), []byte("mdm.evil.xx.com"), 1)
			if _, _, err := Verify(tampered, VerifyOptions{Signer: pki.cert}); !errors.Is(err, ErrSignature) {
				t.Fatalf("tampered: err = %v, want ErrSignature", err)
			}
		})
	}
}

func TestNewSignerErrors(t *testing.T) {
	pki := newSigningPKI(t, ecKey)
	other := newSigningPKI(t, ecKey)
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"signer without certificate", second(NewSigner(pki.key, nil)), ErrNoCertificate},
		{"certificate without key", second(NewSigner(nil, pki.cert)), ErrNoKey},
		{"key of another certificate", second(NewSigner(pki.key, other.cert)), ErrKeyMismatch},
		{"nil chain certificate", second(NewSigner(pki.key, pki.cert, WithChain(nil))), ErrNoCertificate},
	} {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, tc.err, tc.want)
		}
	}
}

func second[T any](_ T, err error) error { return err }

func TestEncryptedProfile(t *testing.T) {
	devKey := newKey(t, rsaKey).(*rsa.PrivateKey)
	devCert := newCert(t, devKey, "device identity", false, nil, nil)
	p := newProfile("com.example.enroll")
	p.Add(testMDM())
	p.Payloads[0].(*MDM).IdentityCertificateUUID = identityUUID

	encoded, err := p.EncodeEncrypted(devCert)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(encoded, []byte("mdm.example.com")) {
		t.Fatal("payload content visible in encrypted profile")
	}
	t.Run("schema", func(t *testing.T) {
		var top map[string]any
		if err := plistUnmarshal(encoded, &top); err != nil {
			t.Fatal(err)
		}
		// PayloadContent is required unless the profile is encrypted.
		keys := topLevelSchema(t)
		for i := range keys {
			if keys[i].Key == "PayloadContent" {
				keys[i].Presence = "optional"
			}
		}
		for _, problem := range appleschema.Check("profile", top, keys) {
			t.Error(problem)
		}
	})

	decoded, err := Decode(encoded)
	if err != nil {
		t.Fatal(err)
	}
	if len(decoded.Payloads) != 0 || len(decoded.EncryptedContent) == 0 {
		t.Fatal("decoded encrypted profile should have only EncryptedContent")
	}
	stranger := newKey(t, rsaKey).(*rsa.PrivateKey)
	if err := decoded.Decrypt(newCert(t, stranger, "x", false, nil, nil), stranger); err == nil {
		t.Fatal("stranger decrypted the profile")
	}
	if err := decoded.Decrypt(devCert, devKey); err != nil {
		t.Fatal(err)
	}
	assertSameProfile(t, p, decoded)
	if err := decoded.Decrypt(devCert, devKey); !errors.Is(err, ErrNotEncrypted) {
		t.Fatalf("second Decrypt: %v, want ErrNotEncrypted", err)
	}
	if _, err := p.EncodeEncrypted(); !errors.Is(err, ErrNoCertificate) {
		t.Fatalf("no recipient: %v", err)
	}

	// The same check with openssl playing the device, when it is installed.
	bin, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed; openssl decryption not checked")
	}
	var top struct {
		EncryptedPayloadContent []byte
	}
	if err := plistUnmarshal(encoded, &top); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	env := write(t, dir, "env.der", top.EncryptedPayloadContent)
	cert := write(t, dir, "dev.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: devCert.Raw}))
	keyDER, err := x509.MarshalPKCS8PrivateKey(devKey)
	if err != nil {
		t.Fatal(err)
	}
	key := write(t, dir, "dev.key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	out := run(t, bin, "cms", "-decrypt", "-inform", "DER", "-in", env, "-recip", cert, "-inkey", key)
	var payloads []map[string]any
	if err := plistUnmarshal(out, &payloads); err != nil {
		t.Fatalf("openssl output is not a plist array: %v\n%s", err, out)
	}
	if len(payloads) != 1 || payloads[0]["PayloadType"] != TypeMDM {
		t.Fatalf("openssl decrypted %v", payloads)
	}
}

func TestOpenSSLVerifiesSignedProfile(t *testing.T) {
	bin, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed; signature interoperability not checked")
	}
	for _, k := range []keyKind{rsaKey, ecKey} {
		t.Run(string(k), func(t *testing.T) {
			pki := newSigningPKI(t, k)
			s, err := NewSigner(pki.key, pki.cert, WithChain(pki.ca), WithClock(clock))
			if err != nil {
				t.Fatal(err)
			}
			p := enrollmentProfile()
			encoded, err := p.Encode()
			if err != nil {
				t.Fatal(err)
			}
			signed, err := s.Sign(encoded)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			in := write(t, dir, "enroll.mobileconfig", signed)
			ca := write(t, dir, "ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: pki.ca.Raw}))
			out := run(t, bin, "cms", "-verify", "-inform", "DER", "-in", in, "-CAfile", ca,
				"-purpose", "any", "-attime", strconv.FormatInt(fixedNow.Unix(), 10))
			if !bytes.Equal(out, encoded) {
				t.Fatal("openssl returned different content")
			}
		})
	}
}

func write(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func run(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl %v: %v\n%s", args, err, stderr.String())
	}
	return out
}
