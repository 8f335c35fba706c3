// Command devicesim plays simulated devices against a running server that
// embeds the SDK (examples/ommserver, examples/embed) over HTTPS, to
// demonstrate the enrollment journey and to load-test a server.
//
// An iOS walk signs a user in through the agent API (setting or verifying the
// agent PIN), asks for eligibility, starts an enrollment and walks it: over
// the air by default (Profile Service, phase 2 signed by a stand-in Apple
// device identity, which the server accepts only with -allow-simulators,
// SCEP, phase 3, decryption of the MDM profile), or with -delivery direct
// one signed .mobileconfig. It then gets its MDM identity from the SCEP CA,
// checks in (Authenticate, TokenUpdate) and answers every queued MDM command
// with realistic results. MFA is done with an authenticator app: the
// user's (-totp-secret), or one enrolled through the agent API. The walk
// then checks the signed policy profile (passcode, data separation), that
// the store shows an app installed before enrollment (-store-app) as
// unmanaged, installs an app from the store, and deprovisions the device,
// checking that only work data goes (and, with -admin-token, the server's
// records), printing each step:
//
//	devicesim ios -server https://127.0.0.1:8443 -ca omm-data/tls/dev-ca.pem \
//	    -site demo -user alice -password '...'
//
// A declarative walk (devicesim declarative, with -admin-token) enrolls an
// iPhone on iOS 17, on which the server turns declarative device
// management on: the phone fetches its tokens and declarations, applies
// the passcode settings and the settings profile the declarations point
// at, and reports the status items it is subscribed to (and two it was
// not, which the server must drop). The walk then changes the policy
// through the admin API (a longer passcode, an enforced OS update): the
// phone gets one DeclarativeManagement command, synchronises the changed
// declarations and reports status, and the server's compliance follows as
// its user sets a longer passcode and the update installs. iOS 17 phones
// of the other walks speak the declarative channel the same way.
//
// An Android walk plays one phone per enrollment mode after the same
// sign-in: a personal work profile and a fully managed company phone
// (through the server's local Android Management API fake), a Samsung Knox
// and a native device-admin phone on Android 9 (through the agent
// protocol), and a Samsung on Android 11 that the legacy modes must refuse.
// Each enrolled phone applies its policy, reports status with fields the
// privacy filter must drop, lists its store and leaves: work data removed
// or factory reset where ownership and policy allow, with pending and done
// states checked through the admin API when -admin-token is given:
//
//	devicesim android -server https://127.0.0.1:8443 -ca omm-data/tls/dev-ca.pem \
//	    -site demo -user alice -password '...' -admin-token omm_admin_...
//
// The leave walk is a user leaving the organization, against
// examples/ommserver: it enrolls an iPhone, a Samsung Knox phone and a
// work-profile phone for the user, obtains one enrollment credential of
// each kind without using it (an iOS enrollment link, a SCEP identity, an
// OTA identity before phase 3, an Android enrollment code and token), has
// the admin console deactivate the user, and shows every credential and
// the user's session refused and every device deprovisioned:
//
//	devicesim leave -server https://127.0.0.1:8443 -ca omm-data/tls/dev-ca.pem \
//	    -site demo -user bob -password '...' -admin-token omm_admin_...
//
// The renew walk enrolls an iPhone and keeps it checking in while the
// server renews its MDM identity (-renewals times; run the server with a
// short -identity-validity and -renewal-interval): each time the phone
// takes its MDM enrollment profile again, checks that it keeps the server,
// check-in URL and topic, enrolls the new identity over SCEP, switches to
// it and authenticates with it, and stays the same device on the server.
// At the end it shows its first identity refused after its expiry:
//
//	devicesim renew -server https://127.0.0.1:8443 -ca omm-data/tls/dev-ca.pem \
//	    -site demo -user alice -password '...' -renewals 2 -admin-token omm_admin_...
//
// Load mode enrolls N simulated devices and then keeps them checking in (idle
// polls and command round trips) with bounded concurrency until the duration
// or the request budget ends, printing a progress line every second and a
// summary with throughput, latency percentiles and errors. With
// -admin-token it also queues inventory refreshes through the admin API
// (-refresh-rate per second, round robin), so that devices keep receiving
// commands after their enrollment queue is drained:
//
//	devicesim load -server https://127.0.0.1:8443 -ca omm-data/tls/dev-ca.pem \
//	    -site demo -user alice -password '...' -devices 200 -concurrency 20 -duration 10s
//
// For benchmarks (scripts/bench), -pregen-keys makes the device keys before
// the enrollment clock starts, -drain answers every queued command in a
// measured phase, -ceiling drives a plain HTTPS handler returning a fixed
// plist the same way as the check-ins (their ceiling on this machine),
// -sign-rate measures the raw signature rate of a key like the org CA's
// (the ceiling for enrollments; -ca-ops says how many CA operations an
// enrollment costs an older server), -server-pid reads the server's CPU
// time per phase (the simulator's own is read too) and -json writes the
// results. -conn says how devices connect: "new" (the default) opens a new
// TCP and TLS connection for each wake (a poll and the command round trips
// it leads to) and closes it afterwards, with a full TLS handshake, as a
// phone woken by a push does; "resume" does the same resuming the
// device's TLS session; "keepalive" keeps each device's connection open
// between wakes. The summary counts each phase's handshakes. With
// -forward-cert HEADER the simulator plays the TLS-terminating proxy of a
// server serving plain HTTP (ommserver -trusted-proxies 127.0.0.1
// -public-url set to the -server URL): it speaks plain HTTP to that host
// and port and sends each device's certificate in HEADER.
//
// -server is the base URL the SDK is served under, with its path prefix
// when the host mounts it below the root (https://127.0.0.1:8443/device-mgmt);
// the agent API, the admin API (-admin-token: {server}/api/admin) and the
// SCEP CA are called below it, and every URL the server hands out
// (enrollment, SCEP, check-in) must stay below it. A host product that
// signs its users in itself passes the agent session it issued with
// -agent-token instead of -site/-user/-password. The walks check the
// policy's effects (the passcode payload, data separation, the Android
// password and cross-profile policies) against the requirements the
// server's enrollment decision states, not against any fixed values.
//
// Devices present their MDM identity as the TLS client certificate, or with
// -proof signature sign each message (Mdm-Signature header). Only
// loopback servers are accepted: this is a test tool, not a traffic
// generator for other people's hosts.
package main

