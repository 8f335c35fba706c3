package cms

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"io"
	"testing"
	"time"

	"go.mozilla.org/pkcs7"
)

var content = []byte("<plist><dict><key>UDID</key><string>0000</string></dict></plist>")

func TestSignVerify(t *testing.T) {
	for _, k := range []keyKind{rsaKey, ecKey} {
		t.Run(k.String(), func(t *testing.T) {
			p := newPKI(t, k)
			other := newPKI(t, k)
			der, err := SignAttached(content, p.leafKey, p.leaf, []*x509.Certificate{p.inter})
			if err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				name string
				in   []byte
				opts VerifyOptions
				want error
			}{
				{"pinned", der, VerifyOptions{Signer: p.leaf}, nil},
				{"roots", der, VerifyOptions{Roots: p.roots(), CurrentTime: checkTime}, nil},
				{"chain callback", der, VerifyOptions{VerifyChain: func(s *x509.Certificate, carried []*x509.Certificate) error {
					if !s.Equal(p.leaf) || len(carried) != 2 {
						return errors.New("unexpected arguments")
					}
					return nil
				}}, nil},
				{"all three", der, VerifyOptions{Signer: p.leaf, Roots: p.roots(), CurrentTime: checkTime,
					VerifyChain: func(*x509.Certificate, []*x509.Certificate) error { return nil }}, nil},
				{"BER indefinite", toBER(t, der), VerifyOptions{Signer: p.leaf}, nil},
				{"no trust policy", der, VerifyOptions{}, ErrNoTrustPolicy},
				{"other pinned signer", der, VerifyOptions{Signer: other.leaf}, ErrUntrustedSigner},
				{"other roots", der, VerifyOptions{Roots: other.roots(), CurrentTime: checkTime}, ErrUntrustedSigner},
				{"roots, expired at check time", der, VerifyOptions{Roots: p.roots(), CurrentTime: notAfter.Add(time.Hour)}, ErrUntrustedSigner},
				{"chain callback refuses", der, VerifyOptions{VerifyChain: func(*x509.Certificate, []*x509.Certificate) error {
					return errors.New("not an Apple device")
				}}, ErrUntrustedSigner},
				{"pinned but roots fail", der, VerifyOptions{Signer: p.leaf, Roots: other.roots(), CurrentTime: checkTime}, ErrUntrustedSigner},
			} {
				t.Run(tc.name, func(t *testing.T) {
					sd, err := Parse(tc.in, Limits{})
					if err != nil {
						t.Fatal(err)
					}
					signer, err := sd.Verify(tc.opts)
					if !errors.Is(err, tc.want) {
						t.Fatalf("Verify error = %v, want %v", err, tc.want)
					}
					if tc.want != nil {
						if signer != nil {
							t.Fatal("signer returned with an error")
						}
						return
					}
					if !signer.Equal(p.leaf) {
						t.Fatalf("signer = %s", signer.Subject)
					}
					if !bytes.Equal(sd.Content(), content) {
						t.Fatalf("content = %q", sd.Content())
					}
				})
			}
		})
	}
}

func TestVerifyTopLevel(t *testing.T) {
	p := newPKI(t, ecKey)
	der, err := SignAttached(content, p.leafKey, p.leaf, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, signer, err := Verify(der, VerifyOptions{Signer: p.leaf})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, content) || !signer.Equal(p.leaf) {
		t.Fatal("wrong content or signer")
	}
	if _, _, err := Verify(der, VerifyOptions{}); !errors.Is(err, ErrNoTrustPolicy) {
		t.Fatalf("err = %v, want ErrNoTrustPolicy", err)
	}
}

