package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/openomm/omm/enroll/declarative"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/profile"
)

// The simulated device's declarative engine (iOS 17 and later): turned on
// by the DeclarativeManagement command, it synchronises when the command
// asks (tokens, declaration items, the declarations it lacks), applies
// what it got — status subscriptions, passcode settings checked against
// the user's passcode, the OS update enforcement, legacy profiles fetched
// from the server and verified, managed apps — and reports the status
// items it is subscribed to, plus two it was not asked for, which the
// server's privacy filter must drop.

// declarativeSince is the first iOS the simulator plays declarative
// management on.
const declarativeSince = "17.0"

// ddmState is what the device's declarative engine holds.
type ddmState struct {
	// pending: a DeclarativeManagement command asked for a
	// synchronisation the device has not done yet.
	pending bool
	// token is the declarations token the device synchronised to.
	token string
	decls map[string]declarative.Declaration // by kind/identifier
	// status is each declaration's state after applying it.
	status     map[string]declarative.DeclarationStatus
	subscribed []string
	// profiles maps a legacy declaration to the profile it installed
	// and the declaration's server token then.
	profiles map[string]legacyProfile
	// update is the OS update enforcement applied, if any.
	update *osUpdate
	// apps are the declarative managed apps.
	apps []string
	// settings are the signed profiles legacy declarations installed,
	// latest last (InstallProfile's go to device.policyProfiles).
	settings []*profile.Profile
	// reports counts the status reports sent.
	reports int
}

type osUpdate struct{ version, deadline string }

type legacyProfile struct{ identifier, token string }

// ddmKey keys a declaration by kind and identifier.
func ddmKey(kind declarative.Kind, id string) string { return string(kind) + "/" + id }

// declarativeCommand acknowledges the DeclarativeManagement command and
// notes the synchronisation it asks for.
func (d *device) declarativeCommand(cmd command) string {
	if d.NoDeclarative || compareVersion(d.OSVersion, declarativeSince) < 0 {
		return "acknowledged; this device does not synchronise declarations"
	}
	if d.ddm == nil {
		d.ddm = &ddmState{decls: map[string]declarative.Declaration{}, status: map[string]declarative.DeclarationStatus{},
			profiles: map[string]legacyProfile{}}
	}
	d.ddm.pending = true
	var hint declarative.TokensResponse
	if data, ok := cmd.Body["Data"].([]byte); ok && json.Unmarshal(data, &hint) == nil && hint.SyncTokens.DeclarationsToken != "" {
		return "declarative management on; synchronising to token " + hint.SyncTokens.DeclarationsToken
	}
	return "declarative management on"
}

// ddmRequest sends a DeclarativeManagement check-in message.
func (d *device) ddmRequest(ctx context.Context, endpoint string, data []byte, out any) error {
	msg := map[string]any{"MessageType": "DeclarativeManagement", "Endpoint": endpoint}
	if data != nil {
		msg["Data"] = data
	}
	body, err := d.put(ctx, d.checkInURL, msg)
	if err != nil {
		return fmt.Errorf("declarative %s: %w", endpoint, err)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("declarative %s: %w", endpoint, err)
	}
	return nil
}

