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
	"strings"
	"time"
)

// Limits on what the simulator reads from the server.
const (
	maxJSONReply  = 1 << 20
	maxOtherReply = 4 << 20
)

// errNotLoopback refuses a server that is not on this machine.
var errNotLoopback = errors.New("only loopback servers are allowed")

// errMFARequired says the user must complete multi-factor authentication,
// which the simulator does not do.
var errMFARequired = errors.New("the user must complete multi-factor authentication (MFA), which devicesim does not simulate; use a user whose policy needs no MFA")

// api talks to the server's HTTP API on behalf of the agent app and of
// devices before they have an identity.
type api struct {
	base   string // https://host:port, no trailing slash
	roots  *x509.CertPool
	client *http.Client
	now    func() time.Time // for latencies
	// signed makes devices prove their identity with an Mdm-Signature
	// header instead of the TLS client certificate.
	signed bool
	// keys, when set, holds device keys generated before a timed run.
	keys *keyPool
}

// newAPI checks that base is an https URL on a loopback address and trusts
// the CA in caFile for it.
func newAPI(base, caFile string) (*api, error) {
	u, err := checkLoopback(base)
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
	return &api{base: u.Scheme + "://" + u.Host, roots: roots, client: newClient(roots, nil), now: time.Now}, nil
}

// checkLoopback parses an https URL whose host must be localhost or a
// loopback IP.
func checkLoopback(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: server URL: %w", errUsage, err)
	}
	if u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("%w: server URL %q: want https://host:port", errUsage, raw)
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
}

// session is the agent API's view of a sign-in.
type session struct {
	Token string `json:"token"`
	State string `json:"state"`
	Next  string `json:"next"`
}

// signIn signs acct in and completes the PIN steps the server asks for,
// returning the session token. MFA is not simulated: it yields
// errMFARequired.
func (a *api) signIn(ctx context.Context, acct account, logf logFunc) (string, error) {
	var s session
	if err := a.call(ctx, "POST", "/api/agent/auth/signin", "",
		map[string]string{"site": acct.Site, "username": acct.User, "password": acct.Password}, &s); err != nil {
		return "", fmt.Errorf("sign-in: %w", err)
	}
	token := s.Token
	logf("signed in as %s at site %s (next: %s)", acct.User, acct.Site, s.Next)
	for range 3 { // at most: set the PIN, verify it, done
		var err error
		switch s.Next {
		case "none":
			return token, nil
		case "mfa_required":
			return "", errMFARequired
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
	EnrollURL  string   `json:"enroll_url"`
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

func nop(string, ...any) {}
