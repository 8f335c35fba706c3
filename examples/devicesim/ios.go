package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/openomm/omm/enroll/ota/otatest"
)

// walkConfig is an iOS walk's settings.
type walkConfig struct {
	commonFlags
	serial   string
	delivery string // "ota" or "direct"
	// storeApp is an app installed before enrollment that the store
	// offers too ("" for none).
	storeApp string
	// adminToken, when set, lets the walk check the server's records
	// through the admin API.
	adminToken string
	// keep leaves the device enrolled at the end instead of
	// deprovisioning it (for a test that goes on with the server's side).
	keep bool
	// enrolled, when set, is called once the device is enrolled and its
	// store checked, before it is deprovisioned (tests look at the
	// server's records then).
	enrolled func(walkResult)
}

// demoStoreApp is the demo org's App Store app (examples/ommserver's seed
// installs it at enrollment), which the simulated iPhone has by default
// from the App Store before enrollment, so the enrollment's install meets
// the user's copy.
const demoStoreApp = "com.example.demo.notes"

func parseWalk(args []string, out io.Writer) (walkConfig, error) {
	var c walkConfig
	fs := newFlagSet("ios", out)
	c.register(fs)
	fs.StringVar(&c.serial, "serial", "", "serial number of the simulated iPhone (random when empty)")
	fs.StringVar(&c.delivery, "delivery", "ota", `"ota" (profile service, phases 1–3; the server needs -allow-simulators) or "direct" (one .mobileconfig)`)
	fs.StringVar(&c.storeApp, "store-app", demoStoreApp, "bundle ID of a store app the user installed before enrollment (empty: none)")
	fs.StringVar(&c.adminToken, "admin-token", "", "admin API token, to check the device's state and apps on the server")
	fs.BoolVar(&c.keep, "keep-enrolled", false, "leave the device enrolled at the end instead of deprovisioning it")
	if err := parseFlags(fs, args); err != nil {
		return c, err
	}
	if c.delivery != "ota" && c.delivery != "direct" {
		return c, fmt.Errorf("%w: -delivery must be ota or direct", errUsage)
	}
	return c, c.checkTOTP()
}

// walkResult is what the walk did, for callers that check it.
type walkResult struct {
	Device   spec
	Decision decision
	Commands []string // request types answered, in order
	// TOTPSecret is the authenticator's secret, when MFA was done.
	TOTPSecret string
	DeviceID   string
	// Unmanaged is the store's item for the app installed before
	// enrollment; Installed the item installed from the store, after
	// the device reported it.
	Unmanaged, Installed storeItem
	// Policy describes the policy profile received.
	Policy string
	// Removed are the apps deprovisioning removed; Kept the apps left
	// on the device afterwards.
	Removed, Kept []string
	// FinalState is the device's state on the server at the end, when
	// the admin API was asked.
	FinalState string
}

// walkIOS plays one iPhone through the whole journey, logging each step to
// out.
func walkIOS(ctx context.Context, c walkConfig, out io.Writer) (walkResult, error) {
	logf := stepLog(out)
	var res walkResult
	a, err := c.target()
	if err != nil {
		return res, err
	}
	s := newSpec(c.serial)
	s.StoreApp = c.storeApp
	res.Device = s
	logf("simulated %s (%s, iOS %s), UDID %s, serial %s", s.Model, s.Product, s.OSVersion, s.UDID, s.Serial)

	acct := c.acct
	token, err := a.signInAccount(ctx, &acct, logf)
	res.TOTPSecret = acct.TOTPSecret
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

	if dec.Requirements == nil {
		return res, fmt.Errorf("the enrollment decision states no requirements to check the device's settings against")
	}
	var found bool
	if res.Policy, found, err = checkPolicyProfile(d.policyProfiles, *dec.Requirements); err != nil {
		return res, err
	}
	if found {
		logf("policy profile received, signed by the org's CA %q: %s", d.ca.Subject.CommonName, res.Policy)
	} else {
		logf("policy checked against the enrollment decision: %s", res.Policy)
	}

	mine, err := a.myDevice(ctx, token, s.Serial)
	if err != nil {
		return res, err
	}
	res.DeviceID = mine.ID
	items, err := a.store(ctx, token, mine.ID)
	if err != nil {
		return res, err
	}
	logf("store on device %s: %s", mine.ID, describeStore(items))
	if err := walkStore(ctx, a, token, d, items, &res, logf); err != nil {
		return res, err
	}
	if c.enrolled != nil {
		c.enrolled(res)
	}
	if c.keep {
		logf("device %s left enrolled (-keep-enrolled)", res.DeviceID)
		return res, nil
	}
	if err := walkDeprovision(ctx, a, token, c.adminToken, d, &res, logf); err != nil {
		return res, err
	}
	return res, nil
}

