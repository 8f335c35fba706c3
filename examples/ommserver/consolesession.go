package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"sync"
	"time"
)

// consoleSessions are the admin console's sign-ins. Signing in with the
// admin token starts one: a random 256-bit ID in an HttpOnly cookie, only
// its hash kept here; the console's form tokens (CSRF) are bound to it, so
// they are new at every sign-in and dead after it. A session ends at
// sign-out, after consoleIdle without use or consoleMax in all, when the
// admin token is rotated, and when the server restarts. The admin token
// itself never goes into a cookie.
type consoleSessions struct {
	now func() time.Time

	mu sync.Mutex
	m  map[[sha256.Size]byte]consoleSession
}

type consoleSession struct{ created, used time.Time }

// Console session limits.
const (
	consoleIdle        = 30 * time.Minute
	consoleMax         = 12 * time.Hour
	maxConsoleSessions = 100 // the oldest ends when more start
)

func newConsoleSessions(now func() time.Time) *consoleSessions {
	return &consoleSessions{now: now, m: map[[sha256.Size]byte]consoleSession{}}
}

// start begins a session and returns its ID, for the cookie.
func (c *consoleSessions) start() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand.Read does not fail
	}
	id := base64.RawURLEncoding.EncodeToString(b)
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sweep(now)
	if len(c.m) >= maxConsoleSessions {
		var oldest [sha256.Size]byte
		first := true
		for k, s := range c.m {
			if first || s.created.Before(c.m[oldest].created) {
				oldest, first = k, false
			}
		}
		delete(c.m, oldest)
	}
	c.m[sha256.Sum256([]byte(id))] = consoleSession{created: now, used: now}
	return id
}

// valid reports whether id names a live session, and records its use.
func (c *consoleSessions) valid(id string) bool {
	if id == "" {
		return false
	}
	k := sha256.Sum256([]byte(id))
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.m[k]
	if !ok || !live(s, now) {
		delete(c.m, k)
		return false
	}
	s.used = now
	c.m[k] = s
	return true
}

// end ends the session id (sign-out).
func (c *consoleSessions) end(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, sha256.Sum256([]byte(id)))
}

// endAll ends every session (the admin token changed).
func (c *consoleSessions) endAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.m)
}

// sweep drops sessions that ended by time; c.mu is held.
func (c *consoleSessions) sweep(now time.Time) {
	for k, s := range c.m {
		if !live(s, now) {
			delete(c.m, k)
		}
	}
}

// live reports whether a session is within its idle and absolute limits.
func live(s consoleSession, now time.Time) bool {
	return now.Sub(s.used) <= consoleIdle && now.Sub(s.created) <= consoleMax && !now.Before(s.created)
}