// syncDeclarations does the synchronisation a DeclarativeManagement
// command asked for: fetch the tokens and, when they changed, the
// declaration items and every declaration whose server token is new; then
// apply them and report status.
func (d *device) syncDeclarations(ctx context.Context, logf logFunc) error {
	if d.ddm == nil || !d.ddm.pending {
		return nil
	}
	d.ddm.pending = false
	var tokens declarative.TokensResponse
	if err := d.ddmRequest(ctx, declarative.EndpointTokens, nil, &tokens); err != nil {
		return err
	}
	if tokens.SyncTokens.DeclarationsToken == d.ddm.token {
		logf("declarative: tokens unchanged (%s), nothing to fetch", d.ddm.token)
		return nil
	}
	var items declarative.ItemsResponse
	if err := d.ddmRequest(ctx, declarative.EndpointItems, nil, &items); err != nil {
		return err
	}
	next := map[string]declarative.Declaration{}
	fetched, kept := 0, 0
	for kind, list := range map[declarative.Kind][]declarative.Item{
		declarative.KindActivation: items.Declarations.Activations, declarative.KindConfiguration: items.Declarations.Configurations,
		declarative.KindAsset: items.Declarations.Assets, declarative.KindManagement: items.Declarations.Management,
	} {
		for _, it := range list {
			k := ddmKey(kind, it.Identifier)
			if have, ok := d.ddm.decls[k]; ok && have.ServerToken == it.ServerToken {
				next[k] = have
				kept++
				continue
			}
			var decl declarative.Declaration
			if err := d.ddmRequest(ctx, "declaration/"+string(kind)+"/"+it.Identifier, nil, &decl); err != nil {
				return err
			}
			if decl.ServerToken != it.ServerToken || decl.Identifier != it.Identifier {
				return fmt.Errorf("declarative: declaration %s does not match its item", it.Identifier)
			}
			next[k] = decl
			fetched++
		}
	}
	removed := 0
	for k := range d.ddm.decls {
		if _, ok := next[k]; !ok {
			removed++
		}
	}
	d.ddm.decls, d.ddm.token = next, items.DeclarationsToken
	logf("declarative: synchronised to token %s: %d declarations fetched, %d unchanged, %d removed", d.ddm.token, fetched, kept, removed)
	d.applyDeclarations(ctx, logf)
	return d.reportStatus(ctx, logf)
}

// applyDeclarations applies the declarations: the activations whose
// predicate holds activate their configurations.
func (d *device) applyDeclarations(ctx context.Context, logf logFunc) {
	s := d.ddm
	active := map[string]bool{}
	s.status = map[string]declarative.DeclarationStatus{}
	for k, decl := range s.decls {
		if decl.Type.Kind() != declarative.KindActivation {
			continue
		}
		st := declarative.DeclarationStatus{Kind: declarative.KindActivation, Identifier: decl.Identifier, ServerToken: decl.ServerToken,
			Valid: declarative.Valid}
		pred, _ := decl.Payload["Predicate"].(string)
		holds, err := d.predicate(pred)
		switch {
		case err != nil:
			st.Valid = declarative.Invalid
			st.Reasons = []declarative.Reason{{Code: "Error.UnableToParsePredicate", Description: err.Error()}}
		case holds:
			st.Active = true
			configs, _ := decl.Payload["StandardConfigurations"].([]any)
			for _, c := range configs {
				if id, ok := c.(string); ok {
					active[ddmKey(declarative.KindConfiguration, id)] = true
				}
			}
		}
		s.status[k] = st
	}
	s.subscribed, s.update, s.apps = nil, nil, nil
	var notes []string
	installed := map[string]bool{}
	for k, decl := range s.decls {
		if decl.Type.Kind() != declarative.KindConfiguration {
			continue
		}
		st := declarative.DeclarationStatus{Kind: declarative.KindConfiguration, Identifier: decl.Identifier,
			ServerToken: decl.ServerToken, Valid: declarative.Valid, Active: active[k]}
		if !st.Active {
			st.Valid = declarative.Unknown
			s.status[k] = st
			continue
		}
		switch decl.Type {
		case declarative.TypeStatusSubscriptions:
			items, _ := decl.Payload["StatusItems"].([]any)
			for _, it := range items {
				if name, ok := it.(map[string]any)["Name"].(string); ok && !slices.Contains(s.subscribed, name) {
					s.subscribed = append(s.subscribed, name)
				}
			}
			notes = append(notes, fmt.Sprintf("%d status items subscribed", len(s.subscribed)))
		case declarative.TypePasscode:
			notes = append(notes, "passcode settings "+describePayload(decl.Payload))
		case declarative.TypeSoftwareUpdate:
			v, _ := decl.Payload["TargetOSVersion"].(string)
			dl, _ := decl.Payload["TargetLocalDateTime"].(string)
			s.update = &osUpdate{version: v, deadline: dl}
			notes = append(notes, "OS update to "+v+" by "+dl)
		case declarative.TypeLegacyProfile:
			if have, ok := s.profiles[decl.Identifier]; ok && have.token == decl.ServerToken {
				installed[decl.Identifier] = true // unchanged: not fetched again
				break
			}
			id, err := d.installLegacyProfile(ctx, decl)
			if err != nil {
				st.Valid, st.Active = declarative.Invalid, false
				st.Reasons = []declarative.Reason{{Code: "Error.ConfigurationCannotBeApplied", Description: err.Error()}}
				notes = append(notes, "settings profile refused: "+err.Error())
				break
			}
			s.profiles[decl.Identifier] = legacyProfile{identifier: id, token: decl.ServerToken}
			installed[decl.Identifier] = true
			notes = append(notes, "settings profile "+id+" installed (signed by the org's CA)")
		case declarative.TypeManagedApp:
			if url, _ := decl.Payload["ManifestURL"].(string); url != "" {
				// The simulator has no manifest to read the bundle ID
				// from: it names the app after its manifest's file.
				id := strings.TrimSuffix(url[strings.LastIndex(url, "/")+1:], ".plist")
				s.apps = append(s.apps, id)
				notes = append(notes, "managed app from "+url)
			}
		default:
			st.Valid, st.Active = declarative.Invalid, false
			st.Reasons = []declarative.Reason{{Code: "Error.ConfigurationNotSupported", Description: string(decl.Type)}}
		}
		s.status[k] = st
	}
	// Legacy profiles whose declaration is gone go with it.
	for declID, lp := range s.profiles {
		if !installed[declID] {
			d.profiles = slices.DeleteFunc(d.profiles, func(p string) bool { return p == lp.identifier })
			delete(s.profiles, declID)
		}
	}
	slices.Sort(notes)
	logf("declarative: applied: %s", strings.Join(notes, "; "))
}

