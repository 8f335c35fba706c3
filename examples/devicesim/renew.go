package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/openomm/omm/enroll/ota/otatest"
)

// renewalDone is one renewal of the device's MDM identity.
type renewalDone struct {
	Old, New *x509.Certificate
}

// renew enrolls the identity of the MDM enrollment profile the server
// installed again (its renewal): the profile must keep the server, check-in
// URL and topic; the device gets its new identity from the SCEP payload,
// switches to it, and authenticates with it (Authenticate, TokenUpdate) as
// an iPhone does after its MDM profile is replaced.
func (d *device) renew(ctx context.Context, logf logFunc) error {
	p := d.renewal
	d.renewal = nil
	scepP, mdmP := payloads(p)
	if scepP == nil || mdmP == nil {
		return fmt.Errorf("renewal profile %s lacks a SCEP or MDM payload", p.Identifier)
	}
	checkIn := mdmP.CheckInURL
	if checkIn == "" {
		checkIn = mdmP.ServerURL
	}
	if mdmP.ServerURL != d.serverURL || checkIn != d.checkInURL || mdmP.Topic != d.topic {
		return fmt.Errorf("the renewal profile moves the device: server %s, check-in %s, topic %s", mdmP.ServerURL, checkIn, mdmP.Topic)
	}
	identity, key, err := d.api.scepEnroll(ctx, d.ca, scepP, d.UDID)
	if err != nil {
		return fmt.Errorf("renewal: %w", err)
	}
	old := d.identity
	d.identity, d.key = identity, key
	if !d.signed {
		d.client = newClient(d.api.roots, &tls.Certificate{Certificate: [][]byte{identity.Raw}, PrivateKey: key, Leaf: identity})
	}
	d.renewals = append(d.renewals, renewalDone{Old: old, New: identity})
	logf("MDM identity renewed: serial %s (valid until %s) → %s (valid until %s)", old.SerialNumber.Text(16),
		old.NotAfter.UTC().Format(time.RFC3339), identity.SerialNumber.Text(16), identity.NotAfter.UTC().Format(time.RFC3339))
	return d.checkIn(ctx, logf)
}

// renewConfig is a renewal walk's settings.
type renewConfig struct {
	commonFlags
	serial     string
	delivery   string
	renewals   int
	every      time.Duration
	timeout    time.Duration
	adminToken string
}

func parseRenew(args []string, out io.Writer) (renewConfig, error) {
	var c renewConfig
	fs := newFlagSet("renew", out)
	c.register(fs)
	fs.StringVar(&c.serial, "serial", "", "serial number of the simulated iPhone (random when empty)")
	fs.StringVar(&c.delivery, "delivery", "direct", `"direct" (one .mobileconfig) or "ota" (profile service; the server needs -allow-simulators)`)
	fs.IntVar(&c.renewals, "renewals", 2, "renewals of the MDM identity to wait for")
	fs.DurationVar(&c.every, "every", 500*time.Millisecond, "how often the device checks in while it waits")
	fs.DurationVar(&c.timeout, "timeout", 3*time.Minute, "how long to wait for the renewals (the server's -identity-validity decides when they come)")
	fs.StringVar(&c.adminToken, "admin-token", "", "admin API token, to check that no renewal is left unfinished on the server")
	if err := parseFlags(fs, args); err != nil {
		return c, err
	}
	if c.delivery != "ota" && c.delivery != "direct" || c.renewals < 1 || c.every <= 0 || c.timeout <= 0 {
		return c, fmt.Errorf("%w: -delivery ota|direct, -renewals at least 1, -every and -timeout positive", errUsage)
	}
	return c, c.checkTOTP()
}

// renewResult is what a renewal walk saw.
type renewResult struct {
	DeviceID string
	Renewals []renewalDone
	// OldRefused: the first identity was refused (403) after its expiry.
	OldRefused bool
	// Commands are the request types answered after enrollment.
	Commands []string
}

