package omm

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/openomm/omm/events"

	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/internal/ratelimit"
	"github.com/openomm/omm/storage"
)

// Denied requests: every answer of 401 or 403 is recorded in the audit
// log, so that an org sees who knocked on which door. Nothing else changes
// with a denied request, so the entry is its own write.
//
// Only a verified principal puts an entry in an org's log: a session token
// that names a stored session, a host credential its Requester checked.
// Anything a caller merely claims — a forged token naming an org, an org in
// the path — is recorded in the fallback org's log (the operator's), with
// the claim in its details; so nobody can fill another org's log, nor use
// up its budget so that its real denials go unrecorded.

// DeniedAction is the audit action of a refused request.
const DeniedAction = "http.denied"

// Bounds on denied-request entries: a flood of bad requests must not grow
// the log without limit. Per org and window, the first maxDeniedPerWindow
// are recorded, at most maxDeniedPerSource of them from one client
// address; the rest are counted, and the count goes with the next entry
// recorded.
const (
	deniedWindow       = time.Minute
	maxDeniedPerWindow = 120
	maxDeniedPerSource = 20
	maxDeniedOrgs      = 10000 // keys tracked per window; beyond it, entries are dropped and counted
)

// Requester names the org and the actor of a request for the audit entry
// of its refusal, from the host's own credentials. It must name an org
// only for a credential it verified (a valid admin token, a session cookie
// that names a stored session); ok false: it verified none, and the SDK
// looks further (a session bearer token it can verify), else the fallback
// org gets the entry.
type Requester func(r *http.Request) (org storage.OrgID, actor string, ok bool)

// SessionVerifier tells the org of a session token that names a stored
// session (of any state: a revoked token was once handed out by that org).
// *auth.Service implements it.
type SessionVerifier interface {
	SessionOrg(ctx context.Context, token string) (storage.OrgID, bool)
}

// AuditDenied wraps h: a 401 or 403 answer is recorded in the audit log of
// the org whose principal the request verifiably presents — who's answer
// first, else a session bearer token the SessionVerifier
// (WithDeniedSessions) knows — or else of fallback, with what the request
// claimed in the entry's details. Entries are bounded per org, client
// address and minute.
func AuditDenied(h http.Handler, log storage.AuditLog, fallback storage.OrgID, who Requester, opts ...DeniedOption) http.Handler {
	d := &denied{log: log, fallback: fallback, who: who, now: time.Now, source: remoteIP,
		perOrg:    ratelimit.NewWindow(maxDeniedPerWindow, deniedWindow, maxDeniedOrgs),
		perSource: ratelimit.NewWindow(maxDeniedPerSource, deniedWindow, maxDeniedOrgs)}
	for _, o := range opts {
		o(d)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		if rec.status == http.StatusUnauthorized || rec.status == http.StatusForbidden {
			d.record(r, rec.status)
		}
	})
}

// DeniedOption configures [AuditDenied].
type DeniedOption func(*denied)

// WithDeniedClock sets the clock (default time.Now).
func WithDeniedClock(now func() time.Time) DeniedOption { return func(d *denied) { d.now = now } }

// WithDeniedLogger sets where failures to record are logged.
func WithDeniedLogger(l interface {
	Error(msg string, args ...any)
}) DeniedOption {
	return func(d *denied) { d.errlog = l }
}

// WithDeniedSource sets how a refused request's client address is named,
// for the per-source bound and the entry's "remote" (default: the
// connection's peer); behind a trusted proxy, [SDK.ClientSource].
func WithDeniedSource(fn func(*http.Request) string) DeniedOption {
	return func(d *denied) { d.source = fn }
}

// WithDeniedSessions verifies session bearer tokens, so that a refusal of
// a request carrying a real session's token is recorded in that session's
// org. Without it, every such refusal goes to the fallback org.
func WithDeniedSessions(v SessionVerifier) DeniedOption { return func(d *denied) { d.sessions = v } }

type denied struct {
	log       storage.AuditLog
	fallback  storage.OrgID
	who       Requester
	sessions  SessionVerifier
	now       func() time.Time
	source    func(*http.Request) string
	perOrg    *ratelimit.Window
	perSource *ratelimit.Window
	errlog    interface{ Error(msg string, args ...any) }
}

// record appends the denied request's entry. A failure to record is
// logged: the request was refused either way.
func (d *denied) record(r *http.Request, status int) {
	org, actor, claimed := d.requester(r)
	now := d.now()
	remote := truncate(d.source(r), 64)
	okSource, fromSource := d.perSource.Admit(string(org)+" "+remote, now)
	if !okSource {
		return
	}
	okOrg, fromOrg := d.perOrg.Admit(string(org), now)
	if !okOrg {
		return
	}
	e := storage.AuditEntry{Org: org, Time: now, Actor: actor, Action: DeniedAction, Target: deniedTarget(r),
		Details: map[string]string{"method": truncate(r.Method, 16), "status": strconv.Itoa(status), "remote": remote},
		Event:   events.SecurityDenied}
	if n := fromSource + fromOrg; n > 0 {
		e.Details["suppressed"] = strconv.Itoa(n)
	}
	if claimed != "" {
		e.Details["claimed_org"] = truncate(string(claimed), 64)
	}
	// The request's context may be ending; the record must still land.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
	defer cancel()
	if _, err := d.log.AppendAudit(ctx, e); err != nil && d.errlog != nil {
		d.errlog.Error("audit of a denied request failed", "err", err, "status", status)
	}
}

// requester returns the org whose log gets the entry, the actor, and the
// org the request claimed without proof (empty when none, or when it is
// the org recorded).
func (d *denied) requester(r *http.Request) (org storage.OrgID, actor string, claimed storage.OrgID) {
	if d.who != nil {
		if org, actor, ok := d.who(r); ok {
			return org, actor, ""
		}
	}
	bearer, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	bearer = strings.TrimSpace(bearer)
	if claim, ok := auth.TokenOrg(bearer); ok {
		if d.sessions != nil {
			if org, ok := d.sessions.SessionOrg(r.Context(), bearer); ok {
				return org, "session", ""
			}
		}
		return d.fallback, "anonymous:bad-session-token", claim
	}
	actor = "anonymous"
	if bearer != "" {
		actor = "anonymous:bearer"
	}
	if claim := storage.OrgID(r.PathValue("org")); claim != "" && claim.Validate() == nil && claim != d.fallback {
		return d.fallback, actor, claim
	}
	return d.fallback, actor, ""
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
