package cms

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the fuzz seed corpus in testdata/fuzz")

// parseErrors are the only errors Parse may return (wrapped).
var parseErrors = []error{ErrTooLarge, ErrTooDeep, ErrMalformed, ErrNotSigned}

func isOneOf(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}

func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		sd, err := Parse(data, Limits{})
		if err != nil {
			if !isOneOf(err, parseErrors...) {
				t.Fatalf("Parse error wraps no sentinel: %v", err)
			}
			return
		}
		_ = sd.Content()
		_ = sd.Certificates()
		if _, err := sd.SignatureAlgorithm(); err != nil && !isOneOf(err, ErrMalformed, ErrSignerCount) {
			t.Fatalf("SignatureAlgorithm error wraps no sentinel: %v", err)
		}
		signer, err := sd.Signer()
		if err != nil {
			return
		}
		// Pinning the claimed signer exercises the whole signature check.
		if _, err := sd.Verify(VerifyOptions{Signer: signer}); err != nil &&
			!isOneOf(err, ErrBadSignature, ErrNoContent, ErrMalformed, ErrUntrustedSigner, ErrSignerCount, ErrNoCertificate) {
			t.Fatalf("Verify error wraps no sentinel: %v", err)
		}
		_, _ = sd.VerifyDetached(data, VerifyOptions{Signer: signer})
	})
}

func FuzzDecrypt(f *testing.F) {
	cert, key := fuzzRecipient(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := Decrypt(data, cert, key)
		if err != nil && !isOneOf(err, ErrTooLarge, ErrTooDeep, ErrMalformed, ErrNotEnveloped, ErrUnsupportedCipher, ErrNotRecipient, ErrUnsupportedKey) {
			t.Fatalf("Decrypt error wraps no sentinel: %v", err)
		}
	})
}

// fuzzRecipient loads the fixed recipient that the FuzzDecrypt seeds are
// encrypted to, so seeds reach the cipher code and stay valid across runs.
func fuzzRecipient(tb testing.TB) (*x509.Certificate, *rsa.PrivateKey) {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "fuzz-recipient.pem"))
	if err != nil {
		tb.Fatalf("%v (regenerate with go test -run TestFuzzSeeds -update)", err)
	}
	var (
		cert *x509.Certificate
		key  *rsa.PrivateKey
	)
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		switch blk.Type {
		case "CERTIFICATE":
			cert, err = x509.ParseCertificate(blk.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
		}
		if err != nil {
			tb.Fatal(err)
		}
	}
	if cert == nil || key == nil {
		tb.Fatal("fuzz-recipient.pem needs a certificate and an RSA key")
	}
	return cert, key
}

// seed is one corpus entry; its name's prefix says what it must provoke
// (see expectation).
type seed struct {
	name string
	data []byte
}

// TestFuzzSeeds keeps the seed corpus honest: each seed must still provoke
// the outcome it was written for. With -update it rewrites the corpus.
func TestFuzzSeeds(t *testing.T) {
	if *update {
		writeSeeds(t)
	}
	cert, key := fuzzRecipient(t)
	for _, dir := range []string{"FuzzParse", "FuzzDecrypt"} {
		entries, err := os.ReadDir(filepath.Join("testdata", "fuzz", dir))
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) < 4 {
			t.Fatalf("%s: only %d seeds", dir, len(entries))
		}
		for _, e := range entries {
			data := readSeed(t, filepath.Join("testdata", "fuzz", dir, e.Name()))
			want := expectation(e.Name())
			var err error
			if dir == "FuzzParse" {
				_, err = Parse(data, Limits{})
			} else {
				_, err = Decrypt(data, cert, key)
			}
			if !errors.Is(err, want) {
				t.Errorf("%s/%s: err = %v, want %v", dir, e.Name(), err, want)
			}
		}
	}
}

// expectation maps a seed's file name prefix to the error it must produce.
func expectation(name string) error {
	for prefix, err := range map[string]error{
		"valid": nil, "deep": ErrTooDeep, "malformed": ErrMalformed,
		"notsigned": ErrNotSigned, "des": ErrUnsupportedCipher, "stranger": ErrNotRecipient,
		"notenveloped": ErrNotEnveloped,
	} {
		if strings.HasPrefix(name, prefix) {
			return err
		}
	}
	return errors.New("seed name has no known prefix")
}

func readSeed(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitN(string(b), "\n", 3)
	if len(lines) < 2 || lines[0] != "go test fuzz v1" || !strings.HasPrefix(lines[1], "[]byte(") {
		t.Fatalf("%s: not a go fuzz seed", path)
	}
	s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return []byte(s)
}

func writeSeeds(t *testing.T) {
	rk := newKey(t, rsaKey).(*rsa.PrivateKey)
	rc := issue(t, rk, "Fuzz Recipient", false, nil, nil)
	pemData := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rc.Raw}),
		pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rk)})...)
	if err := os.WriteFile(filepath.Join("testdata", "fuzz-recipient.pem"), pemData, 0o600); err != nil {
		t.Fatal(err)
	}

	p, e := newPKI(t, rsaKey), newPKI(t, ecKey)
	must := func(b []byte, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	rsaSigned := must(SignAttached(content, p.leafKey, p.leaf, []*x509.Certificate{p.inter}))
	env := must(EncryptAES(content, []*x509.Certificate{rc}))
	write(t, "FuzzParse", []seed{
		{"valid-rsa-attached", rsaSigned},
		{"valid-rsa-attached-ber", toBER(t, rsaSigned)},
		{"valid-ecdsa-detached", must(SignDetached(content, e.leafKey, e.leaf, nil))},
		{"deep-ber-indefinite", nested(1000)},
		{"deep-definite", deepDefinite(100)},
		{"malformed-truncated", rsaSigned[:len(rsaSigned)/2]},
		{"malformed-empty-indefinite", []byte{0x30, 0x80, 0x00, 0x00}},
		{"notsigned-enveloped", env},
	})
	write(t, "FuzzDecrypt", []seed{
		{"valid-aes256", env},
		{"valid-aes128", must(EncryptAES(content, []*x509.Certificate{rc}, WithCipher(AES128CBC)))},
		{"stranger", must(EncryptAES(content, []*x509.Certificate{p.leaf}))},
		{"deep-ber", nested(1000)},
		{"notenveloped-signed", rsaSigned},
	})
}

func write(t *testing.T, dir string, seeds []seed) {
	t.Helper()
	path := filepath.Join("testdata", "fuzz", dir)
	if err := os.RemoveAll(path); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(path, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, s := range seeds {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s.data)
		if err := os.WriteFile(filepath.Join(path, s.name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
