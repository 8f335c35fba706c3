package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/openomm/omm/policy"
)

// Limits on what the simulator reads from the server.
const (
	maxJSONReply  = 1 << 20
	maxOtherReply = 4 << 20
)

// errNotLoopback refuses a server that is not on this machine.
var errNotLoopback = errors.New("only loopback servers are allowed")

// errMFARequired says the user must complete multi-factor authentication
// with a factor the simulator cannot use.
var errMFARequired = errors.New("the user must complete multi-factor authentication (MFA)")

// api talks to the server's HTTP API on behalf of the agent app and of
// devices before they have an identity.
type api struct {
	// base is the server's base URL, with the path prefix the SDK is
	// mounted under ("https://127.0.0.1:8443/device-mgmt"), no trailing
	// slash: every path devicesim calls is below it, and every URL the
	// server hands out must be.
	base   string
	roots  *x509.CertPool
	client *http.Client
	now    func() time.Time // for latencies
	// signed makes devices prove their identity with an Mdm-Signature
	// header instead of the TLS client certificate.
	signed bool
	// agentToken, when set, is a session the host product issued: the
	// agent API is called with it instead of signing in through the SDK.
	agentToken string
	// forward, when set, plays the TLS-terminating proxy of a server
	// serving plain HTTP: devices' certificates go in this header
	// (-forward-cert, conn.go).
	forward string
	// resume makes devices keep their TLS sessions and resume them on
	// their next connection (load -conn resume).
	resume bool
	// keys, when set, holds device keys generated before a timed run.
	keys *keyPool
	// totpCode computes an authenticator code; nil means totpAt. Tests
	// replace it to type a wrong code.
	totpCode func(secret string, at time.Time) (string, error)
}

// newAPI checks that base is an https URL on a loopback address (with
// the path prefix the server mounts the SDK under, if any) and trusts the
// CA in caFile for it.
func newAPI(server, caFile string) (*api, error) {
	u, err := checkLoopback(server)
	if err != nil {
		return nil, err
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA certificate: no PEM certificate in %s", caFile)
	}
	return &api{base: u.Scheme + "://" + u.Host + strings.TrimSuffix(u.EscapedPath(), "/"), roots: roots, client: newClient(roots, nil), now: time.Now}, nil
}

// checkLoopback parses an https URL whose host must be localhost or a
// loopback IP.
func checkLoopback(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: server URL: %w", errUsage, err)
	}
	if u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("%w: server URL %q: want https://host:port[/prefix]", errUsage, raw)
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("%w: %s", errNotLoopback, host)
	}
	return u, nil
}

// newClient returns a client trusting roots, presenting cert when not nil,
// that follows no redirects (a device would not either).
func newClient(roots *x509.CertPool, cert *tls.Certificate) *http.Client {
	cfg := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: cfg, MaxIdleConnsPerHost: 4, ForceAttemptHTTP2: true},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// statusError is an answer with an unexpected HTTP status.
type statusError struct {
	Method, URL string
	Status      int
	Body        string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s %s: status %d: %s", e.Method, e.URL, e.Status, e.Body)
}

// do sends a request and returns the body of a 2xx answer, else a
// *statusError. Relative URLs are resolved against the base; absolute ones
// must stay on the same server.
func do(ctx context.Context, c *http.Client, base, method, target, contentType, bearer string, body []byte, limit int64) ([]byte, error) {
	var hdr http.Header
	if bearer != "" {
		hdr = http.Header{"Authorization": {"Bearer " + bearer}}
	}
	return doHeader(ctx, c, base, method, target, contentType, hdr, body, limit)
}

// doHeader is do with arbitrary request headers.
func doHeader(ctx context.Context, c *http.Client, base, method, target, contentType string, hdr http.Header, body []byte, limit int64) ([]byte, error) {
	if strings.HasPrefix(target, "/") {
		target = base + target
	} else if !strings.HasPrefix(target, base+"/") {
		return nil, fmt.Errorf("%w: the server sent a URL on another host: %s", errNotLoopback, target)
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, target, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s %s: answer larger than %d bytes", method, target, limit)
	}
	if resp.StatusCode/100 != 2 {
		return nil, &statusError{Method: method, URL: target, Status: resp.StatusCode, Body: strings.TrimSpace(string(data))}
	}
	return data, nil
}

