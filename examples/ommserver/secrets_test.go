package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/openomm/omm/enroll/apns/apnstest"
	"github.com/openomm/omm/storage/seal"
)

// recorder keeps every response body a client received.
type recorder struct {
	base http.RoundTripper
	mu   sync.Mutex
	seen []recorded
}

type recorded struct {
	what string // method and path
	body []byte
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	r.mu.Lock()
	r.seen = append(r.seen, recorded{req.Method + " " + req.URL.Path, body})
	r.mu.Unlock()
	return resp, nil
}

// secret is one secret value and where it may legitimately appear.
type secret struct {
	name string
	// forms are the encodings searched for: raw, hex, base64, PEM body.
	forms []string
	// word: the value is short; match it only standing alone, not inside
	// a longer token of letters and digits.
	word bool
	// shownIn names the responses allowed to carry it (the one answer that
	// hands it to its owner).
	shownIn []string
}

// textForms are a string secret's encodings.
func textForms(v string) []string {
	return append([]string{v}, byteForms([]byte(v))...)
}

// byteForms are the hex and base64 encodings of b.
func byteForms(b []byte) []string {
	return []string{hex.EncodeToString(b), strings.ToUpper(hex.EncodeToString(b)),
		base64.StdEncoding.EncodeToString(b), base64.RawStdEncoding.EncodeToString(b),
		base64.URLEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b)}
}

// keyForms are the encodings of a private key's secret part: the private
// scalar or exponent alone, and the stretch of the key's PKCS#8 DER (as
// hex and base64, which is also the body of its PEM) that holds it.
func keyForms(t *testing.T, key any) []string {
	t.Helper()
	var private []byte
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		private = k.D.FillBytes(make([]byte, (k.Curve.Params().BitSize+7)/8))
	case *rsa.PrivateKey:
		private = k.D.Bytes()
	default:
		t.Fatalf("key type %T", key)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	forms := byteForms(private)
	i := bytes.Index(der, private)
	if i < 0 {
		t.Fatal("the private part is not in the key's DER")
	}
	// The base64 characters that encode only bytes of the private part,
	// at the alignment the whole DER (and its PEM) has.
	from, to := (i+2)/3*4, (i+len(private))/3*4
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
		forms = append(forms, enc.EncodeToString(der)[from:to])
	}
	return forms
}

func readKey(t *testing.T, path string) any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(data)
	if b == nil {
		t.Fatalf("%s: no PEM", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		k, err = x509.ParseECPrivateKey(b.Bytes)
	}
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return k
}

// found reports whether text holds the secret in any of its forms.
func (s secret) found(text string) string {
	flat := strings.ReplaceAll(text, "\n", "") // PEM bodies are broken into lines
	for _, f := range s.forms {
		if len(f) < 4 {
			continue
		}
		if s.word {
			re := regexp.MustCompile(`(^|[^A-Za-z0-9+/_-])` + regexp.QuoteMeta(f) + `($|[^A-Za-z0-9+/=_-])`)
			if re.MatchString(text) {
				return f
			}
			continue
		}
		if strings.Contains(text, f) || strings.Contains(flat, f) {
			return f
		}
	}
	return ""
}

