package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openomm/omm/enroll/scep"
	"github.com/openomm/omm/profile"
	"github.com/openomm/omm/storage/seal"
	"github.com/openomm/omm/storage/sqlite"
)

func TestEnrollProfileSubcommand(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir) // seeds the demo org on first start
	ts.stop()

	var out, errOut bytes.Buffer
	err := runEnrollProfile(t.Context(), []string{"-site", "demo", "-user", "alice", "-data", dir, "-postgres", "", "-public-url", "https://mdm.example.test"}, &out, &errOut)
	if err != nil {
		t.Fatalf("enroll-profile: %v\n%s", err, errOut.String())
	}
	// It has nothing to say about Android: no Knox or Android Management
	// API warnings for an Apple profile.
	if strings.Contains(errOut.String(), "Knox") || strings.Contains(errOut.String(), "Android") {
		t.Errorf("enroll-profile printed unrelated warnings:\n%s", errOut.String())
	}
	// Signed by the org's device CA, which the devices pin.
	st, err := sqlite.Open(t.Context(), filepath.Join(dir, "omm.db"))
	if err != nil {
		t.Fatal(err)
	}
	org, err := st.OrgByName(t.Context(), "demo")
	if err != nil {
		t.Fatal(err)
	}
	// The org's CA key is sealed with the server's key file.
	keeper, err := seal.LoadOrCreateKeyFile(filepath.Join(dir, secretsKeyFile), nil)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := scep.NewGeneratedCAs(st, time.Now, scep.WithKeeper(keeper)).CA(t.Context(), org.ID)
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	content, _, err := profile.Verify(out.Bytes(), profile.VerifyOptions{Signer: ca.Certificate})
	if err != nil {
		t.Fatalf("output is not a profile signed by the org's CA: %v", err)
	}
	p, err := profile.Decode(content)
	if err != nil {
		t.Fatal(err)
	}
	var mdm *profile.MDM
	var scep *profile.SCEP
	for _, pl := range p.Payloads {
		switch v := pl.(type) {
		case *profile.MDM:
			mdm = v
		case *profile.SCEP:
			scep = v
		}
	}
	if mdm == nil || scep == nil {
		t.Fatalf("profile payloads %T", p.Payloads)
	}
	if !strings.HasPrefix(mdm.CheckInURL, "https://mdm.example.test/mdm/") || !strings.HasPrefix(scep.URL, "https://mdm.example.test/scep/") {
		t.Errorf("URLs %s %s", mdm.CheckInURL, scep.URL)
	}

	// carol's policy denies enrollment: no profile, a reason.
	out.Reset()
	err = runEnrollProfile(t.Context(), []string{"-site", "demo", "-user", "carol", "-data", dir, "-postgres", ""}, &out, &errOut)
	if err == nil || out.Len() != 0 || !strings.Contains(err.Error(), "denied") {
		t.Errorf("profile for a denied user: %v, %d bytes", err, out.Len())
	}
	for _, args := range [][]string{
		{"-site", "demo", "-data", dir},
		{"-site", "nope", "-user", "alice", "-data", dir, "-postgres", ""},
		{"-site", "demo", "-user", "nobody", "-data", dir, "-postgres", ""},
	} {
		if err := runEnrollProfile(t.Context(), args, &out, &errOut); err == nil {
			t.Errorf("%v: accepted", args)
		}
	}
}

func TestSplitArgs(t *testing.T) {
	mine, rest := splitArgs([]string{"-site", "demo", "-data", "d", "-user=alice", "--platform", "ios", "-postgres", ""}, "site", "user", "platform")
	if strings.Join(mine, " ") != "-site demo -user=alice --platform ios" || strings.Join(rest, " ") != "-data d -postgres " {
		t.Errorf("mine %q rest %q", mine, rest)
	}
}