// call sends a JSON request (in may be nil) and decodes the JSON answer into
// out (which may be nil).
func (a *api) call(ctx context.Context, method, path, bearer string, in, out any) error {
	var body []byte
	ct := ""
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
		ct = "application/json"
	}
	data, err := do(ctx, a.client, a.base, method, path, ct, bearer, body, maxJSONReply)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decoding the answer: %w", method, path, err)
	}
	return nil
}

// account is who the agent app signs in as.
type account struct {
	Site, User, Password, PIN string
	// TOTPSecret (base32) is the user's authenticator app, when the user
	// has one already. Without it, a user with no factor enrolls one.
	TOTPSecret string
}

// session is the agent API's view of a sign-in.
type session struct {
	Token   string   `json:"token"`
	State   string   `json:"state"`
	Next    string   `json:"next"`
	Methods []string `json:"methods"`
}

// signIn is signInAccount for callers that keep no enrolled secret.
func (a *api) signIn(ctx context.Context, acct account, logf logFunc) (string, error) {
	return a.signInAccount(ctx, &acct, logf)
}

// signInAccount signs acct in and completes the MFA and PIN steps the server asks
// for, returning the session token. MFA is done with an authenticator app
// (TOTP): acct.TOTPSecret's, or one enrolled now when the server offers
// that to a user without any factor; its secret is then stored in
// acct.TOTPSecret. Other factors (SMS, voice) yield errMFARequired.
//
// With a host-issued agent token (-agent-token) there is nothing to sign
// in: the host's own sign-in made the session, and its token is used.
func (a *api) signInAccount(ctx context.Context, acct *account, logf logFunc) (string, error) {
	if a.agentToken != "" {
		logf("using the agent session the host product issued (-agent-token), not the SDK's sign-in")
		return a.agentToken, nil
	}
	var s session
	if err := a.call(ctx, "POST", "/api/agent/auth/signin", "",
		map[string]string{"site": acct.Site, "username": acct.User, "password": acct.Password}, &s); err != nil {
		return "", fmt.Errorf("sign-in: %w", err)
	}
	token := s.Token
	logf("signed in as %s at site %s (next: %s)", acct.User, acct.Site, s.Next)
	for range 4 { // at most: MFA, set the PIN, verify it, done
		if s.Token != "" {
			// Each step (MFA, the PIN) hands out a new token and ends the
			// one that reached it.
			token = s.Token
		}
		var err error
		switch s.Next {
		case "none":
			return token, nil
		case "mfa_required":
			s, err = a.mfa(ctx, token, s.Methods, acct, logf)
			if err != nil {
				return "", err
			}
			continue
		case "pin_setup_required", "pin_expired":
			err = a.call(ctx, "POST", "/api/agent/auth/pin", token, map[string]string{"pin": acct.PIN, "confirm": acct.PIN}, &s)
			logf("agent PIN set")
		case "pin_required":
			err = a.call(ctx, "POST", "/api/agent/auth/pin/verify", token, map[string]string{"pin": acct.PIN}, &s)
			logf("agent PIN verified")
		default:
			return "", fmt.Errorf("sign-in: the server asks for %q, which devicesim does not know", s.Next)
		}
		if err != nil {
			return "", fmt.Errorf("agent PIN: %w", err)
		}
	}
	return "", fmt.Errorf("sign-in: session still needs %q", s.Next)
}

// totpPeriod is the authenticator's time step (RFC 6238's default, which
// the server uses).
const totpPeriod = 30 * time.Second

// totpAt is the six-digit SHA-1 code of secret at time at.
func totpAt(secret string, at time.Time) (string, error) {
	return totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: uint(totpPeriod / time.Second),
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
}

// mfa completes MFA with an authenticator app: the user's own, or one
// enrolled now when the server offers enrollment ("totp_enroll").
func (a *api) mfa(ctx context.Context, token string, methods []string, acct *account, logf logFunc) (session, error) {
	switch {
	case acct.TOTPSecret != "" && slices.Contains(methods, "totp"):
		return a.totp(ctx, token, "/api/agent/auth/mfa/verify", map[string]string{"method": "totp"}, acct.TOTPSecret, logf)
	case slices.Contains(methods, "totp_enroll"):
		var e struct {
			Secret string `json:"secret"`
			URI    string `json:"uri"`
		}
		if err := a.call(ctx, "POST", "/api/agent/auth/mfa/totp/enroll", token, nil, &e); err != nil {
			return session{}, fmt.Errorf("MFA: enrolling an authenticator: %w", err)
		}
		acct.TOTPSecret = e.Secret
		// Shown once, as the server's enrollment page shows its QR code:
		// the next sign-in needs it (-totp-secret).
		logf("MFA: authenticator app enrolled, secret %s (pass -totp-secret to sign in again)", e.Secret)
		return a.totp(ctx, token, "/api/agent/auth/mfa/totp/confirm", nil, e.Secret, logf)
	case slices.Contains(methods, "totp"):
		return session{}, fmt.Errorf("%w: %s has an authenticator app; pass its secret with -totp-secret", errMFARequired, acct.User)
	default:
		return session{}, fmt.Errorf("%w with %v, which devicesim does not simulate; give the user an authenticator app", errMFARequired, methods)
	}
}

