package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// demoOrg is the org a fresh server creates so that it is usable at once.
var demoOrg = storage.Org{ID: "org_demo", Name: "demo", DisplayName: "Demo Org"}

const seedActor = "system:ommserver"

// ensureDemoOrg creates the demo org unless it exists, and returns it.
func ensureDemoOrg(ctx context.Context, s storage.OrgStore, now time.Time) (storage.Org, error) {
	o, err := s.OrgByName(ctx, demoOrg.Name)
	if err == nil {
		return o, nil
	}
	if !errors.Is(err, storage.ErrNotFound) {
		return o, err
	}
	o, err = s.CreateOrg(ctx, demoOrg, storage.AuditEntry{
		Org: demoOrg.ID, Time: now, Actor: seedActor, Action: storage.ActionOrgCreate,
		Target: "org:" + demoOrg.Name, Details: map[string]string{"reason": "demo org for a fresh server"},
	})
	if errors.Is(err, storage.ErrAlreadyExists) { // another process won the race
		return s.OrgByName(ctx, demoOrg.Name)
	}
	return o, err
}

// demoUser is one person of the demo directory.
type demoUser struct {
	username, displayName string
	// phone is a fictional number (the 555-01xx range): sign-in codes by
	// text or call go to it, and the development sender logs them.
	phone  string
	groups []string
}

// The demo directory: employees fall under a policy that requires
// enrollment; the contractor falls under the built-in default, which denies,
// so that both outcomes can be tried at once.
var (
	demoGroups = []string{"Employees", "Contractors"}
	demoUsers  = []demoUser{
		{"alice", "Alice Example", "", []string{"Employees"}},
		{"bob", "Bob Example", "+15555550142", []string{"Employees"}},
		{"carol", "Carol Contractor", "", []string{"Contractors"}},
	}
	demoPolicyName = "Employees: enroll iOS and Android"
)

// credential is a demo user's password, known only when this start created
// the user.
type credential struct{ username, password string }

// seedDemo makes sure the demo org has its groups, users and policy. Each
// step looks for what it would create first, so a restart (or a start after
// a partial seed) creates nothing twice. Passwords are random, generated
// only for users created now, and returned to be shown once.
func seedDemo(ctx context.Context, org storage.OrgID, dir *auth.LocalDirectory, pol *policy.Service) ([]credential, error) {
	groups, err := dir.ListGroups(ctx, org)
	if err != nil {
		return nil, fmt.Errorf("demo groups: %w", err)
	}
	groupID := map[string]string{}
	for _, g := range groups {
		groupID[g.Name] = g.ID
	}
	for _, name := range demoGroups {
		if _, ok := groupID[name]; ok {
			continue
		}
		g, err := dir.CreateGroup(ctx, org, name, seedActor)
		if err != nil {
			return nil, fmt.Errorf("demo group %s: %w", name, err)
		}
		groupID[name] = g.ID
	}

	users, err := dir.ListUsers(ctx, org)
	if err != nil {
		return nil, fmt.Errorf("demo users: %w", err)
	}
	var created []credential
	for _, du := range demoUsers {
		if slices.ContainsFunc(users, func(u auth.User) bool { return u.Username == du.username }) {
			continue
		}
		pw := randomPassword()
		u, err := dir.CreateUser(ctx, auth.User{Org: org, Username: du.username, DisplayName: du.displayName,
			Email: du.username + "@demo.invalid", Phone: du.phone}, pw, seedActor)
		if err != nil {
			return nil, fmt.Errorf("demo user %s: %w", du.username, err)
		}
		for _, g := range du.groups {
			if err := dir.AddMember(ctx, org, groupID[g], u.ID, seedActor); err != nil {
				return nil, fmt.Errorf("demo user %s in %s: %w", du.username, g, err)
			}
		}
		created = append(created, credential{du.username, pw})
	}

	policies, err := pol.List(ctx, org)
	if err != nil {
		return nil, fmt.Errorf("demo policy: %w", err)
	}
	if !slices.ContainsFunc(policies, func(p policy.Policy) bool { return p.Name == demoPolicyName }) {
		if _, err := pol.Create(ctx, seedActor, demoPolicy(org, groupID["Employees"])); err != nil {
			return nil, fmt.Errorf("demo policy: %w", err)
		}
	}
	return created, nil
}

