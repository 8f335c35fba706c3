package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/openomm/omm"
	"github.com/openomm/omm/devicetls"
)

// config is everything the server can be told, by flag or environment.
type config struct {
	dataDir   string
	listen    string
	publicURL string
	postgres  string
	pgSchema  string

	// Push: either a certificate and key (PEM) or a provider token key
	// with its key ID and team ID. Neither means push is disabled.
	apnsCert     string
	apnsKey      string
	apnsTokenKey string
	apnsKeyID    string
	apnsTeamID   string
	apnsTopic    string
	apnsEndpoint string
	apnsRoots    string

	// knoxLicenseFile holds the demo org's Samsung Knox license key;
	// without it a demo key is used, "none" refuses Knox enrollments.
	knoxLicenseFile string
	// androidAMAPI is "local" (the Android Management API fake) or "off".
	androidAMAPI string

	// allowSimulators accepts OTA phase 2 posts not signed by an Apple
	// device identity, for the device simulator.
	allowSimulators bool

	// mfaSender is how SMS and voice sign-in codes are delivered: "log"
	// (development: written to the log) or "off" (TOTP only).
	mfaSender string

	// reconcile is how often the directory is reconciled with what the
	// SDK holds (omm.SDK.Run); the first round runs at start.
	reconcile time.Duration
	// pushClaim is how long a replica's claim on devices to push lasts
	// (omm.Config.PushClaim).
	pushClaim time.Duration
	// reapplyBatch is how many devices one run of a policy
	// re-application goes through (omm.Config.ReapplyBatch).
	reapplyBatch int

	// identityValidity is how long device identities are valid (0: the
	// SDK's default, a year); renewalInterval how often the renewal job
	// runs besides the reconcile rounds (0: only with them).
	identityValidity time.Duration
	renewalInterval  time.Duration

	// webhook, when set, receives the event stream, signed with the
	// secret in webhookSecretFile (events/webhook).
	webhook           string
	webhookSecretFile string
	// secretsKey is the file of the key that seals CA keys and TOTP
	// secrets in the database (default: secrets.key in the data
	// directory). Keep it out of the database's backups.
	secretsKey string

	// maxOpenEnrollments is omm.Config.MaxOpenEnrollments: open
	// enrollment sessions and Android tokens per user (0: the SDK's
	// default; negative: no limit).
	maxOpenEnrollments int

	// trustedProxies, when set, serves plain HTTP behind a
	// TLS-terminating proxy at these addresses, which forwards the
	// devices' client certificates in clientCertHeader (omm.ProxyConfig);
	// proxies is the parsed list.
	trustedProxies   string
	clientCertHeader string
	proxies          []netip.Prefix
	// forwardedFor names clients behind the trusted proxies by
	// X-Forwarded-For (omm.ProxyConfig.ForwardedFor).
	forwardedFor bool

	// http2 serves HTTP/2 as well as HTTP/1.1 over TLS; tlsKeyExchange
	// names a devicetls.KeyExchange, read into kex.
	http2          bool
	tlsKeyExchange string
	kex            devicetls.KeyExchange
}

// The -mfa-sender choices.
const (
	mfaSenderLog = "log"
	mfaSenderOff = "off"
)

// defaultTopic is the push topic put into enrollment profiles when no push
// certificate names one. Real devices need the topic of a real certificate;
// simulators accept anything.
const defaultTopic = "com.apple.mgmt.External.openomm-development"