// totp sends authenticator codes to path until one is accepted, as a user
// would: a code the server refuses (mistyped, or already used in this
// time step by an earlier sign-in) is followed by the next step's code,
// which the server accepts for clock drift, and if that fails too, by a
// fresh code once the next time step has begun.
func (a *api) totp(ctx context.Context, token, path string, body map[string]string, secret string, logf logFunc) (session, error) {
	code := a.totpCode
	if code == nil {
		code = totpAt
	}
	in := map[string]string{}
	for k, v := range body {
		in[k] = v
	}
	var err error
	for attempt := range 3 {
		now := a.now()
		at := now
		switch attempt {
		case 1:
			at = now.Add(totpPeriod)
		case 2:
			wait := now.Truncate(totpPeriod).Add(totpPeriod).Sub(now)
			logf("MFA: waiting %s for the authenticator's next code", wait.Round(time.Second))
			select {
			case <-ctx.Done():
				return session{}, ctx.Err()
			case <-time.After(wait):
			}
			at = a.now().Add(totpPeriod)
		}
		if in["code"], err = code(secret, at); err != nil {
			return session{}, fmt.Errorf("MFA: authenticator code: %w", err)
		}
		var s session
		err = a.call(ctx, "POST", path, token, in, &s)
		var se *statusError
		if err == nil {
			logf("MFA: authenticator code accepted (next: %s)", s.Next)
			return s, nil
		}
		if !errors.As(err, &se) || !strings.Contains(se.Body, `"invalid_code"`) {
			break
		}
		logf("MFA: code refused (invalid_code), trying again")
	}
	return session{}, fmt.Errorf("MFA: %w", err)
}

// facts are the device facts the agent app reports.
type facts struct {
	Platform  string `json:"platform"`
	OSVersion string `json:"os_version"`
	Model     string `json:"model,omitempty"`
	Ownership string `json:"ownership,omitempty"`
	Delivery  string `json:"delivery,omitempty"`
}

// decision is the server's policy decision (and enrollment URL).
type decision struct {
	Outcome    string   `json:"outcome"`
	PolicyName string   `json:"policy_name"`
	Reasons    []string `json:"reasons"`
	Warnings   []string `json:"warnings"`
	// Requirements are what the policy requires of the device: the walks
	// check the settings the device receives against them.
	Requirements *policy.Requirements `json:"requirements"`
	EnrollURL    string               `json:"enroll_url"`
}

func (a *api) eligibility(ctx context.Context, token string, f facts) (decision, error) {
	var d decision
	err := a.call(ctx, "POST", "/api/agent/eligibility", token, f, &d)
	return d, err
}

// startEnrollment asks for an enrollment with the delivery given: "ota"
// (the Profile Service) or "direct" (one signed .mobileconfig).
func (a *api) startEnrollment(ctx context.Context, token string, f facts, delivery string) (decision, error) {
	f.Delivery = delivery
	var d decision
	if err := a.call(ctx, "POST", "/api/agent/enroll", token, f, &d); err != nil {
		return d, fmt.Errorf("start enrollment: %w", err)
	}
	if d.EnrollURL == "" {
		return d, fmt.Errorf("start enrollment: outcome %q without an enrollment URL (%s)", d.Outcome, strings.Join(d.Reasons, "; "))
	}
	return d, nil
}

// logFunc prints one step; nop discards.
type logFunc func(format string, args ...any)

// stepLog returns a logFunc that numbers a walk's steps on out.
func stepLog(out io.Writer) logFunc {
	step := 0
	return func(format string, args ...any) {
		step++
		fmt.Fprintf(out, "%2d. %s\n", step, fmt.Sprintf(format, args...))
	}
}

func nop(string, ...any) {}
