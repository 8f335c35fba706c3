package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/profile"
)

// policyProfile builds a policy profile as the server's PolicyProfile
// would for the settings given.
func policyProfile(pc *profile.Passcode, r *profile.Restrictions) *profile.Profile {
	p := &profile.Profile{Identifier: "com.example.policy"}
	if pc != nil {
		p.Payloads = append(p.Payloads, pc)
	}
	if r != nil {
		p.Payloads = append(p.Payloads, r)
	}
	return p
}

// TestCheckPolicyProfile: the device's settings are compared with the
// decision's requirements, whatever they are; any difference fails.
func TestCheckPolicyProfile(t *testing.T) {
	t.Parallel()
	req := policy.Requirements{
		Passcode:       policy.Passcode{Required: true, MinLength: 8, MaxFailedAttempts: 6, AutoLockMinutes: 2},
		DataSeparation: policy.DataSeparation{BlockManagedToUnmanaged: true},
	}
	good := func() (*profile.Passcode, *profile.Restrictions) {
		return &profile.Passcode{ForcePIN: true, AllowSimple: profile.Bool(false), MinLength: 8, MaxFailedAttempts: 6, MaxInactivity: 2},
			&profile.Restrictions{AllowOpenFromManagedToUnmanaged: profile.Bool(false)}
	}
	tests := []struct {
		name     string
		profiles func() []*profile.Profile
		req      policy.Requirements
		want     string // in the description, or in the error when errWant
		errWant  bool
		found    bool
	}{
		{"matches", func() []*profile.Profile { return []*profile.Profile{policyProfile(good())} }, req,
			"passcode min length 8, max failed attempts 6, auto-lock 2 min; managed→unmanaged open-in blocked", false, true},
		{"other min length", func() []*profile.Profile {
			pc, r := good()
			pc.MinLength = 6
			return []*profile.Profile{policyProfile(pc, r)}
		}, req, "minLength is 6, the policy says 8", true, true},
		{"both directions blocked, one required", func() []*profile.Profile {
			pc, r := good()
			r.AllowOpenFromUnmanagedToManaged = profile.Bool(false)
			return []*profile.Profile{policyProfile(pc, r)}
		}, req, "unmanaged→managed open-in blocked: true, the policy says false", true, true},
		{"no passcode payload", func() []*profile.Profile {
			_, r := good()
			return []*profile.Profile{policyProfile(nil, r)}
		}, req, "no passcode payload", true, true},
		{"the latest profile counts", func() []*profile.Profile {
			pc, r := good()
			old := &profile.Passcode{ForcePIN: true, AllowSimple: profile.Bool(false), MinLength: 4}
			return []*profile.Profile{policyProfile(old, r), policyProfile(pc, r)}
		}, req, "as the policy requires", false, true},
		{"nothing received, nothing required", func() []*profile.Profile { return nil }, policy.Requirements{},
			"no policy profile", false, false},
		{"nothing received, passcode required", func() []*profile.Profile { return nil }, req, "none of the 0 signed profiles", true, false},
		{"passcode forced though not required", func() []*profile.Profile {
			pc, _ := good()
			return []*profile.Profile{policyProfile(pc, nil)}
		}, policy.Requirements{}, "forces a passcode the policy does not require", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			desc, found, err := checkPolicyProfile(tt.profiles(), tt.req)
			if tt.errWant {
				if !errors.Is(err, errPolicyProfile) || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("err = %v, want one saying %q", err, tt.want)
				}
				return
			}
			if err != nil || !strings.Contains(desc, tt.want) || found != tt.found {
				t.Fatalf("checkPolicyProfile = %q, %v, %v; want %q, found %v", desc, found, err, tt.want, tt.found)
			}
		})
	}
}