// predicate evaluates an activation's predicate: empty, or the OS version
// form the server writes.
func (d *device) predicate(p string) (bool, error) {
	if p == "" {
		return true, nil
	}
	const prefix = "@status(device.operating-system.version) >= '"
	v, ok := strings.CutPrefix(p, prefix)
	if !ok || !strings.HasSuffix(v, "'") {
		return false, fmt.Errorf("predicate %q is beyond the simulator", p)
	}
	return compareVersion(d.OSVersion, strings.TrimSuffix(v, "'")) >= 0, nil
}

// compareVersion compares dotted versions numerically.
func compareVersion(a, b string) int {
	va, errA := policy.ParseVersion(a)
	vb, errB := policy.ParseVersion(b)
	if errA != nil || errB != nil {
		return strings.Compare(a, b)
	}
	return va.Compare(vb)
}

// installLegacyProfile downloads a legacy declaration's profile from the
// server, verifies it is signed by the org's CA, and installs it.
func (d *device) installLegacyProfile(ctx context.Context, decl declarative.Declaration) (string, error) {
	u, _ := decl.Payload["ProfileURL"].(string)
	if u == "" {
		return "", errors.New("no ProfileURL")
	}
	data, err := do(ctx, d.client, d.base, "GET", u, "", "", nil, maxOtherReply)
	if err != nil {
		return "", fmt.Errorf("download: %w", err)
	}
	content, _, err := profile.Verify(data, profile.VerifyOptions{Signer: d.ca})
	if err != nil {
		return "", fmt.Errorf("signature: %w", err)
	}
	p, err := profile.Decode(content)
	if err != nil {
		return "", err
	}
	d.ddm.settings = append(d.ddm.settings, p)
	if !slices.Contains(d.profiles, p.Identifier) {
		d.profiles = append(d.profiles, p.Identifier)
	}
	return p.Identifier, nil
}

