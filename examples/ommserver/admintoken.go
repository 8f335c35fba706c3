package main

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/openomm/omm"
	"github.com/openomm/omm/storage"
)

// adminTokenFile keeps the SHA-256 hash of the admin API token and the org
// it is bound to. The token itself is printed once, at creation, and never
// stored; deleting the file makes the next start issue a new one.
const adminTokenFile = "admin-token.json"

const adminTokenPrefix = "omm_admin_"

// adminKey is the stored form of the admin token.
type adminKey struct {
	Org     storage.OrgID `json:"org"`
	SHA256  string        `json:"sha256"`
	Created time.Time     `json:"created"`

	hash [sha256.Size]byte
}

// adminKeys holds the admin key the server checks tokens against, and
// replaces it when the token is rotated. It is safe for concurrent use.
type adminKeys struct {
	dir string
	Org storage.OrgID // fixed: a rotation never changes the token's scope

	mu  sync.RWMutex
	key adminKey
}

func newAdminKeys(dir string, k adminKey) *adminKeys { return &adminKeys{dir: dir, Org: k.Org, key: k} }

// check reports whether token is the current admin token.
func (a *adminKeys) check(token string) bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.key.check(token)
}

// rotate replaces the admin token: a new one is made and its hash written
// over the stored one (a new file renamed into place, so that a crash
// leaves the old or the new, never neither), and the old token stops
// working at once. It returns the new token, shown once.
func (a *adminKeys) rotate(now time.Time) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	k, token, err := newAdminKey(a.Org, now)
	if err != nil {
		return "", err
	}
	data, err := json.MarshalIndent(k, "", "  ")
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp(a.dir, adminTokenFile+".*")
	if err != nil {
		return "", err
	}
	_, err = f.Write(append(data, '\n'))
	err = errors.Join(err, f.Sync(), f.Close()) // CreateTemp makes it 0600
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(a.dir, adminTokenFile))
	}
	if err != nil {
		os.Remove(f.Name()) //nolint:errcheck // the failure is the one to report
		return "", fmt.Errorf("rotate admin token: %w", err)
	}
	a.key = k
	return token, nil
}

// newAdminKey makes a token and its stored form.
func newAdminKey(org storage.OrgID, now time.Time) (adminKey, string, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return adminKey{}, "", err
	}
	token := adminTokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	k := adminKey{Org: org, Created: now.UTC(), hash: sha256.Sum256([]byte(token))}
	k.SHA256 = hex.EncodeToString(k.hash[:])
	return k, token, nil
}

// loadOrCreateAdminKey returns the admin key of dir, bound to org, and the
// token when this call created it ("" otherwise). A stored key bound to
// another org is an error: the token's scope never changes silently.
func loadOrCreateAdminKey(dir string, org storage.OrgID, now time.Time) (adminKey, string, error) {
	path := filepath.Join(dir, adminTokenFile)
	data, err := os.ReadFile(path)
	if err == nil {
		var k adminKey
		if err := json.Unmarshal(data, &k); err != nil {
			return k, "", fmt.Errorf("%s: %w", path, err)
		}
		h, err := hex.DecodeString(k.SHA256)
		if err != nil || len(h) != sha256.Size {
			return k, "", fmt.Errorf("%s: malformed hash", path)
		}
		copy(k.hash[:], h)
		if k.Org != org {
			return k, "", fmt.Errorf("%s: admin token is bound to org %q, not %q; delete the file to issue a new token", path, k.Org, org)
		}
		return k, "", nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return adminKey{}, "", err
	}
	k, token, err := newAdminKey(org, now)
	if err != nil {
		return adminKey{}, "", err
	}
	data, err = json.MarshalIndent(k, "", "  ")
	if err != nil {
		return adminKey{}, "", err
	}
	// O_EXCL: of two servers starting on one data directory, one wins and
	// the other fails instead of overwriting a token already printed.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return adminKey{}, "", err
	}
	if _, err := f.Write(append(data, '\n')); err != nil {
		f.Close()
		return adminKey{}, "", err
	}
	return k, token, f.Close()
}

// check reports whether token is the admin token, in constant time.
func (k adminKey) check(token string) bool {
	if !strings.HasPrefix(token, adminTokenPrefix) || len(token) > 128 {
		return false
	}
	h := sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(h[:], k.hash[:]) == 1
}

// adminActor is who the audit log names for changes made with the admin
// token through the admin API.
const adminActor = "admin:api-token"

// consoleAdmin is who the audit log names for changes made in the
// console. The console signs in with the admin token, which names no
// person, so every console action has this one stable actor (distinct
// from the API's); consoleActor is the one place that says so, for a
// console with its own administrator sign-in to name the person instead.
const consoleAdminActor = "admin:console"

// consoleActor is the audit actor of a console request.
func (s *server) consoleActor(*http.Request) string { return consoleAdminActor }

// actorWords names the product's own actors for people; the SDK names
// users (omm.SDK.Names).
var actorWords = map[string]string{
	adminActor:        "Administrator (admin API token)",
	consoleAdminActor: "Administrator (console)",
	seedActor:         "Demo set-up",
}

// adminTokenUser names the admin token where the app store wants a person.
const adminTokenUser = "api-token"

// adminAuth authenticates the admin API: the admin token as a bearer
// token, bound to its org.
func (s *server) adminAuth(r *http.Request) (omm.Admin, error) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || !s.admin.check(strings.TrimSpace(token)) {
		return omm.Admin{}, errors.New("an admin token is required: Authorization: Bearer <token>")
	}
	return omm.Admin{Org: s.admin.Org, Actor: adminActor, User: adminTokenUser}, nil
}

// deniedWho names the org and actor of a refused request from the
// product's own credentials: an admin token (valid or not: either way the
// admin org's, which is the fallback), a console session, or the portal's
// session cookie when it names a stored session. Other requests are named
// by the SDK (a session bearer token it verifies), or go to the fallback
// org.
func (s *server) deniedWho(r *http.Request) (storage.OrgID, string, bool) {
	bearer, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if tok := strings.TrimSpace(bearer); strings.HasPrefix(tok, adminTokenPrefix) {
		if s.admin.check(tok) {
			return s.admin.Org, adminActor, true
		}
		return s.admin.Org, "anonymous:bad-admin-token", true
	}
	if c := cookieValue(r, adminCookie); c != "" {
		if s.console.valid(c) {
			return s.admin.Org, adminActor, true
		}
		return s.admin.Org, "anonymous:ended-console-session", true
	}
	if org, ok := s.sdk.Auth.SessionOrg(r.Context(), cookieValue(r, sessionCookie)); ok {
		return org, "session", true
	}
	return "", "", false
}