func TestSignDetached(t *testing.T) {
	for _, k := range []keyKind{rsaKey, ecKey} {
		t.Run(k.String(), func(t *testing.T) {
			p := newPKI(t, k)
			der, err := SignDetached(content, p.leafKey, p.leaf, []*x509.Certificate{p.inter})
			if err != nil {
				t.Fatal(err)
			}
			sd, err := Parse(der, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if sd.Content() != nil {
				t.Fatal("detached signature carries content")
			}
			if _, err := sd.Verify(VerifyOptions{Signer: p.leaf}); !errors.Is(err, ErrNoContent) {
				t.Fatalf("Verify on detached = %v, want ErrNoContent", err)
			}
			signer, err := sd.VerifyDetached(content, VerifyOptions{Roots: p.roots(), CurrentTime: checkTime})
			if err != nil {
				t.Fatal(err)
			}
			if !signer.Equal(p.leaf) {
				t.Fatal("wrong signer")
			}
			tampered := append(bytes.Clone(content), ' ')
			if _, err := sd.VerifyDetached(tampered, VerifyOptions{Signer: p.leaf}); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("tampered content: err = %v, want ErrBadSignature", err)
			}
			// The message must not remember content from an earlier call.
			if _, err := sd.VerifyDetached(content, VerifyOptions{Signer: p.leaf}); err != nil {
				t.Fatalf("second verify: %v", err)
			}
		})
	}
}