func describePayload(p map[string]any) string {
	var parts []string
	for k, v := range p {
		parts = append(parts, fmt.Sprintf("%s=%v", k, v))
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

// passcodeRules are the passcode settings of the active declarations,
// combined as iOS combines them (the strictest wins).
func (d *device) passcodeRules() (required bool, minLength, minSymbols int, complex, letters bool) {
	for k, decl := range d.ddm.decls {
		if decl.Type != declarative.TypePasscode || !d.ddm.status[k].Active {
			continue
		}
		required = true
		if n, ok := decl.Payload["MinimumLength"].(float64); ok {
			minLength = max(minLength, int(n))
		}
		if n, ok := decl.Payload["MinimumComplexCharacters"].(float64); ok {
			minSymbols = max(minSymbols, int(n))
		}
		complex = complex || decl.Payload["RequireComplexPasscode"] == true
		letters = letters || decl.Payload["RequireAlphanumericPasscode"] == true
	}
	return required, minLength, minSymbols, complex, letters
}

// passcodeCompliant tells whether the user's passcode meets the rules.
func (d *device) passcodeCompliant() bool {
	required, minLength, minSymbols, complex, letters := d.passcodeRules()
	pc := d.Passcode
	switch {
	case !required:
		return true
	case pc == "" || len(pc) < minLength:
		return false
	case letters && strings.IndexFunc(pc, unicode.IsLetter) < 0:
		return false
	case minSymbols > 0 && len(strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return -1
		}
		return r
	}, pc)) < minSymbols:
		return false
	case complex && simplePasscode(pc):
		return false
	}
	return true
}

// simplePasscode: repeating or strictly sequential characters.
func simplePasscode(pc string) bool {
	same, up, down := true, true, true
	for i := 1; i < len(pc); i++ {
		same = same && pc[i] == pc[0]
		up = up && pc[i] == pc[i-1]+1
		down = down && pc[i] == pc[i-1]-1
	}
	return same || up || down
}

// statusValue is the device's value of a status item, and whether it has
// one.
func (d *device) statusValue(item string) (any, bool) {
	switch item {
	case "device.identifier.serial-number":
		return d.Serial, true
	case "device.identifier.udid":
		return d.UDID, true
	case "device.model.family":
		return "iPhone", true
	case "device.model.identifier":
		return d.Product, true
	case "device.model.marketing-name":
		return d.Model, true
	case "device.model.number":
		return "MTP03", true
	case "device.operating-system.version":
		return d.OSVersion, true
	case "device.operating-system.build-version":
		return d.Build, true
	case "device.power.battery-health":
		return "normal", true
	case "passcode.is-present":
		return d.Passcode != "", true
	case "passcode.is-compliant":
		return d.passcodeCompliant(), true
	case "softwareupdate.pending-version":
		if u := d.ddm.update; u != nil && compareVersion(d.OSVersion, u.version) < 0 {
			return map[string]any{"os-version": u.version, "build-version": ""}, true
		}
		return map[string]any{"os-version": "", "build-version": ""}, true
	case "softwareupdate.install-state":
		if u := d.ddm.update; u != nil && compareVersion(d.OSVersion, u.version) < 0 {
			return "downloading", true
		}
		return "none", true
	case "app.managed.list":
		list := []any{}
		for _, id := range d.ddm.apps {
			list = append(list, map[string]any{"identifier": id, "name": appName(id), "version": "1", "short-version": "1.0", "state": "managed"})
		}
		return list, true
	case "management.declarations":
		out := map[string]any{"activations": []any{}, "configurations": []any{}, "assets": []any{}, "management": []any{}}
		keys := make([]string, 0, len(d.ddm.status))
		for k := range d.ddm.status {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			st := d.ddm.status[k]
			e := map[string]any{"identifier": st.Identifier, "server-token": st.ServerToken, "active": st.Active, "valid": st.Valid}
			if len(st.Reasons) > 0 {
				rs := make([]any, len(st.Reasons))
				for i, r := range st.Reasons {
					rs[i] = map[string]any{"code": r.Code, "description": r.Description}
				}
				e["reasons"] = rs
			}
			list := string(st.Kind) + "s"
			if st.Kind == declarative.KindManagement {
				list = "management"
			}
			out[list] = append(out[list].([]any), e)
		}
		return out, true
	}
	return nil, false
}

