// Command devicesim plays simulated devices against a running ommserver over
// HTTPS, to demonstrate the enrollment journey and to load-test a server.
//
// An iOS walk signs a user in through the agent API (setting or verifying the
// agent PIN), asks for eligibility, starts an enrollment and walks it: over
// the air by default (Profile Service, phase 2 signed by a stand-in Apple
// device identity, which the server accepts only with -allow-simulators,
// SCEP, phase 3, decryption of the MDM profile), or with -delivery direct
// one signed .mobileconfig. It then gets its MDM identity from the SCEP CA,
// checks in (Authenticate, TokenUpdate) and answers every queued MDM command
// with realistic results, printing each step:
//
//	devicesim ios -server https://127.0.0.1:8443 -ca omm-data/tls/dev-ca.pem \
//	    -site demo -user alice -password '...'
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
// Devices present their MDM identity as the TLS client certificate, or with
// -proof signature sign each message (Mdm-Signature header). Only
// loopback servers are accepted: this is a test tool, not a traffic
// generator for other people's hosts.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
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
  devicesim ios  -server URL -ca FILE -site SITE -user NAME -password PW [-pin PIN] [-proof tls|signature] [-serial S]
                 [-delivery ota|direct]
  devicesim load -server URL -ca FILE -site SITE -user NAME -password PW
                 [-devices N] [-concurrency C] [-duration D] [-max-requests M]
                 [-admin-token T [-refresh-rate R]]`

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
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.server, "server", "https://127.0.0.1:8443", "server base URL (loopback only)")
	fs.StringVar(&c.caFile, "ca", "omm-data/tls/dev-ca.pem", "CA certificate (PEM) the server's TLS certificate chains to")
	fs.StringVar(&c.acct.Site, "site", "demo", "organization's site name")
	fs.StringVar(&c.acct.User, "user", "alice", "user to sign in as")
	fs.StringVar(&c.acct.Password, "password", "", "the user's password")
	fs.StringVar(&c.acct.PIN, "pin", "482916", "agent PIN to set or verify when the server asks for one")
	fs.StringVar(&c.proof, "proof", "tls", `how devices prove their MDM identity: "tls" (client certificate) or "signature" (Mdm-Signature header)`)
}

// target checks the flags and returns the server connection.
func (c *commonFlags) target() (*api, error) {
	if c.acct.Password == "" {
		return nil, fmt.Errorf("%w: -password is required", errUsage)
	}
	if c.proof != "" && c.proof != "tls" && c.proof != "signature" {
		return nil, fmt.Errorf("%w: -proof must be tls or signature", errUsage)
	}
	a, err := newAPI(c.server, c.caFile)
	if err != nil {
		return nil, err
	}
	a.signed = c.proof == "signature"
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