func TestVerifyTamperedSignature(t *testing.T) {
	p := newPKI(t, rsaKey)
	der, err := SignAttached(content, p.leafKey, p.leaf, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The RSA signature is the last 256 bytes of the message.
	bad := bytes.Clone(der)
	bad[len(bad)-10] ^= 0xff
	sd, err := Parse(bad, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sd.Verify(VerifyOptions{Signer: p.leaf}); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("err = %v, want ErrBadSignature", err)
	}
}

func TestSignErrors(t *testing.T) {
	p := newPKI(t, ecKey)
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		sign func() ([]byte, error)
		want error
	}{
		{"nil certificate", func() ([]byte, error) { return SignAttached(content, p.leafKey, nil, nil) }, ErrNoCertificate},
		{"nil chain entry", func() ([]byte, error) {
			return SignAttached(content, p.leafKey, p.leaf, []*x509.Certificate{nil})
		}, ErrNoCertificate},
		{"key does not match certificate", func() ([]byte, error) { return SignAttached(content, p.interKey, p.leaf, nil) }, ErrKeyMismatch},
		{"nil signer", func() ([]byte, error) { return SignDetached(content, nil, p.leaf, nil) }, ErrUnsupportedKey},
		{"ed25519", func() ([]byte, error) { return SignDetached(content, edKey, p.leaf, nil) }, ErrUnsupportedKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.sign(); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestSigningTime(t *testing.T) {
	p := newPKI(t, ecKey)
	when := time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC)
	with, err := SignAttached(content, p.leafKey, p.leaf, nil, WithSigningTime(func() time.Time { return when }))
	if err != nil {
		t.Fatal(err)
	}
	without, err := SignAttached(content, p.leafKey, p.leaf, nil)
	if err != nil {
		t.Fatal(err)
	}
	p7, err := pkcs7.Parse(with)
	if err != nil {
		t.Fatal(err)
	}
	var got time.Time
	if err := p7.UnmarshalSignedAttribute(pkcs7.OIDAttributeSigningTime, &got); err != nil {
		t.Fatal(err)
	}
	if !got.Equal(when) {
		t.Fatalf("signing time = %v, want %v", got, when)
	}
	p7, err = pkcs7.Parse(without)
	if err != nil {
		t.Fatal(err)
	}
	if err := p7.UnmarshalSignedAttribute(pkcs7.OIDAttributeSigningTime, &got); err == nil {
		t.Fatal("signing time present without WithSigningTime")
	}
	// A signing time outside the signer's validity must not verify.
	late, err := SignAttached(content, p.leafKey, p.leaf, nil, WithSigningTime(func() time.Time { return notAfter.Add(time.Hour) }))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Verify(late, VerifyOptions{Signer: p.leaf}); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("err = %v, want ErrBadSignature", err)
	}
}

func TestParseLimits(t *testing.T) {
	p := newPKI(t, ecKey)
	der, err := SignAttached(content, p.leafKey, p.leaf, nil)
	if err != nil {
		t.Fatal(err)
	}
	env, err := EncryptAES(content, []*x509.Certificate{newPKI(t, rsaKey).leaf})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		in   []byte
		lim  Limits
		want error
	}{
		{"valid", der, Limits{}, nil},
		{"valid BER", toBER(t, der), Limits{}, nil},
		{"too large", der, Limits{MaxSize: len(der) - 1}, ErrTooLarge},
		{"too deep for custom limit", toBER(t, der), Limits{MaxDepth: 5}, ErrTooDeep},
		{"deep BER", nested(100000), Limits{}, ErrTooDeep},
		{"deep BER just inside limit", nested(DefaultMaxDepth - 1), Limits{}, ErrMalformed},
		{"deep definite", deepDefinite(DefaultMaxDepth + 1), Limits{}, ErrTooDeep},
		{"empty", nil, Limits{}, ErrMalformed},
		{"trailing data", append(bytes.Clone(der), 0), Limits{}, ErrMalformed},
		{"truncated", der[:len(der)-1], Limits{}, ErrMalformed},
		{"empty indefinite", []byte{0x30, 0x80, 0, 0}, Limits{}, ErrMalformed},
		{"indefinite primitive", []byte{0x04, 0x80, 0, 0}, Limits{}, ErrMalformed},
		{"missing end of contents", []byte{0x30, 0x80, 0x05, 0x00}, Limits{}, ErrMalformed},
		{"child past parent", []byte{0x30, 0x02, 0x04, 0x03, 1, 2, 3}, Limits{}, ErrMalformed},
		{"long length with leading zero", []byte{0x04, 0x82, 0x00, 0x01, 1}, Limits{}, ErrMalformed},
		{"length too long", []byte{0x04, 0x85, 1, 1, 1, 1, 1}, Limits{}, ErrMalformed},
		{"enveloped, not signed", env, Limits{}, ErrNotSigned},
		{"not CMS", []byte{0x05, 0x00}, Limits{}, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.in, tc.lim)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

// deepDefinite returns n levels of definite-length SEQUENCE around a NULL.
func deepDefinite(n int) []byte {
	b := []byte{0x05, 0x00}
	for i := 0; i < n; i++ {
		hdr := []byte{0x30}
		switch l := len(b); {
		case l < 0x80:
			hdr = append(hdr, byte(l))
		case l < 0x100:
			hdr = append(hdr, 0x81, byte(l))
		default:
			hdr = append(hdr, 0x82, byte(l>>8), byte(l))
		}
		b = append(hdr, b...)
	}
	return b
}

func TestEncryptDecrypt(t *testing.T) {
	dev1, dev2 := newPKI(t, rsaKey), newPKI(t, rsaKey)
	stranger := newPKI(t, rsaKey)
	for _, c := range []Cipher{AES256CBC, AES128CBC} {
		der, err := EncryptAES(content, []*x509.Certificate{dev1.leaf, dev2.leaf}, WithCipher(c))
		if err != nil {
			t.Fatal(err)
		}
		for i, d := range []*pki{dev1, dev2} {
			got, err := Decrypt(der, d.leaf, d.leafKey.(*rsa.PrivateKey))
			if err != nil {
				t.Fatalf("cipher %d recipient %d: %v", c, i, err)
			}
			if !bytes.Equal(got, content) {
				t.Fatalf("cipher %d recipient %d: got %q", c, i, got)
			}
			// pkcs7 must read what we write: it is what other Go MDM code uses.
			p7, err := pkcs7.Parse(der)
			if err != nil {
				t.Fatal(err)
			}
			got, err = p7.Decrypt(d.leaf, d.leafKey)
			if err != nil || !bytes.Equal(got, content) {
				t.Fatalf("pkcs7 decrypt: %q, %v", got, err)
			}
		}
		if _, err := Decrypt(der, stranger.leaf, stranger.leafKey.(*rsa.PrivateKey)); !errors.Is(err, ErrNotRecipient) {
			t.Fatalf("stranger: err = %v, want ErrNotRecipient", err)
		}
		// Right certificate, wrong key: the content key comes out random
		// (no padding oracle), so about one time in 256 the random
		// plaintext happens to end in valid padding. What must never
		// happen is the content coming out.
		if got, err := Decrypt(der, dev1.leaf, dev2.leafKey.(*rsa.PrivateKey)); err == nil && bytes.Equal(got, content) ||
			err != nil && !errors.Is(err, ErrNotRecipient) {
			t.Fatalf("wrong key: got %q, err = %v, want ErrNotRecipient or garbage", got, err)
		}
	}
}

// ecDecrypter is a crypto.Decrypter over an EC key, as an HSM might offer
// for ECDH; Decrypt must refuse it before trying.
type ecDecrypter struct{ *ecdsa.PrivateKey }

func (ecDecrypter) Decrypt(io.Reader, []byte, crypto.DecrypterOpts) ([]byte, error) {
	return nil, errors.New("called")
}

func TestEncryptDecryptErrors(t *testing.T) {
	dev := newPKI(t, rsaKey)
	ec := newPKI(t, ecKey)
	if _, err := EncryptAES(content, nil); !errors.Is(err, ErrNoCertificate) {
		t.Fatalf("no recipients: %v", err)
	}
	if _, err := EncryptAES(content, []*x509.Certificate{ec.leaf}); !errors.Is(err, ErrUnsupportedKey) {
		t.Fatalf("EC recipient: %v", err)
	}
	if _, err := EncryptAES(content, []*x509.Certificate{dev.leaf}, WithCipher(Cipher(9))); !errors.Is(err, ErrUnsupportedCipher) {
		t.Fatalf("bad cipher: %v", err)
	}
	der, err := EncryptAES(content, []*x509.Certificate{dev.leaf})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decrypt(der, dev.leaf, ecDecrypter{ec.leafKey.(*ecdsa.PrivateKey)}); !errors.Is(err, ErrUnsupportedKey) {
		t.Fatalf("EC key: %v", err)
	}
	if _, err := Decrypt(der, nil, dev.leafKey.(*rsa.PrivateKey)); !errors.Is(err, ErrNoCertificate) {
		t.Fatalf("nil cert: %v", err)
	}
	signed, err := SignAttached(content, dev.leafKey, dev.leaf, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decrypt(signed, dev.leaf, dev.leafKey.(*rsa.PrivateKey)); !errors.Is(err, ErrNotEnveloped) {
		t.Fatalf("signed data: %v", err)
	}
	if _, err := Decrypt(nested(1000), dev.leaf, dev.leafKey.(*rsa.PrivateKey)); !errors.Is(err, ErrTooDeep) {
		t.Fatalf("deep: %v", err)
	}
	// pkcs7 encrypts with single DES unless told otherwise; we never accept it.
	des, err := pkcs7.Encrypt(content, []*x509.Certificate{dev.leaf})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decrypt(des, dev.leaf, dev.leafKey.(*rsa.PrivateKey)); !errors.Is(err, ErrUnsupportedCipher) {
		t.Fatalf("DES: err = %v, want ErrUnsupportedCipher", err)
	}
}

func TestSignatureAlgorithm(t *testing.T) {
	tests := []struct {
		kind keyKind
		hash crypto.Hash
		want x509.SignatureAlgorithm
	}{
		{rsaKey, crypto.SHA256, x509.SHA256WithRSA},
		{rsaKey, crypto.SHA1, x509.SHA1WithRSA},
		{ecKey, crypto.SHA256, x509.ECDSAWithSHA256},
	}
	for _, tt := range tests {
		p := newPKI(t, tt.kind)
		der, err := SignAttached(content, p.leafKey, p.leaf, nil, WithDigest(tt.hash))
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range [][]byte{der, toBER(t, der)} {
			sd, err := Parse(in, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if got, err := sd.SignatureAlgorithm(); err != nil || got != tt.want {
				t.Errorf("%v %v: SignatureAlgorithm() = %v, %v; want %v", tt.kind, tt.hash, got, err, tt.want)
			}
		}
	}
}
