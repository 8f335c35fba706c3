package android

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"strings"
	"testing"
)

func testDPC() DPC {
	return GoogleDPC(EncodeChecksum(sha256.Sum256([]byte("test signing certificate"))))
}

// TestQRRoundTrip renders provisioning JSON of several sizes as PNG and
// decodes it back from the pixels to the same bytes.
func TestQRRoundTrip(t *testing.T) {
	tokens := []string{"T", "TOKEN-" + strings.Repeat("A", 20), strings.Repeat("tok", 60)}
	for _, tok := range tokens {
		payload, err := ProvisioningJSON(testDPC(), tok)
		if err != nil {
			t.Fatal(err)
		}
		img, err := QRPNG(payload)
		if err != nil {
			t.Fatal(err)
		}
		m, err := readModules(img)
		if err != nil {
			t.Fatal(err)
		}
		want, err := QRMatrix(payload)
		if err != nil {
			t.Fatal(err)
		}
		if len(m) != len(want) {
			t.Fatalf("PNG has %d modules a side, the symbol %d", len(m), len(want))
		}
		got, err := decodeQR(m)
		if err != nil {
			t.Fatalf("decode (%d bytes of payload): %v", len(payload), err)
		}
		if !bytes.Equal(got, payload) {
			t.Fatalf("decoded %q\nwant    %q", got, payload)
		}
		var back QRPayload
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatal(err)
		}
		if back.Extras[testDPC().TokenExtra] != tok || back.Component != testDPC().Component {
			t.Errorf("decoded payload %+v lost the token or component", back)
		}
	}
}

// TestQRDecoderCatchesDamage shows the round trip can fail: a flipped data
// module changes what decodes.
func TestQRDecoderCatchesDamage(t *testing.T) {
	payload, _ := ProvisioningJSON(testDPC(), "TOKEN")
	m, err := QRMatrix(payload)
	if err != nil {
		t.Fatal(err)
	}
	n := len(m)
	m[n-1][n-1] = !m[n-1][n-1] // the first data bit
	got, err := decodeQR(m)
	if err == nil && bytes.Equal(got, payload) {
		t.Fatal("a damaged symbol decoded to the original payload")
	}
}

func TestChecksum(t *testing.T) {
	sum := sha256.Sum256([]byte("x"))
	good := EncodeChecksum(sum)
	tests := []struct {
		name, checksum string
		ok             bool
	}{
		{"padded url-safe", good, true},
		{"unpadded url-safe", strings.TrimRight(good, "="), true},
		{"standard alphabet", strings.NewReplacer("-", "+", "_", "/").Replace("-_" + good[2:]), false},
		{"sha-1 length", EncodeChecksum([32]byte{})[:27], false},
		{"empty", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := testDPC()
			d.SignatureChecksum = tc.checksum
			if err := d.Validate(); (err == nil) != tc.ok {
				t.Errorf("Validate(%q) = %v, want ok=%v", tc.checksum, err, tc.ok)
			}
		})
	}
}
