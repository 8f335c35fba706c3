package ota

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/internal/cms"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// ServiceProfile is OTA phase 1: it consumes the ticket's token and returns
// the signed Profile Service document, whose challenge the device must
// return in phase 2.
func (s *Service) ServiceProfile(ctx context.Context, org storage.OrgID, token string) ([]byte, error) {
	sess, err := s.consume(ctx, org, token, enroll.KindOTA)
	if err != nil {
		return nil, err
	}
	name, err := s.orgName(ctx, org)
	if err != nil {
		return nil, err
	}
	signer, err := s.signer(ctx, org)
	if err != nil {
		return nil, err
	}
	challenge, hash := enroll.NewChallenge(sess.ID)
	doc, err := s.serviceDocument(name, sess, challenge).Encode()
	if err != nil {
		return nil, fmt.Errorf("ota: profile service document: %w", err)
	}
	signed, err := signer.Sign(doc)
	if err != nil {
		return nil, err
	}
	sess.Phase, sess.ChallengeHash, sess.Expires = enroll.PhaseServiceSent, hash, s.now().Add(s.ttl)
	if _, err := s.advance(ctx, sess, ActionPhase1); err != nil {
		return nil, err
	}
	return signed, nil
}

// DirectProfile consumes a direct session's token and returns the signed
// .mobileconfig with the SCEP and MDM payloads, for macOS and simulators:
// any MDM client that speaks SCEP and Mdm-Signature can install it.
func (s *Service) DirectProfile(ctx context.Context, org storage.OrgID, token string) ([]byte, error) {
	sess, err := s.consume(ctx, org, token, enroll.KindDirect)
	if err != nil {
		return nil, err
	}
	name, err := s.orgName(ctx, org)
	if err != nil {
		return nil, err
	}
	signer, err := s.signer(ctx, org)
	if err != nil {
		return nil, err
	}
	challenge, hash := enroll.NewChallenge(sess.ID)
	signed, err := signer.SignProfile(s.mdmProfile(name, sess, challenge))
	if err != nil {
		return nil, fmt.Errorf("ota: enrollment profile: %w", err)
	}
	sess.Phase, sess.ChallengeHash, sess.Expires = enroll.PhaseProfileSent, hash, s.now().Add(s.ttl)
	if _, err := s.advance(ctx, sess, ActionDirectProfile); err != nil {
		return nil, err
	}
	return signed, nil
}

// Post handles a device's signed attributes for session: phase 2 (signed
// by its Apple device identity) or phase 3 (signed by the identity our CA
// issued for this session), whichever the session awaits, and returns the
// signed profile to send back. A refused post changes nothing.
func (s *Service) Post(ctx context.Context, org storage.OrgID, session string, body []byte) ([]byte, error) {
	sess, err := s.session(ctx, org, session)
	if err != nil {
		return nil, err
	}
	sd, err := parseBody(body)
	if err != nil {
		return nil, err
	}
	switch sess.Phase {
	case enroll.PhaseServiceSent:
		return s.phase2(ctx, sess, sd)
	case enroll.PhaseOTAIdentity:
		return s.phase3(ctx, sess, sd)
	}
	return nil, fmt.Errorf("%w: session is at %q", enroll.ErrPhase, sess.Phase)
}