// oversharing items are reported although nobody subscribed to them: the
// server's privacy filter must drop them.
var ddmOversharing = []string{"device.identifier.udid", "device.power.battery-health"}

// reportStatus sends a status report of every item the device is
// subscribed to (its first report is a full one), and the oversharing
// items.
func (d *device) reportStatus(ctx context.Context, logf logFunc) error {
	d.ddm.reports++
	data, names, err := d.statusReport(d.ddm.reports == 1)
	if err != nil {
		return err
	}
	if err := d.ddmRequest(ctx, declarative.EndpointStatus, data, nil); err != nil {
		return err
	}
	logf("declarative: status reported (%d items, %s unasked; passcode compliant: %v)", len(names),
		strings.Join(ddmOversharing, " and "), d.passcodeCompliant())
	return nil
}

// statusReport is the JSON of a status report of the subscribed items and
// the oversharing ones, and the names of the items in it.
func (d *device) statusReport(full bool) ([]byte, []string, error) {
	items := map[string]any{}
	var names []string
	for _, name := range append(slices.Clone(d.ddm.subscribed), ddmOversharing...) {
		v, ok := d.statusValue(name)
		if !ok {
			continue
		}
		setPath(items, name, v)
		names = append(names, name)
	}
	data, err := json.Marshal(map[string]any{"StatusItems": items, "Errors": []any{}, "FullReport": full})
	return data, names, err
}

// setPath stores v under the dotted status item name in nested objects,
// as the status report nests them.
func setPath(m map[string]any, name string, v any) {
	parts := strings.Split(name, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = v
}

// reportChange reports status after something changed on the device (the
// user set another passcode, an OS update installed), as a device does
// when a subscribed item changes.
func (d *device) reportChange(ctx context.Context, logf logFunc) error {
	if d.ddm == nil || d.ddm.token == "" {
		return errors.New("declarative management is not on")
	}
	return d.reportStatus(ctx, logf)
}

// checkDeclarativeEffects checks what the declarations applied against
// the requirements the server's decision states: the passcode settings
// the device enforces, and the data separation of the settings profile
// the legacy declaration installed (or none, when the policy asks for
// none).
func (d *device) checkDeclarativeEffects(req policy.Requirements) (string, error) {
	required, minLength, _, complex, letters := d.passcodeRules()
	want := req.Passcode
	var diffs []string
	if required != want.Required || required && (minLength != min(want.MinLength, 16) || complex == want.AllowSimple ||
		letters != want.RequireLetters) {
		diffs = append(diffs, fmt.Sprintf("passcode required %v, min length %d, complex %v, letters %v; the policy says %+v",
			required, minLength, complex, letters, want))
	}
	ds := req.DataSeparation
	var m2u, u2m bool
	if n := len(d.ddm.settings); n > 0 {
		for _, pl := range d.ddm.settings[n-1].Payloads {
			if r, ok := pl.(*profile.Restrictions); ok {
				m2u, u2m = isFalse(r.AllowOpenFromManagedToUnmanaged), isFalse(r.AllowOpenFromUnmanagedToManaged)
			}
		}
	}
	if m2u != ds.BlockManagedToUnmanaged || u2m != ds.BlockUnmanagedToManaged {
		diffs = append(diffs, fmt.Sprintf("open-in blocked managed→unmanaged %v, unmanaged→managed %v; the policy says %v, %v",
			m2u, u2m, ds.BlockManagedToUnmanaged, ds.BlockUnmanagedToManaged))
	}
	if len(diffs) > 0 {
		return "", fmt.Errorf("declarations do not match the policy: %s", strings.Join(diffs, "; "))
	}
	return describeRequirements(req), nil
}
