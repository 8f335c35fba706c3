package main

import (
	"context"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/openomm/omm/storage"
)

// Denied requests: every answer of 401 or 403 is recorded in the audit
// log as "http.denied", so that an org sees who knocked on which door.
// Nothing else changes with a denied request, so the entry is its own
// write.

// deniedAction is the audit action of a refused request.
const deniedAction = "http.denied"

// Bounds on denied-request entries: a flood of bad requests must not grow
// the log without limit. Per org and window, the first maxDeniedPerWindow
// are recorded; the rest are counted, and the count goes with the next
// entry recorded.
const (
	deniedWindow       = time.Minute
	maxDeniedPerWindow = 120
	maxDeniedOrgs      = 10000 // orgs tracked per window; beyond it, entries are dropped and counted
)

// deniedLimiter counts denied-request entries per org in fixed windows.
type deniedLimiter struct {
	mu         sync.Mutex
	start      time.Time
	count      map[storage.OrgID]int
	suppressed map[storage.OrgID]int
}

// admit reports whether an entry for org may be written now and, if so,
// how many were suppressed before it.
func (l *deniedLimiter) admit(org storage.OrgID, now time.Time) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.count == nil || now.Sub(l.start) >= deniedWindow || now.Before(l.start) {
		l.start, l.count = now, map[storage.OrgID]int{}
		if l.suppressed == nil || len(l.suppressed) > maxDeniedOrgs {
			l.suppressed = map[storage.OrgID]int{}
		}
	}
	if l.count[org] >= maxDeniedPerWindow || len(l.count) >= maxDeniedOrgs {
		if len(l.suppressed) < maxDeniedOrgs {
			l.suppressed[org]++
		}
		return false, 0
	}
	l.count[org]++
	n := l.suppressed[org]
	delete(l.suppressed, org)
	return true, n
}

// statusRecorder remembers the status a handler answered with.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// auditDenied wraps h (the router): a 401 or 403 answer is recorded in the
// audit log of the org the request's credential or path names, else of
// the server's own org.
func (s *server) auditDenied(h http.Handler) http.Handler {
	lim := &deniedLimiter{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		if rec.status != http.StatusUnauthorized && rec.status != http.StatusForbidden {
			return
		}
		s.recordDenied(r, rec.status, lim)
	})
}

// recordDenied appends the denied request's entry. A failure to record is
// logged: the request was refused either way.
func (s *server) recordDenied(r *http.Request, status int, lim *deniedLimiter) {
	org, actor := s.deniedWho(r)
	now := s.now()
	ok, suppressed := lim.admit(org, now)
	if !ok {
		return
	}
	e := storage.AuditEntry{Org: org, Time: now, Actor: actor, Action: deniedAction, Target: deniedTarget(r),
		Details: map[string]string{"method": truncate(r.Method, 16), "status": strconv.Itoa(status), "remote": remoteIP(r)}}
	if suppressed > 0 {
		e.Details["suppressed"] = strconv.Itoa(suppressed)
	}
	// The request's context may be ending; the record must still land.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
	defer cancel()
	_, err := s.store.AppendAudit(ctx, e)
	if errors.Is(err, storage.ErrNotFound) && org != s.admin.Org {
		// The org a credential or path claimed does not exist: the
		// server's own org gets the record.
		e.Org = s.admin.Org
		e.Details["claimed_org"] = truncate(string(org), 64)
		_, err = s.store.AppendAudit(ctx, e)
	}
	if err != nil {
		s.log.Error("audit of a denied request failed", "err", err, "status", status)
	}
}

// deniedWho names the org and actor of a denied request from what it
// presented, never trusting it further than naming: an admin token (valid
// or not), a session token (which carries its org), the path's org, or
// nothing.
func (s *server) deniedWho(r *http.Request) (storage.OrgID, string) {
	bearer, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	bearer = strings.TrimSpace(bearer)
	for _, tok := range []string{bearer, cookieValue(r, adminCookie)} {
		if strings.HasPrefix(tok, adminTokenPrefix) {
			if s.admin.check(tok) {
				return s.admin.Org, adminActor
			}
			return s.admin.Org, "anonymous:bad-admin-token"
		}
	}
	for _, tok := range []string{bearer, cookieValue(r, sessionCookie)} {
		if org, ok := sessionTokenOrg(tok); ok {
			return org, "session"
		}
	}
	if org := storage.OrgID(r.PathValue("org")); org != "" && org.Validate() == nil {
		return org, "anonymous"
	}
	if bearer != "" {
		return s.admin.Org, "anonymous:bearer"
	}
	return s.admin.Org, "anonymous"
}

// sessionTokenOrg reads the org an auth session token names (the auth
// package's "omm1.<org>.<secret>" form), without checking the token.
func sessionTokenOrg(tok string) (storage.OrgID, bool) {
	parts := strings.Split(tok, ".")
	if len(tok) > 256 || len(parts) != 3 || parts[0] != "omm1" {
		return "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	org := storage.OrgID(b)
	if err != nil || org.Validate() != nil {
		return "", false
	}
	return org, true
}

// deniedTarget is the route the request hit: its pattern when the router
// matched one (no IDs from the path), else the path, shortened.
func deniedTarget(r *http.Request) string {
	if r.Pattern != "" {
		return "route:" + truncate(r.Pattern, 200)
	}
	return "path:" + truncate(r.URL.Path, 200)
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return truncate(r.RemoteAddr, 64)
	}
	return host
}

// truncate makes s fit an audit field: valid UTF-8, control characters
// replaced, at most n runes.
func truncate(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
	if r := []rune(s); len(r) > n {
		return string(r[:n])
	}
	return s
}
