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
	"time"

	"github.com/openomm/omm"
	"github.com/openomm/omm/auth"
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
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return adminKey{}, "", err
	}
	token := adminTokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	k := adminKey{Org: org, Created: now.UTC(), hash: sha256.Sum256([]byte(token))}
	k.SHA256 = hex.EncodeToString(k.hash[:])
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
// product's own credentials: an admin token (valid or not, as bearer or
// console cookie) or the portal's session cookie. Other requests are
// named by the SDK (a session bearer token, the path's org).
func (s *server) deniedWho(r *http.Request) (storage.OrgID, string, bool) {
	bearer, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	for _, tok := range []string{strings.TrimSpace(bearer), cookieValue(r, adminCookie)} {
		if strings.HasPrefix(tok, adminTokenPrefix) {
			if s.admin.check(tok) {
				return s.admin.Org, adminActor, true
			}
			return s.admin.Org, "anonymous:bad-admin-token", true
		}
	}
	if org, ok := auth.TokenOrg(cookieValue(r, sessionCookie)); ok {
		return org, "session", true
	}
	return "", "", false
}
