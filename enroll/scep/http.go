package scep

import (
	"encoding/base64"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/openomm/omm/internal/ratelimit"
	"github.com/openomm/omm/storage"
)

// Handler returns the SCEP HTTP endpoint. Mount it on a pattern with an
// {org} wildcard, e.g. "/scep/{org}"; the org is the storage.OrgID. It
// answers GetCACaps, GetCACert and PKIOperation (POST body, or GET with the
// base64 message parameter), with request bodies limited to MaxMessageSize.
//
// PKIOperation is open to anyone, and a refused request costs a private-key
// decryption and a signed FAILURE reply (SCEP requires both: the challenge
// is inside the envelope). So refused requests are limited per client
// address and per org (WithRateLimits): each request takes a token from
// both, and one that gets its certificate gives them back, so that
// enrollments never run out. Past the limit the answer is 503 with
// Retry-After, before any cryptography; the refusals within it are still
// answered with a signed FAILURE CertRep.
func (s *Service) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		org := storage.OrgID(r.PathValue("org"))
		if org.Validate() != nil {
			http.Error(w, "unknown organization", http.StatusNotFound)
			return
		}
		switch op := r.URL.Query().Get("operation"); op {
		case "GetCACaps":
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, Capabilities)
		case "GetCACert":
			cert, err := s.CACertificate(r.Context(), org)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			w.Header().Set("Content-Type", "application/x-x509-ca-cert")
			_, _ = w.Write(cert.Raw)
		case "PKIOperation":
			release, ok := s.limits.take(w, s.source(r), org, s.now())
			if !ok {
				return
			}
			msg, err := readMessage(w, r)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			reply, err := s.PKIOperation(r.Context(), org, msg)
			if err == nil {
				release() // a certificate was issued: not what the limit is for
			}
			if reply == nil {
				s.fail(w, r, err)
				return
			}
			w.Header().Set("Content-Type", "application/x-pki-message")
			_, _ = w.Write(reply)
		default:
			http.Error(w, "unknown SCEP operation", http.StatusBadRequest)
		}
	})
}

func readMessage(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	switch r.Method {
	case http.MethodPost:
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxMessageSize))
		if err != nil {
			return nil, errors.New("message too large or unreadable")
		}
		return body, nil
	case http.MethodGet:
		m := r.URL.Query().Get("message")
		if base64.StdEncoding.DecodedLen(len(m)) > MaxMessageSize {
			return nil, errors.New("message too large")
		}
		// Some clients do not escape '+' in the query.
		b, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(m, " ", "+"))
		if err != nil {
			return nil, errors.New("message is not base64")
		}
		return b, nil
	}
	return nil, errors.New("PKIOperation needs GET or POST")
}

func (s *Service) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrMessage), errors.Is(err, ErrUnsupported), errors.Is(err, storage.ErrInvalid):
		status = http.StatusBadRequest
	case errors.Is(err, storage.ErrNotFound):
		status = http.StatusNotFound
	}
	if status == http.StatusInternalServerError {
		s.log.ErrorContext(r.Context(), "scep request failed", "err", err)
		http.Error(w, "internal error", status)
		return
	}
	http.Error(w, err.Error(), status)
}

// RateLimit is a budget of refused PKIOperation requests: Burst at once,
// and one more every Every.
type RateLimit struct {
	Burst int
	Every time.Duration
}

// Default rate limits: per client address 20 refused requests, then one
// every 6 seconds; per org 300, then 20 a second. An enrollment that gets
// its certificate costs neither.
var (
	DefaultSourceLimit = RateLimit{Burst: 20, Every: 6 * time.Second}
	DefaultOrgLimit    = RateLimit{Burst: 300, Every: 50 * time.Millisecond}
)

// maxLimitKeys bounds the addresses and orgs the limits track.
const maxLimitKeys = 100_000

// WithRateLimits sets the budgets of refused PKIOperation requests per
// client address and per org (see Handler).
func WithRateLimits(source, org RateLimit) Option {
	return func(s *Service) { s.limits = newLimits(source, org) }
}

// WithClientSource sets how the handler names a request's client for the
// per-address limit; by default the host of the connection's address. A
// host behind a proxy it trusts passes the address the proxy saw.
func WithClientSource(fn func(*http.Request) string) Option {
	return func(s *Service) { s.source = fn }
}

type limits struct {
	source, org *ratelimit.Buckets
}

func newLimits(source, org RateLimit) *limits {
	return &limits{
		source: ratelimit.NewBuckets(max(source.Burst, 1), max(source.Every, time.Nanosecond), maxLimitKeys),
		org:    ratelimit.NewBuckets(max(org.Burst, 1), max(org.Every, time.Nanosecond), maxLimitKeys),
	}
}

// take takes a token for the request from its address's and its org's
// budgets, or answers 503 and reports false. release gives both back.
func (l *limits) take(w http.ResponseWriter, source string, org storage.OrgID, now time.Time) (release func(), ok bool) {
	okSource, retry := l.source.Take(source, now)
	if !okSource {
		tooMany(w, retry)
		return nil, false
	}
	okOrg, retry := l.org.Take(string(org), now)
	if !okOrg {
		l.source.Refund(source, now)
		tooMany(w, retry)
		return nil, false
	}
	return func() {
		l.source.Refund(source, now)
		l.org.Refund(string(org), now)
	}, true
}

func tooMany(w http.ResponseWriter, retry time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(retry.Seconds()))))
	http.Error(w, "too many refused certificate requests; try again later", http.StatusServiceUnavailable)
}

func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