func parseFlags(args []string, out io.Writer) (config, error) {
	fs := flag.NewFlagSet("ommserver", flag.ContinueOnError)
	fs.SetOutput(out)
	var c config
	fs.StringVar(&c.dataDir, "data", envOr("OMM_DATA", "omm-data"), "data directory: SQLite database, development CA, admin token hash")
	fs.StringVar(&c.listen, "listen", envOr("OMM_LISTEN", "127.0.0.1:8443"), "HTTPS listen address")
	fs.StringVar(&c.publicURL, "public-url", os.Getenv("OMM_PUBLIC_URL"), "https base URL devices and browsers use (default: https://<listen address>)")
	fs.StringVar(&c.postgres, "postgres", os.Getenv("OMM_POSTGRES_DSN"), "PostgreSQL DSN (default: SQLite in the data directory)")
	fs.StringVar(&c.pgSchema, "postgres-schema", os.Getenv("OMM_POSTGRES_SCHEMA"), "PostgreSQL schema for the tables (default: the DSN's search path)")
	fs.StringVar(&c.apnsCert, "apns-cert", os.Getenv("OMM_APNS_CERT"), "MDM push certificate (PEM file)")
	fs.StringVar(&c.apnsKey, "apns-key", os.Getenv("OMM_APNS_KEY"), "private key of the push certificate (PEM file)")
	fs.StringVar(&c.apnsTokenKey, "apns-token-key", os.Getenv("OMM_APNS_TOKEN_KEY"), "APNs provider token key (.p8 PEM file)")
	fs.StringVar(&c.apnsKeyID, "apns-key-id", os.Getenv("OMM_APNS_KEY_ID"), "key ID of the provider token key")
	fs.StringVar(&c.apnsTeamID, "apns-team-id", os.Getenv("OMM_APNS_TEAM_ID"), "team ID owning the provider token key")
	fs.StringVar(&c.apnsTopic, "apns-topic", os.Getenv("OMM_APNS_TOPIC"), "push topic (default: the push certificate's UID)")
	fs.StringVar(&c.apnsEndpoint, "apns-endpoint", os.Getenv("OMM_APNS_ENDPOINT"), "APNs base URL (default: Apple production; a local fake for tests)")
	fs.StringVar(&c.apnsRoots, "apns-roots", os.Getenv("OMM_APNS_ROOTS"), "PEM file of roots the APNs endpoint's certificate must chain to (default: system roots)")
	fs.StringVar(&c.knoxLicenseFile, "knox-license-file", os.Getenv("OMM_KNOX_LICENSE_FILE"), "file holding the demo org's Samsung Knox license key (default: a demo key for simulated devices; \"none\": Knox enrollment refused)")
	fs.StringVar(&c.webhook, "webhook", os.Getenv("OMM_WEBHOOK"), "URL that receives the event stream as signed JSON batches (https; http only to a loopback address)")
	fs.StringVar(&c.webhookSecretFile, "webhook-secret-file", os.Getenv("OMM_WEBHOOK_SECRET_FILE"), "file holding the webhook's HMAC secret (at least 16 bytes; required with -webhook)")
	fs.DurationVar(&c.pushClaim, "push-claim", 0, "how long a replica's claim on devices to push lasts before another replica may push them (0: the SDK's default)")
	fs.IntVar(&c.reapplyBatch, "reapply-batch", 0, "how many devices one run of a policy re-application goes through; the change's request answers after the first batch and the rest follow a batch at a time in the background (0: the SDK's default, 10,000)")
	fs.DurationVar(&c.reconcile, "reconcile", omm.DefaultReconcileInterval, "how often users who left the directory are found and their devices deprovisioned; the first round runs at start")
	fs.DurationVar(&c.identityValidity, "identity-validity", 0, "how long device identities are valid (default a year); they are renewed in the last third, at most 30 days before expiry (short values are for tests)")
	fs.DurationVar(&c.renewalInterval, "renewal-interval", 0, "how often device identities due for renewal are looked for, besides each reconcile round (0: only then)")
	fs.StringVar(&c.androidAMAPI, "android-amapi", envOr("OMM_ANDROID_AMAPI", "local"), `Android Management API for work-profile and fully managed enrollment: "local" (a local fake) or "off"`)
	fs.StringVar(&c.trustedProxies, "trusted-proxies", os.Getenv("OMM_TRUSTED_PROXIES"), "serve plain HTTP behind a TLS-terminating proxy: its addresses (comma-separated IPs or CIDRs), the only ones whose -client-cert-header is read; needs -public-url (the proxy's)")
	fs.StringVar(&c.clientCertHeader, "client-cert-header", envOr("OMM_CLIENT_CERT_HEADER", "X-Client-Cert"), "header in which the proxy forwards the client certificate (percent-escaped PEM as nginx's $ssl_client_escaped_cert, PEM, or base64 DER)")
	fs.BoolVar(&c.forwardedFor, "forwarded-for", os.Getenv("OMM_FORWARDED_FOR") == "1", "behind -trusted-proxies: name each client by the rightmost X-Forwarded-For hop that is not a trusted proxy, for the per-address throttles and audit entries (the proxy must append the address it received the connection from; the header is never read from other peers)")
	fs.BoolVar(&c.http2, "http2", os.Getenv("OMM_HTTP2") == "1", "serve HTTP/2 as well as HTTP/1.1 over TLS (phones reconnect on every wake, and an HTTP/2 connection costs more to set up)")
	fs.StringVar(&c.tlsKeyExchange, "tls-key-exchange", envOr("OMM_TLS_KEY_EXCHANGE", devicetls.Hybrid.String()), `TLS 1.3 key exchange: "hybrid" (post-quantum X25519MLKEM768 on full handshakes when the client offers it; X25519 on resuming a session that began with it, which keeps the hybrid's protection), "hybrid-every-handshake" (X25519MLKEM768 on every handshake, as Go's default) or "classical" (X25519 and P-256 only: no protection of recorded traffic against a future quantum computer)`)
	fs.StringVar(&c.mfaSender, "mfa-sender", envOr("OMM_MFA_SENDER", mfaSenderLog), `SMS and voice sign-in codes: "log" (development: written to this server's log, not sent) or "off" (authenticator apps only)`)
	fs.BoolVar(&c.allowSimulators, "allow-simulators", os.Getenv("OMM_ALLOW_SIMULATORS") == "1", "accept OTA enrollment from simulated devices (never in production)")
	fs.StringVar(&c.secretsKey, "secrets-key", os.Getenv("OMM_SECRETS_KEY"), "file of the key that seals CA keys and TOTP secrets in the database, created 0600 if missing (default: secrets.key in the data directory)")
	fs.IntVar(&c.maxOpenEnrollments, "max-open-enrollments", envInt("OMM_MAX_OPEN_ENROLLMENTS"),
		"open enrollment sessions and Android enrollment tokens one user may hold at once (0: the SDK's default, 10; -1: no limit, for load and crash tests)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if err := c.validate(); err != nil {
		return c, err
	}
	c.kex, _ = devicetls.ParseKeyExchange(c.tlsKeyExchange) // checked by validate
	var err error
	c.proxies, err = parseProxies(c.trustedProxies)
	return c, err
}