// walkRenew enrolls an iPhone and keeps it checking in until the server
// has renewed its MDM identity c.renewals times: each time the device
// takes the MDM enrollment profile again, enrolls its new identity and
// switches to it, and stays the same device on the server. Then it waits
// for the first identity's expiry and shows it refused.
func walkRenew(ctx context.Context, c renewConfig, out io.Writer) (renewResult, error) {
	logf := stepLog(out)
	var res renewResult
	a, err := c.target()
	if err != nil {
		return res, err
	}
	s := newSpec(c.serial)
	s.StoreApp = ""
	logf("simulated %s (%s, iOS %s), UDID %s, serial %s", s.Model, s.Product, s.OSVersion, s.UDID, s.Serial)
	acct := c.acct
	token, err := a.signInAccount(ctx, &acct, logf)
	if err != nil {
		return res, err
	}
	f := facts{Platform: "ios", OSVersion: s.OSVersion, Model: s.Product, Ownership: "personal"}
	dec, err := a.startEnrollment(ctx, token, f, c.delivery)
	if err != nil {
		return res, err
	}
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
	if _, err := d.poll(ctx, 0, logf, nil); err != nil {
		return res, err
	}
	mine, err := a.myDevice(ctx, token, s.Serial)
	if err != nil {
		return res, err
	}
	res.DeviceID = mine.ID
	first, firstKey, firstClient := d.identity, d.key, d.client
	logf("enrolled as device %s; MDM identity valid until %s: waiting for %d renewals", mine.ID,
		first.NotAfter.UTC().Format(time.RFC3339), c.renewals)

	deadline := time.Now().Add(c.timeout)
	// A renewal comes in the last third of the validity at the earliest:
	// against a server issuing year-long identities there is nothing to
	// wait for.
	if due := first.NotAfter.Add(-first.NotAfter.Sub(first.NotBefore) / 3); due.After(deadline) {
		return res, fmt.Errorf("%w: the server's identities are valid until %s, so no renewal comes within -timeout %s; start the server with a short -identity-validity (e.g. 9s) and -renewal-interval (e.g. 500ms)",
			errUsage, first.NotAfter.UTC().Format(time.RFC3339), c.timeout)
	}
	for len(d.renewals) < c.renewals {
		if time.Now().After(deadline) {
			return res, fmt.Errorf("%d of %d renewals within %s", len(d.renewals), c.renewals, c.timeout)
		}
		if err := sleep(ctx, c.every); err != nil {
			return res, err
		}
		st, err := d.poll(ctx, 0, logf, nil)
		res.Commands = append(res.Commands, st.Commands...)
		if err != nil {
			return res, err
		}
	}
	res.Renewals = d.renewals
	after, err := a.myDevice(ctx, token, s.Serial)
	if err != nil {
		return res, err
	}
	if after.ID != mine.ID {
		return res, fmt.Errorf("the device is %s after its renewals, %s before", after.ID, mine.ID)
	}
	logf("after %d renewals the server still knows the phone as device %s", len(d.renewals), after.ID)
	if c.adminToken != "" {
		if err := checkNoRenewalLeft(ctx, a, c.adminToken, mine.ID); err != nil {
			return res, err
		}
		logf("admin API: no unfinished renewal for device %s", mine.ID)
	}

	// The first identity is refused once it has expired.
	if err := sleep(ctx, time.Until(first.NotAfter)+time.Second); err != nil {
		return res, err
	}
	old := *d
	old.identity, old.key, old.client = first, firstKey, firstClient
	_, err = old.put(ctx, old.serverURL, map[string]any{"Status": "Idle"})
	var se *statusError
	if !errors.As(err, &se) || se.Status != http.StatusForbidden {
		return res, fmt.Errorf("the first identity after its expiry: %v; want 403", err)
	}
	res.OldRefused = true
	logf("the first identity (serial %s) is refused after its expiry: %d", first.SerialNumber.Text(16), se.Status)
	if _, err := d.poll(ctx, 0, logf, nil); err != nil {
		return res, fmt.Errorf("the current identity: %w", err)
	}
	logf("the current identity (serial %s) still checks in", d.identity.SerialNumber.Text(16))
	return res, nil
}

// checkNoRenewalLeft reads the admin API's unfinished renewals and fails
// when device is among them.
func checkNoRenewalLeft(ctx context.Context, a *api, adminToken, device string) error {
	var list struct {
		Renewals []struct {
			Device string `json:"device"`
		} `json:"renewals"`
	}
	if err := a.call(ctx, "GET", "/api/admin/renewals", adminToken, nil, &list); err != nil {
		return fmt.Errorf("admin renewals: %w", err)
	}
	for _, r := range list.Renewals {
		if r.Device == device {
			return fmt.Errorf("the server lists device %s's renewal as unfinished", device)
		}
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
