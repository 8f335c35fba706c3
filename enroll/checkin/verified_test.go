package checkin

import (
	"testing"
	"time"

	"crypto/x509"
)

func TestVerifiedCerts(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)
	ca := &x509.Certificate{Raw: []byte("ca")}
	otherCA := &x509.Certificate{Raw: []byte("other ca")}
	leaf := &x509.Certificate{Raw: []byte("leaf"), NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(time.Hour)}
	v := newVerifiedCerts()
	k := keyOf("org_a", ca, leaf)
	if v.known(k, leaf, t0) {
		t.Fatal("known before it was verified")
	}
	v.add(k)
	tests := []struct {
		name string
		k    verifiedKey
		at   time.Time
		want bool
	}{
		{"same org, CA and certificate", k, t0, true},
		{"another org", keyOf("org_b", ca, leaf), t0, false},
		{"another CA of the same org", keyOf("org_a", otherCA, leaf), t0, false},
		{"after the certificate expired", k, t0.Add(2 * time.Hour), false},
		{"before it is valid", k, t0.Add(-2 * time.Hour), false},
	}
	for _, tc := range tests {
		if got := v.known(tc.k, leaf, tc.at); got != tc.want {
			t.Errorf("%s: known = %v, want %v", tc.name, got, tc.want)
		}
	}
	for i := range maxVerified {
		v.add(keyOf("org_a", ca, &x509.Certificate{Raw: []byte{byte(i), byte(i >> 8), byte(i >> 16)}}))
	}
	if len(v.m) > maxVerified {
		t.Errorf("cache holds %d entries, bound %d", len(v.m), maxVerified)
	}
}