// parseProxies reads -trusted-proxies: IPs (one address) and CIDRs.
func parseProxies(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("-trusted-proxies: %q is neither an IP address nor a CIDR", f)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

func (c config) validate() error {
	hasCert := c.apnsCert != "" || c.apnsKey != ""
	hasToken := c.apnsTokenKey != "" || c.apnsKeyID != "" || c.apnsTeamID != ""
	switch {
	case hasCert && hasToken:
		return errors.New("give either -apns-cert/-apns-key or -apns-token-key/-apns-key-id/-apns-team-id, not both")
	case hasCert && (c.apnsCert == "" || c.apnsKey == ""):
		return errors.New("-apns-cert and -apns-key go together")
	case hasToken && (c.apnsTokenKey == "" || c.apnsKeyID == "" || c.apnsTeamID == "" || c.apnsTopic == ""):
		return errors.New("a provider token needs -apns-token-key, -apns-key-id, -apns-team-id and -apns-topic")
	}
	if c.trustedProxies != "" && c.publicURL == "" {
		return errors.New("-trusted-proxies needs -public-url: the proxy's https URL, which devices and browsers use")
	}
	if c.forwardedFor && c.trustedProxies == "" {
		return errors.New("-forwarded-for needs -trusted-proxies: the header is read only from them")
	}
	if _, err := devicetls.ParseKeyExchange(c.tlsKeyExchange); err != nil {
		return fmt.Errorf("-tls-key-exchange: %w", err)
	}
	if c.trustedProxies != "" && !validHeaderName(c.clientCertHeader) {
		return fmt.Errorf("-client-cert-header %q is not a header name", c.clientCertHeader)
	}
	if c.reapplyBatch < 0 {
		return errors.New("-reapply-batch must not be negative")
	}
	if c.identityValidity != 0 && c.identityValidity < 3*time.Second || c.renewalInterval < 0 {
		return errors.New("-identity-validity must be at least 3s, -renewal-interval not negative")
	}
	if c.mfaSender != mfaSenderLog && c.mfaSender != mfaSenderOff {
		return fmt.Errorf("-mfa-sender %q: want %s or %s", c.mfaSender, mfaSenderLog, mfaSenderOff)
	}
	if c.publicURL != "" {
		u, err := url.Parse(c.publicURL)
		if err != nil || u.Scheme != "https" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return fmt.Errorf("-public-url %q must be an https URL without path, such as https://mdm.example.com", c.publicURL)
		}
	}
	return nil
}

// resolvePublicURL returns the base URL to announce, derived from the
// listening address unless configured.
func (c config) resolvePublicURL(addr net.Addr) string {
	if c.publicURL != "" {
		return strings.TrimSuffix(c.publicURL, "/")
	}
	return "https://" + addr.String()
}

// hosts returns the host names the server certificate must cover.
func (c config) hosts() []string {
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	if h, _, err := net.SplitHostPort(c.listen); err == nil && h != "" && h != "0.0.0.0" && h != "::" {
		hosts = append(hosts, h)
	}
	if u, err := url.Parse(c.publicURL); err == nil && u.Hostname() != "" {
		hosts = append(hosts, u.Hostname())
	}
	return hosts
}

// validHeaderName reports whether h is a plain header name (letters,
// digits and dashes).
func validHeaderName(h string) bool {
	if h == "" {
		return false
	}
	for _, r := range h {
		if !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// envInt reads an integer environment variable; unset or malformed is 0.
func envInt(name string) int {
	n, _ := strconv.Atoi(os.Getenv(name))
	return n
}