import (
	"context"
	"encoding/base32"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "devicesim:", err)
		os.Exit(1)
	}
}

const usage = `usage:
  devicesim ios  -server URL[/PREFIX] -ca FILE (-site SITE -user NAME -password PW [-pin PIN] | -agent-token T)
                 [-proof tls|signature] [-serial S] [-delivery ota|direct] [-totp-secret BASE32] [-store-app ID] [-admin-token T]
                 [-keep-enrolled]
  devicesim android -server URL[/PREFIX] -ca FILE (-site SITE -user NAME -password PW [-pin PIN] | -agent-token T)
                 [-totp-secret BASE32] [-admin-token T] [-modes work_profile,fully_managed,knox,device_admin,legacy_api30]
  devicesim declarative -server URL[/PREFIX] -ca FILE (-site SITE -user NAME -password PW [-pin PIN] | -agent-token T)
                 -admin-token T [-serial S]
  devicesim renew -server URL[/PREFIX] -ca FILE (-site SITE -user NAME -password PW [-pin PIN] | -agent-token T)
                 [-delivery direct|ota] [-renewals N] [-every D] [-timeout D] [-admin-token T] [-serial S]
  devicesim leave -server URL -ca FILE -site SITE -user NAME -password PW [-pin PIN] -admin-token T
  devicesim load -server URL[/PREFIX] -ca FILE (-site SITE -user NAME -password PW | -agent-token T)
                 [-devices N] [-concurrency C] [-duration D] [-max-requests M]
                 [-admin-token T [-refresh-rate R]]
                 [-pregen-keys] [-drain] [-ceiling] [-sign-rate D [-ca-ops N]] [-server-pid P]
                 [-conn new|resume|keepalive] [-forward-cert HEADER] [-db-pids CMD] [-json FILE]
  devicesim floor [-duration D] [-json FILE]`

// errUsage reports a command line devicesim cannot run.
var errUsage = errors.New("bad usage")