// TestSecretsNeverShown runs a server with push configured, walks sign-in
// (password, MFA, PIN), enrollment, the admin API and the web console, and
// greps everything it logged and every answer it gave for each secret: the
// dev CA's and the SCEP CA's keys, the APNs key, session tokens, the admin
// token, the CSRF key, passwords, PINs and TOTP secrets. The first start
// prints the demo passwords and the admin token once, on their own lines:
// that is allowed, nothing else is.
func TestSecretsNeverShown(t *testing.T) {
	fake := apnstest.NewServer()
	defer fake.Close()
	tmp := t.TempDir()
	roots := filepath.Join(tmp, "apns-roots.pem")
	writeServerCert(t, fake.URL(), roots)
	apnsKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(apnsKey)
	p8 := filepath.Join(tmp, "AuthKey.p8")
	if err := os.WriteFile(p8, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(tmp, "data")
	ts := startServerArgs(t, dir, "-postgres", "", "-apns-token-key", p8, "-apns-key-id", "KEYID12345",
		"-apns-team-id", "TEAMID1234", "-apns-topic", "com.apple.mgmt.External.test", "-apns-endpoint", fake.URL(), "-apns-roots", roots)
	rec := &recorder{base: ts.client.Transport}
	ts.client.Transport = rec
	w := &world{testServer: ts, dir: dir, first: parseFirstStart(t, ts.out.String()), users: map[string]string{}}
	if w.first.adminToken == "" || len(w.first.passwords) != len(demoUsers) {
		t.Fatalf("first start printed no token or passwords:\n%s", ts.out)
	}
	tok := w.first.adminToken

	// The walk: sign-in with a wrong and a right password, PIN set and
	// verified, an authenticator enrolled, an enrollment, admin calls.
	w.do(t, "POST", "/api/agent/auth/signin", "", map[string]string{"site": "demo", "username": "alice", "password": "not-the-password"})
	alice := w.agentSignIn(t, "alice")
	w.do(t, "POST", "/api/agent/auth/pin/verify", alice, map[string]string{"pin": "1357"})
	alice = must[struct{ Token string }](t, 200)(w.do(t, "POST", "/api/agent/auth/pin/verify", alice, map[string]string{"pin": "4829"})).Token
	enr := must[struct{ Secret string }](t, 200)(w.do(t, "POST", "/api/agent/auth/mfa/totp/enroll", alice, map[string]string{}))
	must[map[string]any](t, 200)(w.do(t, "POST", "/api/agent/auth/mfa/totp/confirm", alice, map[string]string{"code": totpCode(t, enr.Secret, 0)}))
	dev := enrollApple(t, w, alice, "UDID-SECRETS-0001")
	dev.client.Transport = &recorder{base: dev.client.Transport}
	devRec := dev.client.Transport.(*recorder)
	must[map[string]string](t, 202)(w.do(t, "POST", "/api/admin/devices/"+dev.id+"/lock", tok, nil))
	dev.drain(t, nil)
	const newPassword = "walker-Secret-Password-42"
	must[userView](t, 201)(w.do(t, "POST", "/api/admin/users", tok, map[string]string{"username": "walker", "display_name": "Walker", "password": newPassword}))
	w.do(t, "GET", "/api/admin/users", tok, nil)
	w.do(t, "GET", "/api/admin/devices/"+dev.id, tok, nil)
	w.do(t, "GET", "/api/admin/audit?limit=1000", tok, nil)
	w.do(t, "GET", "/api/admin/devices", "omm_admin_wrong", nil)
	// The web: portal sign-in and the console.
	b := signedInBrowser(t, w, "bob")
	b.c.Transport = rec
	b.get("/portal")
	b.get("/portal/devices/" + dev.id)
	con := newBrowser(t, w)
	con.c.Transport = rec
	con.get("/admin")
	con.post("/admin/signin", url.Values{"token": {tok}})
	for _, p := range []string{"/admin/devices", "/admin/devices/" + dev.id, "/admin/audit", "/admin/policies"} {
		con.get(p)
	}
	ts.stop()

	// The secrets, read from where the server keeps them.
	csrfKey, err := os.ReadFile(filepath.Join(dir, "csrf.key"))
	if err != nil {
		t.Fatal(err)
	}
	sealKey, err := os.ReadFile(filepath.Join(dir, secretsKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	secrets := []secret{
		{name: "dev CA key", forms: keyForms(t, readKey(t, filepath.Join(dir, "tls", caKeyFile)))},
		{name: "TLS serving key", forms: keyForms(t, readKey(t, filepath.Join(dir, "tls", servingKeyFile)))},
		{name: "APNs key", forms: keyForms(t, apnsKey)},
		{name: "CSRF key", forms: byteForms(csrfKey)},
		{name: "secrets key", forms: byteForms(sealKey)},
		{name: "admin token", forms: textForms(tok)},
		// alice's latest token: handed out by the PIN step that replaced
		// the earlier ones, and shown nowhere else.
		{name: "alice's session token", forms: textForms(alice), shownIn: []string{"POST /api/agent/auth/pin/verify"}},
		{name: "TOTP secret", forms: textForms(enr.Secret), shownIn: []string{"POST /api/agent/auth/mfa/totp/enroll"}},
		{name: "PIN", forms: textForms("4829"), word: true},
		{name: "wrong PIN", forms: textForms("1357"), word: true},
		{name: "new user's password", forms: textForms(newPassword)},
		{name: "wrong password", forms: textForms("not-the-password")},
	}
	for _, k := range scepCAKeys(t, dir) {
		secrets = append(secrets, secret{name: "SCEP CA key", forms: keyForms(t, k)})
	}
	for user, pw := range w.first.passwords {
		secrets = append(secrets, secret{name: user + "'s password", forms: textForms(pw)})
	}

	// The first start's lines that hand out the token and the passwords
	// are allowed, once each; the rest of the output is checked.
	out := ts.out.String()
	allowed := map[string]int{}
	var rest []string
	for _, line := range strings.Split(out, "\n") {
		switch {
		case tokenLine.MatchString(line) || strings.Contains(line, "use: curl") && strings.Contains(line, "Bearer "+tok):
			allowed["token"]++
		case passwordLine.MatchString(line):
			allowed["password"]++
		default:
			rest = append(rest, line)
		}
	}
	if allowed["token"] != 2 || allowed["password"] != len(demoUsers) {
		t.Errorf("first start: %d token lines (want the token and its usage line), %d password lines (want %d)",
			allowed["token"], allowed["password"], len(demoUsers))
	}
	logged := strings.Join(rest, "\n")
	if strings.Contains(logged, "PRIVATE KEY") {
		t.Error("the output holds a PEM private key")
	}
	responses := append(rec.seen, devRec.seen...)
	if len(responses) < 30 {
		t.Fatalf("only %d responses recorded: the walk did not run", len(responses))
	}
	for _, s := range secrets {
		if len(s.forms) == 0 {
			t.Fatalf("%s: no forms", s.name)
		}
		if f := s.found(logged); f != "" {
			t.Errorf("%s (as %q) is in the server's output", s.name, f)
		}
		for _, r := range responses {
			if f := s.found(string(r.body)); f != "" && !containsString(s.shownIn, r.what) {
				t.Errorf("%s (as %q) is in the answer to %s", s.name, f, r.what)
			}
		}
	}
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// scepCAKeys reads the orgs' SCEP CA keys from the database.
func scepCAKeys(t *testing.T, dir string) []any {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "omm.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(t.Context(), `SELECT org_id, private_key FROM omm_enroll_scep_cas`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	// The keys are stored sealed: opened with the key beside the database.
	keeper, err := seal.LoadOrCreateKeyFile(filepath.Join(dir, secretsKeyFile), nil)
	if err != nil {
		t.Fatal(err)
	}
	var keys []any
	for rows.Next() {
		var org string
		var stored []byte
		if err := rows.Scan(&org, &stored); err != nil {
			t.Fatal(err)
		}
		der, sealed, err := seal.Open(t.Context(), keeper, stored, "scep-ca-key:"+org)
		if err != nil || !sealed {
			t.Fatalf("the SCEP CA key of %s is not sealed (%v)", org, err)
		}
		k, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		t.Fatal("no SCEP CA key stored: the walk enrolled no device")
	}
	return keys
}
