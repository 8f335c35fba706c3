package main

import (
	"bytes"
	"crypto/x509"
	"database/sql"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestDataAtRest (issue 22, finding 6): omm.db, -wal and -shm were created
// 0644, an existing data directory was not tightened, and the database
// held each org's SCEP CA private key as plain PKCS #8 and TOTP secrets in
// plain text. The data directory is 0700 and every file in it 0600
// (tightened at start), and those secrets are sealed with a key kept in a
// file of its own.
func TestDataAtRest(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(filepath.Join(dir, "tls"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("left by someone"), 0o644); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, dir)
	first := parseFirstStart(t, ts.out.String())
	type session struct{ Token string }
	tok := must[session](t, 200)(ts.do(t, "POST", "/api/agent/auth/signin", "",
		map[string]string{"site": "demo", "username": "alice", "password": first.passwords["alice"]})).Token
	if next := must[session](t, 200)(ts.do(t, "POST", "/api/agent/auth/pin", tok, map[string]string{"pin": "4829", "confirm": "4829"})).Token; next != "" {
		tok = next
	}
	enr := must[struct{ Secret string }](t, 200)(ts.do(t, "POST", "/api/agent/auth/mfa/totp/enroll", tok, map[string]string{}))
	if st, _ := ts.do(t, "GET", "/scep/"+string(demoOrg.ID)+"?operation=GetCACert", "", nil); st != 200 {
		t.Fatalf("GetCACert = %d", st)
	}
	ts.stop()

	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s is %v: others may read it", path, info.Mode().Perm())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "omm.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var caKey []byte
	if err := db.QueryRowContext(t.Context(), `SELECT private_key FROM omm_enroll_scep_cas WHERE org_id = ?`, string(demoOrg.ID)).Scan(&caKey); err != nil {
		t.Fatal(err)
	}
	if _, err := x509.ParsePKCS8PrivateKey(caKey); err == nil {
		t.Error("the demo org's SCEP CA private key is stored as plain PKCS #8")
	}
	var secret string
	if err := db.QueryRowContext(t.Context(), `SELECT secret FROM omm_auth_totp`).Scan(&secret); err != nil {
		t.Fatal(err)
	}
	if enr.Secret == "" || bytes.Contains([]byte(secret), []byte(enr.Secret)) {
		t.Errorf("alice's TOTP secret is stored in plain text")
	}
}