// run parses the subcommand and its flags and runs it, writing its log to out.
func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: no subcommand\n%s", errUsage, usage)
	}
	switch args[0] {
	case "ios":
		cfg, err := parseWalk(args[1:], out)
		if err != nil {
			return err
		}
		_, err = walkIOS(ctx, cfg, out)
		return err
	case "declarative":
		cfg, err := parseDeclarativeWalk(args[1:], out)
		if err != nil {
			return err
		}
		_, err = walkDeclarative(ctx, cfg, out)
		return err
	case "android":
		cfg, err := parseAndroid(args[1:], out)
		if err != nil {
			return err
		}
		_, err = walkAndroid(ctx, cfg, out)
		return err
	case "leave":
		cfg, err := parseLeave(args[1:], out)
		if err != nil {
			return err
		}
		_, err = walkLeave(ctx, cfg, out)
		return err
	case "floor":
		fs := newFlagSet("floor", out)
		d := fs.Duration("duration", time.Second, "how long each operation is measured")
		jsonOut := fs.String("json", "", "write the results as JSON to this file")
		if err := parseFlags(fs, args[1:]); err != nil {
			return err
		}
		if *d <= 0 || *d > time.Minute {
			return fmt.Errorf("%w: -duration must be positive and at most 1m", errUsage)
		}
		_, err := runFloor(ctx, *d, *jsonOut, out)
		return err
	case "renew":
		cfg, err := parseRenew(args[1:], out)
		if err != nil {
			return err
		}
		_, err = walkRenew(ctx, cfg, out)
		return err
	case "load":
		cfg, err := parseLoad(args[1:], out)
		if err != nil {
			return err
		}
		_, err = runLoad(ctx, cfg, out)
		return err
	default:
		return fmt.Errorf("%w: unknown subcommand %q\n%s", errUsage, args[0], usage)
	}
}

// commonFlags are the flags of every subcommand.
type commonFlags struct {
	server, caFile string
	acct           account
	proof          string
	// agentToken is a session token the host product issued for the
	// agent API (its own sign-in), used instead of the SDK's sign-in.
	agentToken string
	// forwardCert plays the server's TLS-terminating proxy (conn.go).
	forwardCert string
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.server, "server", "https://127.0.0.1:8443", "server base URL (loopback only), with the path prefix the SDK is mounted under, e.g. https://127.0.0.1:8443/device-mgmt")
	fs.StringVar(&c.caFile, "ca", "omm-data/tls/dev-ca.pem", "CA certificate (PEM) the server's TLS certificate chains to")
	fs.StringVar(&c.acct.Site, "site", "demo", "organization's site name")
	fs.StringVar(&c.acct.User, "user", "alice", "user to sign in as")
	fs.StringVar(&c.acct.Password, "password", "", "the user's password")
	fs.StringVar(&c.acct.PIN, "pin", "482916", "agent PIN to set or verify when the server asks for one")
	fs.StringVar(&c.acct.TOTPSecret, "totp-secret", "", "base32 secret of the user's authenticator app, for MFA (without it, a user with no factor enrolls one)")
	fs.StringVar(&c.agentToken, "agent-token", "", "bearer token of an agent session the host product issued (its own sign-in); replaces -site, -user, -password and the SDK's sign-in")
	fs.StringVar(&c.forwardCert, "forward-cert", "", "play the TLS-terminating proxy of a server serving plain HTTP (ommserver -trusted-proxies 127.0.0.1 -public-url equal to -server): talk plain HTTP to -server's host and port, with each device's certificate in this header")
	fs.StringVar(&c.proof, "proof", "tls", `how devices prove their MDM identity: "tls" (client certificate) or "signature" (Mdm-Signature header)`)
}

// target checks the flags and returns the server connection.
func (c *commonFlags) target() (*api, error) {
	if c.acct.Password == "" && c.agentToken == "" {
		return nil, fmt.Errorf("%w: -password (or -agent-token) is required", errUsage)
	}
	if c.proof != "" && c.proof != "tls" && c.proof != "signature" {
		return nil, fmt.Errorf("%w: -proof must be tls or signature", errUsage)
	}
	a, err := newAPI(c.server, c.caFile)
	if err != nil {
		return nil, err
	}
	a.signed = c.proof == "signature"
	a.agentToken = c.agentToken
	if c.forwardCert != "" {
		a.forward = c.forwardCert
		a.client = proxyClient(c.forwardCert, nil)
	}
	return a, nil
}

func newFlagSet(name string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("devicesim "+name, flag.ContinueOnError)
	fs.SetOutput(out)
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	return nil
}

// checkTOTP refuses a -totp-secret that is not base32, before any request.
func (c *commonFlags) checkTOTP() error {
	if c.acct.TOTPSecret == "" {
		return nil
	}
	if _, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(strings.TrimRight(c.acct.TOTPSecret, "="))); err != nil {
		return fmt.Errorf("%w: -totp-secret is not base32: %w", errUsage, err)
	}
	return nil
}
