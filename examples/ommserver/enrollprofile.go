package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/openomm/omm"
	"github.com/openomm/omm/policy"
)

// enrollProfileUsage is the subcommand's help, also quoted in the README.
const enrollProfileUsage = `usage: ommserver enroll-profile -site NAME -user USERNAME [-platform ios|macos] [-os-version V] [server flags] > profile.mobileconfig

Writes a signed direct enrollment profile (SCEP + MDM payloads) for the user
to standard output, for a Mac or a device simulator. The user's mobile policy
must require enrollment of that platform. Server flags (-data, -postgres,
-public-url …) select the same data the running server uses.`

// runEnrollProfile implements the enroll-profile subcommand.
func runEnrollProfile(ctx context.Context, args []string, out, errOut io.Writer) error {
	fs := flag.NewFlagSet("enroll-profile", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.Usage = func() { fmt.Fprintln(errOut, enrollProfileUsage) }
	site := fs.String("site", "", "site name of the org, e.g. demo")
	user := fs.String("user", "", "username")
	platform := fs.String("platform", "ios", "device platform: ios or macos (the user's policy must require its enrollment)")
	osVersion := fs.String("os-version", "18.0", "device OS version, for the policy decision")
	own, rest := splitArgs(args, "site", "user", "platform", "os-version")
	for _, a := range rest {
		if a == "-h" || a == "-help" || a == "--help" {
			fs.Usage()
			return flag.ErrHelp
		}
	}
	if err := fs.Parse(own); err != nil {
		return err
	}
	if *site == "" || *user == "" {
		fs.Usage()
		return errors.New("enroll-profile: -site and -user are required")
	}
	cfg, err := parseFlags(rest, errOut)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(errOut, &slog.HandlerOptions{Level: slog.LevelWarn}))
	now := time.Now
	if err := ensureDataDir(cfg.dataDir, log); err != nil {
		return err
	}
	s, _, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer s.Close()
	addr, err := net.ResolveTCPAddr("tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("enroll-profile: listen address %q: %w", cfg.listen, err)
	}
	push, err := setupPush(cfg, log)
	if err != nil {
		return err
	}
	srv, err := newServer(ctx, s, cfg, serverDeps{log: log, now: now, push: push, publicURL: cfg.resolvePublicURL(addr), appleOnly: true})
	if err != nil {
		return err
	}

	org, err := s.OrgByName(ctx, *site)
	if err != nil {
		return fmt.Errorf("enroll-profile: site %q: %w", *site, err)
	}
	u, err := s.UserByName(ctx, org.ID, *user)
	if err != nil {
		return fmt.Errorf("enroll-profile: user %q of %s: %w", *user, org.Name, err)
	}
	dec, err := srv.sdk.Decide(ctx, org.ID, u.ID, omm.Facts{Platform: *platform, OSVersion: *osVersion})
	if err != nil {
		return fmt.Errorf("enroll-profile: %w", err)
	}
	if dec.Outcome != policy.Enroll {
		return fmt.Errorf("enroll-profile: %s on %s is %s: %s", *user, *platform, dec.Outcome, strings.Join(dec.Reasons, "; "))
	}
	profile, err := srv.sdk.OTA.IssueDirectProfile(ctx, org.ID, u.ID, dec)
	if err != nil {
		return err
	}
	_, err = out.Write(profile)
	return err
}

// splitArgs separates the flags named in own (as -name value or
// -name=value) from the rest, keeping the order of each.
func splitArgs(args []string, own ...string) (mine, rest []string) {
	is := func(a string) (bool, bool) {
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		for _, o := range own {
			if strings.HasPrefix(a, "-") && name == o {
				return true, hasValue
			}
		}
		return false, false
	}
	for i := 0; i < len(args); i++ {
		if ok, inline := is(args[i]); ok {
			mine = append(mine, args[i])
			if !inline && i+1 < len(args) {
				i++
				mine = append(mine, args[i])
			}
			continue
		}
		rest = append(rest, args[i])
	}
	return mine, rest
}
