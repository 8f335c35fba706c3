package omm

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/openomm/omm/events"

	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/storage"
)

// Denied requests: every answer of 401 or 403 is recorded in the audit
// log as "http.denied", so that an org sees who knocked on which door.
// Nothing else changes with a denied request, so the entry is its own
// write.

// DeniedAction is the audit action of a refused request.
const DeniedAction = "http.denied"

// Bounds on denied-request entries: a flood of bad requests must not grow
// the log without limit. Per org and window, the first maxDeniedPerWindow
// are recorded; the rest are counted, and the count goes with the next
// entry recorded.
const (
	deniedWindow       = time.Minute
	maxDeniedPerWindow = 120
	maxDeniedOrgs      = 10000 // orgs tracked per window; beyond it, entries are dropped and counted
)

// Requester names the org and the actor of a request for the audit entry
// of its refusal, from what the request presented (never trusting it
// further than naming). ok false: the request names no org of its own.
type Requester func(r *http.Request) (org storage.OrgID, actor string, ok bool)

// AuditDenied wraps h: a 401 or 403 answer is recorded in the audit log of
// the org the request names — who's answer first, else the org of a
// session token it carries, else its path's {org} — or, when it names
// none (or one that does not exist), of fallback. Entries are bounded per
// org and minute.
func AuditDenied(h http.Handler, log storage.AuditLog, fallback storage.OrgID, who Requester, opts ...DeniedOption) http.Handler {
	d := &denied{log: log, fallback: fallback, who: who, now: time.Now, lim: &deniedLimiter{}}
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

type denied struct {
	log      storage.AuditLog
	fallback storage.OrgID
	who      Requester
	now      func() time.Time
	lim      *deniedLimiter
	errlog   interface{ Error(msg string, args ...any) }
}

// record appends the denied request's entry. A failure to record is
// logged: the request was refused either way.
func (d *denied) record(r *http.Request, status int) {
	org, actor := d.requester(r)
	now := d.now()
	ok, suppressed := d.lim.admit(org, now)
	if !ok {
		return
	}
	e := storage.AuditEntry{Org: org, Time: now, Actor: actor, Action: DeniedAction, Target: deniedTarget(r),
		Details: map[string]string{"method": truncate(r.Method, 16), "status": strconv.Itoa(status), "remote": remoteIP(r)},
		Event:   events.SecurityDenied}
	if suppressed > 0 {
		e.Details["suppressed"] = strconv.Itoa(suppressed)
	}
	// The request's context may be ending; the record must still land.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
	defer cancel()
	_, err := d.log.AppendAudit(ctx, e)
	if err != nil && org != d.fallback {
		// The org a credential or path claimed does not exist: the
		// fallback org gets the record.
		e.Org = d.fallback
		e.Details["claimed_org"] = truncate(string(org), 64)
		_, err = d.log.AppendAudit(ctx, e)
	}
	if err != nil && d.errlog != nil {
		d.errlog.Error("audit of a denied request failed", "err", err, "status", status)
	}
}

func (d *denied) requester(r *http.Request) (storage.OrgID, string) {
	if d.who != nil {
		if org, actor, ok := d.who(r); ok {
			return org, actor
		}
	}
	bearer, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if org, ok := auth.TokenOrg(strings.TrimSpace(bearer)); ok {
		return org, "session"
	}
	if org := storage.OrgID(r.PathValue("org")); org != "" && org.Validate() == nil {
		return org, "anonymous"
	}
	if bearer != "" {
		return d.fallback, "anonymous:bearer"
	}
	return d.fallback, "anonymous"
}

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
