package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/openomm/omm/enroll/ota/otatest"
)

// walkConfig is an iOS walk's settings.
type walkConfig struct {
	commonFlags
	serial   string
	delivery string // "ota" or "direct"
}

func parseWalk(args []string, out io.Writer) (walkConfig, error) {
	var c walkConfig
	fs := newFlagSet("ios", out)
	c.register(fs)
	fs.StringVar(&c.serial, "serial", "", "serial number of the simulated iPhone (random when empty)")
	fs.StringVar(&c.delivery, "delivery", "ota", `"ota" (profile service, phases 1–3; the server needs -allow-simulators) or "direct" (one .mobileconfig)`)
	if err := parseFlags(fs, args); err != nil {
		return c, err
	}
	if c.delivery != "ota" && c.delivery != "direct" {
		return c, fmt.Errorf("%w: -delivery must be ota or direct", errUsage)
	}
	return c, nil
}

// walkResult is what the walk did, for callers that check it.
type walkResult struct {
	Device   spec
	Decision decision
	Commands []string // request types answered, in order
}

// walkIOS plays one iPhone through the whole journey, logging each step to
// out.
func walkIOS(ctx context.Context, c walkConfig, out io.Writer) (walkResult, error) {
	step := 0
	logf := func(format string, args ...any) {
		step++
		fmt.Fprintf(out, "%2d. %s\n", step, fmt.Sprintf(format, args...))
	}
	var res walkResult
	a, err := c.target()
	if err != nil {
		return res, err
	}
	s := newSpec(c.serial)
	res.Device = s
	logf("simulated %s (%s, iOS %s), UDID %s, serial %s", s.Model, s.Product, s.OSVersion, s.UDID, s.Serial)

	token, err := a.signIn(ctx, c.acct, logf)
	if err != nil {
		return res, err
	}
	f := facts{Platform: "ios", OSVersion: s.OSVersion, Model: s.Product, Ownership: "personal"}
	elig, err := a.eligibility(ctx, token, f)
	if err != nil {
		return res, fmt.Errorf("eligibility: %w", err)
	}
	logf("eligibility: %s under policy %q%s", elig.Outcome, elig.PolicyName, reasons(elig.Reasons))
	dec, err := a.startEnrollment(ctx, token, f, c.delivery)
	if err != nil {
		return res, err
	}
	res.Decision = dec
	logf("enrollment started (%s delivery): %s", c.delivery, redactToken(dec.EnrollURL))

	var d *device
	if c.delivery == "ota" {
		chain, err := otatest.NewChain()
		if err != nil {
			return res, err
		}
		d, err = enrollOTA(ctx, a, chain, dec.EnrollURL, s, logf)
		if err != nil {
			return res, err
		}
	} else if d, err = enrollDirect(ctx, a, dec.EnrollURL, s, logf); err != nil {
		return res, err
	}
	st, err := d.poll(ctx, 0, logf, nil)
	res.Commands = st.Commands
	if err != nil {
		return res, err
	}
	logf("no more commands: %s is enrolled and its inventory reported (%d commands answered)", s.Serial, len(res.Commands))
	return res, nil
}

func reasons(r []string) string {
	if len(r) == 0 {
		return ""
	}
	return " (" + strings.Join(r, "; ") + ")"
}

// redactToken hides the one-time token of an enrollment URL in the log.
func redactToken(u string) string {
	if i := strings.Index(u, "token="); i >= 0 {
		return u[:i] + "token=…"
	}
	return u
}