func TestCheckAndroidPolicies(t *testing.T) {
	t.Parallel()
	req := policy.Requirements{Passcode: policy.Passcode{Required: true, MinLength: 6, MaxFailedAttempts: 10, AutoLockMinutes: 5},
		DataSeparation: policy.DataSeparation{BlockWorkToPersonal: true}}
	calls := []adminCall{{"setPasswordQuality", 0x20000}, {"setPasswordMinimumLength", 6}, {"setMaximumFailedPasswordsForWipe", 10},
		{"setMaximumTimeToLock", 300_000}}
	if err := checkAgentPolicy(calls, req); err != nil {
		t.Errorf("matching calls: %v", err)
	}
	if err := checkAgentPolicy(calls[:2], req); !errors.Is(err, errPolicyEffect) || !strings.Contains(err.Error(), "setMaximumFailedPasswordsForWipe(10)") {
		t.Errorf("missing calls: %v", err)
	}
	if err := checkAgentPolicy(calls, policy.Requirements{}); !errors.Is(err, errPolicyEffect) {
		t.Errorf("a passcode set though none is required: %v", err)
	}
	if err := checkAgentPolicy(nil, policy.Requirements{}); err != nil {
		t.Errorf("no passcode, no calls: %v", err)
	}

	pw := []amapiPasswordPolicy{{Scope: "SCOPE_DEVICE", MinLength: 6, FailedForWipe: 10}}
	if err := checkManagedPolicy(pw, "DATA_SHARING_FROM_WORK_TO_PERSONAL_DISALLOWED", true, req); err != nil {
		t.Errorf("matching work profile policy: %v", err)
	}
	if err := checkManagedPolicy(pw, "", false, req); err != nil {
		t.Errorf("matching fully managed policy: %v", err)
	}
	for name, tt := range map[string]struct {
		pw      []amapiPasswordPolicy
		sharing string
		req     policy.Requirements
	}{
		"sharing allowed though blocked": {pw, "CROSS_PROFILE_DATA_SHARING_ALLOWED", req},
		"other length":                   {[]amapiPasswordPolicy{{Scope: "SCOPE_DEVICE", MinLength: 4, FailedForWipe: 10}}, "DATA_SHARING_FROM_WORK_TO_PERSONAL_DISALLOWED", req},
		"no password policy":             {nil, "DATA_SHARING_FROM_WORK_TO_PERSONAL_DISALLOWED", req},
		"password though none required":  {pw, "CROSS_PROFILE_DATA_SHARING_ALLOWED", policy.Requirements{}},
	} {
		if err := checkManagedPolicy(tt.pw, tt.sharing, true, tt.req); !errors.Is(err, errPolicyEffect) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestServerPrefix: the base URL keeps the path prefix, and only URLs
// below it are followed.
func TestServerPrefix(t *testing.T) {
	t.Parallel()
	ts := &testServer{caFile: writeTestCA(t)}
	a, err := newAPI("https://127.0.0.1:9/device-mgmt/", ts.caFile)
	if err != nil {
		t.Fatal(err)
	}
	if a.base != "https://127.0.0.1:9/device-mgmt" {
		t.Errorf("base %q", a.base)
	}
	for _, bad := range []string{"https://127.0.0.1:9/device-mgmt?x=1", "http://127.0.0.1:9/device-mgmt", "https://example.com/device-mgmt"} {
		if _, err := newAPI(bad, ts.caFile); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	if _, err := do(t.Context(), a.client, a.base, "GET", "https://127.0.0.1:9/other/enroll/org_x/profile", "", "", nil, 10); !errors.Is(err, errNotLoopback) {
		t.Errorf("a URL outside the prefix was followed: %v", err)
	}
	if _, err := a.orgCA(t.Context(), "https://127.0.0.1:9/enroll/org_x/profile?token=t"); err == nil || !strings.Contains(err.Error(), "not below") {
		t.Errorf("orgCA of an enrollment URL outside the prefix: %v", err)
	}
}

// writeTestCA writes a self-signed CA certificate (PEM) for newAPI.
func writeTestCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, IsCA: true,
		BasicConstraintsValid: true, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
