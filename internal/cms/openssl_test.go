package cms

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// openssl returns the path of the openssl binary or skips the test.
func openssl(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed; interoperability not checked")
	}
	return path
}

func runOpenSSL(t *testing.T, bin string, args ...string) []byte {
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

func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func writeKey(t *testing.T, dir, name string, key crypto.Signer) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return writePEM(t, dir, name, "PRIVATE KEY", der)
}

func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// attime pins openssl's chain validation to checkTime, not the wall clock.
var attime = strconv.FormatInt(checkTime.Unix(), 10)

func TestOpenSSLVerifiesOurSignatures(t *testing.T) {
	bin := openssl(t)
	for _, k := range []keyKind{rsaKey, ecKey} {
		t.Run(k.String(), func(t *testing.T) {
			p := newPKI(t, k)
			dir := t.TempDir()
			ca := writePEM(t, dir, "root.pem", "CERTIFICATE", p.root.Raw)

			attached, err := SignAttached(content, p.leafKey, p.leaf, []*x509.Certificate{p.inter})
			if err != nil {
				t.Fatal(err)
			}
			in := writeFile(t, dir, "attached.der", attached)
			out := runOpenSSL(t, bin, "cms", "-verify", "-inform", "DER", "-in", in, "-CAfile", ca, "-purpose", "any", "-attime", attime)
			if !bytes.Equal(out, content) {
				t.Fatalf("openssl returned %q", out)
			}

			detached, err := SignDetached(content, p.leafKey, p.leaf, []*x509.Certificate{p.inter})
			if err != nil {
				t.Fatal(err)
			}
			in = writeFile(t, dir, "detached.der", detached)
			data := writeFile(t, dir, "content", content)
			runOpenSSL(t, bin, "cms", "-verify", "-inform", "DER", "-in", in, "-content", data, "-CAfile", ca, "-purpose", "any", "-attime", attime, "-out", filepath.Join(dir, "out"))
		})
	}
}

func TestWeVerifyOpenSSLSignatures(t *testing.T) {
	bin := openssl(t)
	for _, k := range []keyKind{rsaKey, ecKey} {
		t.Run(k.String(), func(t *testing.T) {
			p := newPKI(t, k)
			dir := t.TempDir()
			cert := writePEM(t, dir, "leaf.pem", "CERTIFICATE", p.leaf.Raw)
			inter := writePEM(t, dir, "inter.pem", "CERTIFICATE", p.inter.Raw)
			key := writeKey(t, dir, "leaf.key", p.leafKey)
			data := writeFile(t, dir, "content", content)
			// -stream makes openssl emit indefinite-length BER, as devices do.
			der := runOpenSSL(t, bin, "cms", "-sign", "-nodetach", "-stream", "-md", "sha256", "-binary",
				"-in", data, "-signer", cert, "-inkey", key, "-certfile", inter, "-outform", "DER")
			if der[1] != 0x80 {
				t.Fatalf("expected indefinite-length BER from openssl -stream, got length byte %#x", der[1])
			}
			got, signer, err := Verify(der, VerifyOptions{Roots: p.roots(), CurrentTime: checkTime})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, content) || !signer.Equal(p.leaf) {
				t.Fatal("wrong content or signer")
			}
		})
	}
}

func TestOpenSSLDecryptsOurEnvelopes(t *testing.T) {
	bin := openssl(t)
	p := newPKI(t, rsaKey)
	dir := t.TempDir()
	cert := writePEM(t, dir, "leaf.pem", "CERTIFICATE", p.leaf.Raw)
	key := writeKey(t, dir, "leaf.key", p.leafKey)
	for _, c := range []Cipher{AES256CBC, AES128CBC} {
		der, err := EncryptAES(content, []*x509.Certificate{p.leaf}, WithCipher(c))
		if err != nil {
			t.Fatal(err)
		}
		in := writeFile(t, dir, "env.der", der)
		out := runOpenSSL(t, bin, "cms", "-decrypt", "-inform", "DER", "-in", in, "-recip", cert, "-inkey", key)
		if !bytes.Equal(out, content) {
			t.Fatalf("cipher %d: openssl returned %q", c, out)
		}
	}
}

func TestWeDecryptOpenSSLEnvelopes(t *testing.T) {
	bin := openssl(t)
	p := newPKI(t, rsaKey)
	dir := t.TempDir()
	cert := writePEM(t, dir, "leaf.pem", "CERTIFICATE", p.leaf.Raw)
	data := writeFile(t, dir, "content", content)
	for _, c := range []string{"-aes256", "-aes128"} {
		der := runOpenSSL(t, bin, "cms", "-encrypt", "-binary", c, "-in", data, "-outform", "DER", cert)
		got, err := Decrypt(der, p.leaf, p.leafKey.(*rsa.PrivateKey))
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		if !bytes.Equal(got, content) {
			t.Fatalf("%s: got %q", c, got)
		}
	}
}
