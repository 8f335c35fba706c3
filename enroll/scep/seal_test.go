package scep_test

import (
	"bytes"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/openomm/omm/enroll/scep"
	"github.com/openomm/omm/storage/memory"
	"github.com/openomm/omm/storage/seal"
)

// TestCAKeySealed (issue 22, finding 6): with a keeper, a generated CA's
// private key is stored sealed; one stored in plain text before is sealed
// at its first use; the CA stays the same; another key does not open it.
func TestCAKeySealed(t *testing.T) {
	ctx := t.Context()
	st := memory.New()
	org := createOrg(t, st, "acme")
	plain, err := scep.NewGeneratedCAs(st, nil).CA(ctx, org) // before sealing was configured
	if err != nil {
		t.Fatal(err)
	}
	if stored, _ := st.SCEPCA(ctx, org); seal.IsSealed(stored.Key) {
		t.Fatal("setup: the key is sealed without a keeper")
	}
	k, _ := seal.NewAESKeeper(bytes.Repeat([]byte{5}, seal.KeySize))
	ca, err := scep.NewGeneratedCAs(st, nil, scep.WithKeeper(k)).CA(ctx, org)
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := st.SCEPCA(ctx, org)
	if !seal.IsSealed(stored.Key) {
		t.Error("a plain CA key was not sealed at its first use with a keeper")
	}
	if _, err := x509.ParsePKCS8PrivateKey(stored.Key); err == nil {
		t.Error("the stored key still parses as PKCS #8")
	}
	if !ca.Certificate.Equal(plain.Certificate) {
		t.Error("sealing changed the CA")
	}
	// A new org's CA is sealed from the start, and opens again.
	other := createOrg(t, st, "bolt")
	if _, err := scep.NewGeneratedCAs(st, time.Now, scep.WithKeeper(k)).CA(ctx, other); err != nil {
		t.Fatal(err)
	}
	if s, _ := st.SCEPCA(ctx, other); !seal.IsSealed(s.Key) {
		t.Error("a new CA key is stored in plain text")
	}
	if _, err := scep.NewGeneratedCAs(st, nil, scep.WithKeeper(k)).CA(ctx, other); err != nil {
		t.Errorf("the sealed key does not open again: %v", err)
	}
	wrong, _ := seal.NewAESKeeper(bytes.Repeat([]byte{6}, seal.KeySize))
	if _, err := scep.NewGeneratedCAs(st, nil, scep.WithKeeper(wrong)).CA(ctx, other); !errors.Is(err, scep.ErrCA) {
		t.Errorf("another key opened the CA: %v", err)
	}
}
