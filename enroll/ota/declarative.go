package ota

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// Devices under declarative device management (enroll/declarative) get
// their passcode rule as a declaration of its own; what has no declaration
// (the data separation restrictions) reaches them as a signed profile the
// declarations point at. These two methods are that profile: they make
// *Service a declarative.Profiles.

// SettingsFingerprint identifies the settings the declarative settings
// profile built from req carries (the managed/unmanaged data separation),
// "" when req needs none. It changes exactly when they do.
func (s *Service) SettingsFingerprint(req policy.Requirements) string {
	ds := req.DataSeparation
	if !ds.BlockManagedToUnmanaged && !ds.BlockUnmanagedToManaged {
		return ""
	}
	sum := sha256.Sum256(fmt.Appendf(nil, "settings v1 m2u=%t u2m=%t", ds.BlockManagedToUnmanaged, ds.BlockUnmanagedToManaged))
	return hex.EncodeToString(sum[:16])
}

// SettingsProfileIdentifier is the PayloadIdentifier of org's declarative
// settings profile: not the policy profile's, so that removing the policy
// profile MDM installed never removes it.
func (s *Service) SettingsProfileIdentifier(org storage.OrgID) string {
	return s.identifier(org, "settings")
}

// SettingsProfile returns the declarative settings profile for req,
// signed by org's signer: the policy profile ([Service.PolicyProfile])
// without the passcode, which has its own declaration. It fails when req
// needs none.
func (s *Service) SettingsProfile(ctx context.Context, org storage.OrgID, req policy.Requirements) ([]byte, error) {
	if s.SettingsFingerprint(req) == "" {
		return nil, fmt.Errorf("ota: settings profile: the requirements need none: %w", storage.ErrNotFound)
	}
	name, err := s.orgName(ctx, org)
	if err != nil {
		return nil, err
	}
	req.Passcode = policy.Passcode{}
	p := s.PolicyProfile(org, name, req)
	p.Identifier = s.SettingsProfileIdentifier(org)
	p.DisplayName = name + " data separation"
	p.Description = "The data-sharing rules " + name + " requires between its apps and yours on this device."
	return s.signPolicy(ctx, org, p)
}