func (s *Service) phase2(ctx context.Context, sess enroll.Session, sd *cms.SignedData) ([]byte, error) {
	chain := s.apple
	if s.skipApple {
		chain = nil
	}
	p, _, err := verifyPhase2(sd, chain, s.now())
	if err != nil {
		return nil, err
	}
	if err := sess.CheckChallenge(p.challenge, enroll.PhaseServiceSent, s.now()); err != nil {
		return nil, err
	}
	name, err := s.orgName(ctx, sess.Org)
	if err != nil {
		return nil, err
	}
	signer, err := s.signer(ctx, sess.Org)
	if err != nil {
		return nil, err
	}
	challenge, hash := enroll.NewChallenge(sess.ID)
	signed, err := signer.SignProfile(s.identityProfile(name, sess, challenge))
	if err != nil {
		return nil, fmt.Errorf("ota: identity profile: %w", err)
	}
	if p.dropped > 0 {
		s.log.InfoContext(ctx, "ota: dropped device attributes the privacy contract excludes", "org", sess.Org, "session", sess.ID, "dropped", p.dropped)
	}
	sess.Phase, sess.ChallengeHash, sess.Expires = enroll.PhaseAttributesReceived, hash, s.now().Add(s.ttl)
	sess.UDID, sess.Attributes = p.udid, p.values
	if _, err := s.advance(ctx, sess, ActionPhase2); err != nil {
		return nil, err
	}
	return signed, nil
}

func (s *Service) phase3(ctx context.Context, sess enroll.Session, sd *cms.SignedData) ([]byte, error) {
	if !s.now().Before(sess.Expires) {
		return nil, fmt.Errorf("%w: %w: phase 3 came too late", ErrSession, enroll.ErrChallenge)
	}
	ca, err := s.caCert(ctx, sess.Org)
	if err != nil {
		return nil, err
	}
	signer, err := sd.Verify(cms.VerifyOptions{VerifyChain: func(c *x509.Certificate, _ []*x509.Certificate) error {
		if enroll.FingerprintOf(c) != sess.Identity {
			return errors.New("not the identity issued for this session")
		}
		return c.CheckSignatureFrom(ca)
	}})
	if err != nil {
		return nil, fmt.Errorf("%w: phase 3: %w", ErrSignature, err)
	}
	p, err := parseAttributes(sd.Content(), otaKeys())
	if err != nil {
		return nil, err
	}
	if p.udid != sess.UDID {
		return nil, fmt.Errorf("%w: phase 3 names another device", ErrSignature)
	}
	name, err := s.orgName(ctx, sess.Org)
	if err != nil {
		return nil, err
	}
	psigner, err := s.signer(ctx, sess.Org)
	if err != nil {
		return nil, err
	}
	challenge, hash := enroll.NewChallenge(sess.ID)
	encrypted, err := s.mdmProfile(name, sess, challenge).EncodeEncrypted(signer)
	if err != nil {
		return nil, fmt.Errorf("ota: enrollment profile: %w", err)
	}
	signed, err := psigner.Sign(encrypted)
	if err != nil {
		return nil, err
	}
	sess.Phase, sess.ChallengeHash, sess.Expires = enroll.PhaseProfileSent, hash, s.now().Add(s.ttl)
	if _, err := s.advance(ctx, sess, ActionPhase3); err != nil {
		return nil, err
	}
	return signed, nil
}

// SignedPolicyProfile returns the signed policy profile (see PolicyProfile)
// of an enrollment session, ready for an InstallProfile command, or nil
// when its policy needs none. Sessions under the same rules share one
// signature, made at most an hour earlier.
func (s *Service) SignedPolicyProfile(ctx context.Context, org storage.OrgID, session string) ([]byte, error) {
	sess, err := s.session(ctx, org, session)
	if err != nil {
		return nil, err
	}
	name, err := s.orgName(ctx, org)
	if err != nil {
		return nil, err
	}
	p := s.PolicyProfile(org, name, sess.Requirements)
	if p == nil {
		return nil, nil
	}
	return s.signPolicy(ctx, org, p)
}

// IssueDirectProfile creates a direct session for user and returns its
// signed .mobileconfig at once, for the example server's command line
// (an operator producing a profile for a simulator or a Mac). The policy
// decision must be Enroll, as for Begin.
func (s *Service) IssueDirectProfile(ctx context.Context, org storage.OrgID, userID string, d policy.Decision) ([]byte, error) {
	t, err := s.Begin(ctx, org, userID, d, enroll.KindDirect)
	if err != nil {
		return nil, err
	}
	return s.DirectProfile(ctx, org, t.Token)
}