// walkStore checks that the app installed before enrollment shows as
// unmanaged, installs an app from the store and checks that the store
// then shows it installed.
func walkStore(ctx context.Context, a *api, token string, d *device, items []storeItem, res *walkResult, logf logFunc) error {
	if d.StoreApp != "" {
		it, ok := item(items, d.StoreApp)
		switch {
		case !ok:
			return fmt.Errorf("store: %s, installed before enrollment, is not in the store (-store-app names an app the store offers)", d.StoreApp)
		case it.State != "Unmanaged" || it.Advice == "":
			return fmt.Errorf("store: %s, installed before enrollment, shows %q (advice %q), want Unmanaged with advice", d.StoreApp, it.State, it.Advice)
		}
		res.Unmanaged = it
		offer := "no take-over offered"
		if it.TakeOver {
			offer = "take-over offered"
		}
		logf("store: %s, installed before enrollment, is Unmanaged (%s): %q", it.Name, offer, it.Advice)
	}

	// Install an app not on the device; failing that, take over the
	// user's copy, which is also an install through the store.
	i := slices.IndexFunc(items, func(it storeItem) bool { return it.State == "Available" })
	if i < 0 {
		i = slices.IndexFunc(items, func(it storeItem) bool { return it.State == "Unmanaged" && it.TakeOver })
	}
	if i < 0 {
		return fmt.Errorf("store: nothing to install: %s", describeStore(items))
	}
	want := items[i]
	it, err := a.install(ctx, token, res.DeviceID, want.AppID)
	if err != nil {
		return err
	}
	logf("store: install of %s (%s) requested, now %s", want.Name, want.Identifier, it.State)
	st, err := d.poll(ctx, 0, logf, nil)
	res.Commands = append(res.Commands, st.Commands...)
	if err != nil {
		return err
	}
	if !slices.Contains(st.Commands, "InstallApplication") {
		return fmt.Errorf("store: no InstallApplication arrived after the install request (commands %v)", st.Commands)
	}
	items, err = a.store(ctx, token, res.DeviceID)
	if err != nil {
		return err
	}
	got, _ := item(items, want.Identifier)
	if got.State != "Installed" {
		return fmt.Errorf("store: %s shows %q after the device reported it installed, want Installed", want.Identifier, got.State)
	}
	res.Installed = got
	version := ""
	if got.InstalledVersion != "" {
		version = ", version " + got.InstalledVersion
	}
	logf("store: %s is Installed (Open)%s", got.Name, version)
	return nil
}

// walkDeprovision has the user deprovision the device, answers the
// commands that follow, and checks that only work data went.
func walkDeprovision(ctx context.Context, a *api, token, adminToken string, d *device, res *walkResult, logf logFunc) error {
	var personal []string
	for _, ap := range d.appList() {
		if !ap.Managed {
			personal = append(personal, ap.Identifier)
		}
	}
	if adminToken != "" {
		// The server's record before: the user's apps listed, unmanaged.
		v, err := a.adminDevice(ctx, adminToken, res.DeviceID)
		if err != nil {
			return err
		}
		for _, id := range personal {
			i := slices.IndexFunc(v.Apps, func(ap adminApp) bool { return ap.Identifier == id })
			if i < 0 || v.Apps[i].Managed {
				return fmt.Errorf("admin API: the user's app %s is missing or recorded as managed: %+v", id, v.Apps)
			}
		}
		logf("admin API: device %s is %s, the user's apps %v recorded as unmanaged", res.DeviceID, v.Device.State, personal)
	}
	if err := a.deprovision(ctx, token, res.DeviceID); err != nil {
		return err
	}
	logf("deprovision requested through the agent API")
	st, err := d.poll(ctx, 0, logf, nil)
	res.Commands = append(res.Commands, st.Commands...)
	if err != nil {
		return err
	}
	if len(d.refusedRemovals) > 0 {
		return fmt.Errorf("deprovision: the server asked to remove the user's own apps %v", d.refusedRemovals)
	}
	if !d.unenrolled {
		return fmt.Errorf("deprovision: the MDM profile was not removed (commands %v)", st.Commands)
	}
	res.Removed = d.removedApps
	for _, ap := range d.appList() {
		res.Kept = append(res.Kept, ap.Identifier)
	}
	for _, id := range personal {
		if !slices.Contains(res.Kept, id) {
			return fmt.Errorf("deprovision: the user's app %s is gone", id)
		}
	}
	logf("deprovisioned: removed %v and the MDM profile; the user's apps %v untouched", res.Removed, personal)
	if adminToken == "" {
		return nil
	}
	v, err := a.adminDevice(ctx, adminToken, res.DeviceID)
	if err != nil {
		return err
	}
	res.FinalState = v.Device.State
	if v.Device.State != "deprovisioned" {
		return fmt.Errorf("admin API: device %s is %q after checking out, want deprovisioned", res.DeviceID, v.Device.State)
	}
	logf("admin API: device %s is %s", res.DeviceID, v.Device.State)
	return nil
}

// describeStore lists a store's apps and states for the log.
func describeStore(items []storeItem) string {
	parts := make([]string, len(items))
	for i, it := range items {
		parts[i] = it.Name + " " + it.State
	}
	return strings.Join(parts, ", ")
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