// demoPolicy requires employees to enroll iOS and Android devices with a
// passcode, encryption and work/personal data separation; macOS is allowed.
// Android devices enroll as a work profile where they can (fully managed
// when company-owned), else in Samsung Knox or native device admin mode up
// to Android 9.
func demoPolicy(org storage.OrgID, employees string) policy.Policy {
	passcode := policy.Passcode{Required: true, MinLength: 6, MaxFailedAttempts: 10, AutoLockMinutes: 5}
	return policy.Policy{
		Org:         org,
		Name:        demoPolicyName,
		Description: "Created by the example server's demo seed.",
		Priority:    100,
		Groups:      []string{employees},
		Agreement:   "I agree that my organization manages its apps and data on this device as described in “What your organization can see”.",
		Rules: map[policy.Platform]policy.Rule{
			policy.IOS: {Action: policy.Require, Requirements: policy.Requirements{
				Passcode:          passcode,
				Encryption:        true,
				RefuseCompromised: true,
				DataSeparation:    policy.DataSeparation{BlockManagedToUnmanaged: true, BlockUnmanagedToManaged: true},
				// The demo's simulated iPhones (examples/devicesim
				// -delivery direct) enroll with the direct profile, which
				// no Apple device attestation vouches for: every start
				// warns about it (directProfileWarnings). A real org
				// leaves it off, so that iPhones enroll over the air.
				AcceptDirectProfile: true,
			}},
			// Unlike iOS here, a company-owned Android device may be factory
			// reset (never a personal one), so that the demo shows both a
			// reset and a work-data-only removal where a reset is allowed.
			policy.Android: {Action: policy.Require, Requirements: policy.Requirements{
				Passcode:          passcode,
				Encryption:        true,
				RefuseCompromised: true,
				AllowFullWipe:     true,
				DataSeparation:    policy.DataSeparation{BlockWorkToPersonal: true},
				Android: policy.AndroidRequirements{
					Modes: policy.Modes{WorkProfile: true, Knox: true, DeviceAdmin: true},
				},
			}},
			policy.MacOS: {Action: policy.Allow, Requirements: policy.Requirements{Passcode: passcode, Encryption: true}},
		},
	}
}

// randomPassword returns 16 characters from an alphabet without look-alikes
// (about 90 bits).
func randomPassword() string {
	const alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 16)
	for i := range b {
		b[i] = alphabet[randIntn(len(alphabet))]
	}
	return string(b)
}

// randIntn returns a uniform random number in [0, n) from crypto/rand.
func randIntn(n int) int {
	limit := 256 - 256%n // reject the biased tail
	var one [1]byte
	for {
		if _, err := rand.Read(one[:]); err != nil {
			panic(err) // crypto/rand.Read does not fail
		}
		if int(one[0]) < limit {
			return int(one[0]) % n
		}
	}
}

// directProfileWarnings names the org's policies whose iOS rule accepts
// the direct enrollment profile, which no Apple device attestation vouches
// for: each start says so loudly.
func directProfileWarnings(ctx context.Context, org storage.OrgID, pol *policy.Service) ([]string, error) {
	policies, err := pol.List(ctx, org)
	if err != nil {
		return nil, fmt.Errorf("policies: %w", err)
	}
	var names []string
	for _, p := range policies {
		if r, ok := p.Rules[policy.IOS]; ok && r.Action != policy.Deny && r.Requirements.AcceptDirectProfile {
			names = append(names, p.Name)
		}
	}
	return names, nil
}
