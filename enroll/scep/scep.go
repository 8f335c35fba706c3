package scep

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/internal/cms"
	"github.com/openomm/omm/storage"
)

// Sentinel errors, wrapped with %w.
var (
	// ErrMessage reports a PKIOperation message that cannot be read: not
	// CMS, over the limits, missing SCEP attributes, not for this CA.
	ErrMessage = errors.New("scep: malformed message")
	// ErrSignature reports a request whose signature does not verify or
	// whose signer does not hold the requested key.
	ErrSignature = errors.New("scep: request signature not valid")
	// ErrUnsupported reports a message type, key or algorithm this CA does
	// not handle.
	ErrUnsupported = errors.New("scep: not supported")
	// ErrRenewal reports a renewal by a certificate this CA did not issue,
	// that is not recorded, expired, or not yet in its renewal window.
	ErrRenewal = errors.New("scep: renewal refused")
)

// Store is what the CA needs from storage: the enrollment sessions whose
// challenges it consumes and the identities it records. A CAStore is also
// needed unless WithAuthorities supplies the CAs.
type Store interface {
	EnrollSession(ctx context.Context, org storage.OrgID, id string) (enroll.Session, error)
	AdvanceEnrollSession(ctx context.Context, s enroll.Session, issued *enroll.Identity, entry storage.AuditEntry) (enroll.Session, error)
	Identity(ctx context.Context, org storage.OrgID, f enroll.Fingerprint) (enroll.Identity, error)
	RecordIdentity(ctx context.Context, id enroll.Identity, entry storage.AuditEntry) (enroll.Identity, error)
}

// Defaults.
const (
	DefaultValidity      = 365 * 24 * time.Hour
	DefaultRenewalWindow = 60 * 24 * time.Hour
	// DefaultPhase3TTL is how long after the OTA identity is issued the
	// device may post phase 3.
	DefaultPhase3TTL = 10 * time.Minute
	// MinKeyBits is the smallest RSA key a device may enroll.
	MinKeyBits = 2048
	// otaIdentitySlack is how much longer than the phase 3 TTL an OTA
	// identity's certificate is valid, for device clocks.
	otaIdentitySlack = time.Hour
)

// Service is the per-org SCEP certificate authority.
type Service struct {
	store         Store
	cas           Authorities
	log           *slog.Logger
	now           func() time.Time
	validity      time.Duration
	renewalWindow time.Duration
	phase3TTL     time.Duration
	users         auth.Users
	limits        *limits
	source        func(*http.Request) string
}

// Option configures New.
type Option func(*Service)

// WithLogger sets the logger; slog.Default() otherwise.
func WithLogger(l *slog.Logger) Option { return func(s *Service) { s.log = l } }

// WithClock sets the clock for challenge expiry and certificate validity.
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// WithValidity sets how long issued device certificates are valid
// (DefaultValidity).
func WithValidity(d time.Duration) Option { return func(s *Service) { s.validity = d } }

// WithRenewalWindow sets how long before expiry a device may renew its
// identity (DefaultRenewalWindow).
func WithRenewalWindow(d time.Duration) Option { return func(s *Service) { s.renewalWindow = d } }

// WithPhase3TTL sets how long the OTA identity may be used for phase 3.
func WithPhase3TTL(d time.Duration) Option { return func(s *Service) { s.phase3TTL = d } }

// WithAuthorities supplies the org CAs (for keys in an HSM or KMS). Without
// it, store must also be a CAStore and CAs are generated on first use.
func WithAuthorities(a Authorities) Option { return func(s *Service) { s.cas = a } }

// WithUsers makes every issuance and renewal refuse a user the directory
// does not know as active (auth.CheckActive), whatever challenge or
// identity the request carries.
func WithUsers(u auth.Users) Option { return func(s *Service) { s.users = u } }

// New returns the SCEP service. It fails when no Authorities are given and
// store cannot keep CAs either.
func New(store Store, opts ...Option) (*Service, error) {
	s := &Service{store: store, log: slog.Default(), now: time.Now, validity: DefaultValidity,
		renewalWindow: DefaultRenewalWindow, phase3TTL: DefaultPhase3TTL,
		limits: newLimits(DefaultSourceLimit, DefaultOrgLimit), source: remoteHost}
	for _, o := range opts {
		o(s)
	}
	if s.cas == nil {
		cs, ok := store.(CAStore)
		if !ok {
			return nil, fmt.Errorf("%w: store %T keeps no CAs and WithAuthorities was not given", ErrCA, store)
		}
		s.cas = NewGeneratedCAs(cs, s.now)
	}
	if s.validity <= 0 || s.renewalWindow < 0 || s.phase3TTL <= 0 {
		return nil, fmt.Errorf("scep: validity, renewal window and phase 3 TTL must be positive")
	}
	return s, nil
}

// Capabilities is the GetCACaps answer: AES and DES-EDE3 content
// encryption, SHA-1 and SHA-256 digests, POST, and renewal.
const Capabilities = "AES\nDES3\nPOSTPKIOperation\nRenewal\nSHA-1\nSHA-256\n"

// CACertificate returns the org's CA certificate (GetCACert), creating the
// CA on first use when the Authorities do. The MDM check-in service uses it
// to verify that a device certificate comes from this org.
func (s *Service) CACertificate(ctx context.Context, org storage.OrgID) (*x509.Certificate, error) {
	ca, err := s.ca(ctx, org)
	if err != nil {
		return nil, err
	}
	return ca.Certificate, nil
}

func (s *Service) ca(ctx context.Context, org storage.OrgID) (*CA, error) {
	if err := org.Validate(); err != nil {
		return nil, err
	}
	ca, err := s.cas.CA(ctx, org)
	if err != nil {
		return nil, err
	}
	if err := ca.check(); err != nil {
		return nil, err
	}
	return ca, nil
}

// PKIOperation handles a PKCSReq or RenewalReq for org and returns the
// CertRep to send back. A request that is well formed enough to answer but
// refused (a bad challenge, a replay, a failed signature) returns both a
// signed failure CertRep, which the client understands, and the error that
// says why; a request too broken to answer returns only the error. A
// refused request changes nothing in the store.
func (s *Service) PKIOperation(ctx context.Context, org storage.OrgID, msg []byte) ([]byte, error) {
	ca, err := s.ca(ctx, org)
	if err != nil {
		return nil, err
	}
	req, err := parseRequest(msg)
	if err != nil {
		return nil, err
	}
	cert, c, info, err := s.handle(ctx, org, ca, req)
	if err != nil {
		reply, rerr := req.reply(ca, nil, 0, info)
		if rerr != nil {
			return nil, errors.Join(err, rerr)
		}
		s.log.InfoContext(ctx, "scep request refused", "org", org, "transaction", req.transaction, "err", err)
		return reply, err
	}
	reply, err := req.reply(ca, cert, c, "")
	if err != nil {
		return nil, fmt.Errorf("scep: build CertRep: %w", err)
	}
	return reply, nil
}

func (s *Service) handle(ctx context.Context, org storage.OrgID, ca *CA, req *request) (*x509.Certificate, cms.Cipher, FailInfo, error) {
	if req.msgType != PKCSReq && req.msgType != RenewalReq {
		return nil, 0, BadRequest, fmt.Errorf("%w: message type %q", ErrUnsupported, req.msgType)
	}
	csrDER, c, err := cms.DecryptSCEP(req.sd.Content(), ca.Certificate, ca.Key.(crypto.Decrypter))
	if err != nil {
		return nil, 0, BadMessageCheck, fmt.Errorf("%w: %w", ErrMessage, err)
	}
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		return nil, 0, BadRequest, fmt.Errorf("%w: certificate request: %w", ErrMessage, err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, 0, BadMessageCheck, fmt.Errorf("%w: certificate request: %w", ErrSignature, err)
	}
	pub, ok := csr.PublicKey.(*rsa.PublicKey)
	if !ok || pub.N.BitLen() < MinKeyBits {
		return nil, 0, BadAlg, fmt.Errorf("%w: device key must be RSA of at least %d bits", ErrUnsupported, MinKeyBits)
	}
	renewal := req.signer.CheckSignatureFrom(ca.Certificate) == nil
	// The message signature is checked against the signer the message
	// names; whom that signer must be is decided here: the holder of the
	// requested key (a first enrollment signs with a throw-away
	// certificate for it), or an identity this CA issued (a renewal).
	_, err = req.sd.Verify(cms.VerifyOptions{VerifyChain: func(signer *x509.Certificate, _ []*x509.Certificate) error {
		if renewal {
			return nil // checked against the CA above and the store below
		}
		if k, ok := signer.PublicKey.(*rsa.PublicKey); !ok || !k.Equal(pub) {
			return errors.New("signer does not hold the requested key")
		}
		return nil
	}})
	if err != nil {
		return nil, 0, BadMessageCheck, fmt.Errorf("%w: %w", ErrSignature, err)
	}
	now := s.now()
	if renewal {
		cert, err := s.renew(ctx, org, ca, req.signer, csr, now)
		if err != nil {
			return nil, 0, BadRequest, err
		}
		return cert, c, "", nil
	}
	cert, err := s.enroll(ctx, org, ca, csr, now)
	if err != nil {
		return nil, 0, BadRequest, err
	}
	return cert, c, "", nil
}

// enroll issues a first certificate against an enrollment session's
// challenge.
func (s *Service) enroll(ctx context.Context, org storage.OrgID, ca *CA, csr *x509.CertificateRequest, now time.Time) (*x509.Certificate, error) {
	challenge, err := challengePassword(csr)
	if err != nil {
		return nil, err
	}
	id, err := enroll.ChallengeSession(challenge)
	if err != nil {
		return nil, err
	}
	sess, err := s.store.EnrollSession(ctx, org, id)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, fmt.Errorf("%w: no such session", enroll.ErrChallenge)
	}
	if err != nil {
		return nil, err
	}
	if err := auth.CheckActive(ctx, s.users, org, sess.UserID); err != nil {
		return nil, err
	}
	var next enroll.Phase
	switch sess.Phase {
	case enroll.PhaseAttributesReceived:
		next = enroll.PhaseOTAIdentity
	case enroll.PhaseProfileSent:
		next = enroll.PhaseEnrolled
	}
	if err := sess.CheckChallenge(challenge, sess.Phase, now); err != nil {
		return nil, err
	}
	if next == "" {
		return nil, fmt.Errorf("%w: no certificate request is expected", enroll.ErrChallenge)
	}
	var prev enroll.Identity
	if sess.Kind == enroll.KindRenewal {
		if prev, err = s.checkRenewed(ctx, sess, now); err != nil {
			return nil, err
		}
	}
	name := sess.UDID
	if name == "" {
		name = "enrollment " + sess.ID
	}
	// The OTA identity only signs this session's phase 3: it says so in
	// its record, and lives no longer than phase 3 may take.
	purpose, validity := enroll.PurposeMDM, s.validity
	if next == enroll.PhaseOTAIdentity {
		purpose, validity = enroll.PurposeOTA, s.phase3TTL+otaIdentitySlack
	}
	cert, err := s.issue(ca, csr, pkix.Name{
		CommonName:         name,
		OrganizationalUnit: []string{sess.ID},
		Organization:       []string{string(org)},
	}, now, validity)
	if err != nil {
		return nil, err
	}
	ident := identityOf(org, cert, sess.ID, sess.UserID, string(sess.Policy), now)
	ident.Purpose, ident.Platform = purpose, sess.Platform
	if sess.Kind == enroll.KindOTA && purpose == enroll.PurposeMDM {
		// Phase 2 was signed by Apple's device CA for this UDID: the
		// identity is this device's, and no other's.
		ident.AttestedUDID = sess.UDID
	}
	if sess.Kind == enroll.KindRenewal {
		// The successor is the same device's MDM identity: it renews its
		// predecessor and carries what was attested of the device.
		ident.Renews, ident.AttestedUDID = sess.Renews, prev.AttestedUDID
		if ident.Platform == "" {
			ident.Platform = prev.Platform
		}
	}
	sess.Phase = next
	sess.ChallengeHash = nil
	sess.Identity = ident.Fingerprint
	sess.Expires = now.Add(s.phase3TTL)
	if _, err := s.store.AdvanceEnrollSession(ctx, sess, &ident, storage.AuditEntry{
		Org: org, Time: now, Actor: "user:" + sess.UserID, Action: ActionIssue,
		Target: "enrollment:" + sess.ID, Details: map[string]string{"serial": ident.Serial, "phase": string(next)},
	}); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return nil, fmt.Errorf("%w: already used: %w", enroll.ErrChallenge, err)
		}
		return nil, err
	}
	return cert, nil
}

// checkRenewed returns the identity a renewal session renews, refusing one
// that can no longer be renewed: unknown, not an MDM identity bound to a
// device, revoked or expired. Its successor would bind to nothing.
func (s *Service) checkRenewed(ctx context.Context, sess enroll.Session, now time.Time) (enroll.Identity, error) {
	prev, err := s.store.Identity(ctx, sess.Org, sess.Renews)
	if errors.Is(err, storage.ErrNotFound) {
		return prev, fmt.Errorf("%w: the identity to renew is unknown", ErrRenewal)
	}
	if err != nil {
		return prev, err
	}
	switch {
	case prev.Device == "" || !prev.Revoked.IsZero() || prev.Purpose != enroll.PurposeMDM:
		return prev, fmt.Errorf("%w: the identity to renew is not a device's MDM identity", ErrRenewal)
	case !now.Before(prev.NotAfter):
		return prev, fmt.Errorf("%w: the identity to renew has expired", ErrRenewal)
	}
	return prev, nil
}

// renew issues a successor to an identity this CA issued, in its renewal
// window.
func (s *Service) renew(ctx context.Context, org storage.OrgID, ca *CA, old *x509.Certificate, csr *x509.CertificateRequest, now time.Time) (*x509.Certificate, error) {
	prev, err := s.store.Identity(ctx, org, enroll.FingerprintOf(old))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, fmt.Errorf("%w: certificate was not issued to an enrollment of this org", ErrRenewal)
	}
	if err != nil {
		return nil, err
	}
	if err := auth.CheckActive(ctx, s.users, org, prev.UserID); err != nil {
		return nil, err
	}
	switch {
	case prev.Purpose != enroll.PurposeMDM:
		return nil, fmt.Errorf("%w: a %s identity cannot be renewed, only an MDM identity", ErrRenewal, prev.Purpose)
	case !now.Before(old.NotAfter):
		return nil, fmt.Errorf("%w: certificate expired", ErrRenewal)
	case now.Before(old.NotAfter.Add(-s.renewalWindow)):
		return nil, fmt.Errorf("%w: certificate not yet in its renewal window", ErrRenewal)
	}
	cert, err := s.issue(ca, csr, old.Subject, now, s.validity)
	if err != nil {
		return nil, err
	}
	ident := identityOf(org, cert, prev.Session, prev.UserID, prev.Policy, now)
	ident.Renews, ident.Purpose, ident.AttestedUDID, ident.Platform = prev.Fingerprint, enroll.PurposeMDM, prev.AttestedUDID, prev.Platform
	if _, err := s.store.RecordIdentity(ctx, ident, storage.AuditEntry{
		Org: org, Time: now, Actor: "system", Action: ActionRenew,
		Target: "enrollment:" + prev.Session, Details: map[string]string{"serial": ident.Serial, "renews": string(prev.Fingerprint)},
	}); err != nil {
		return nil, err
	}
	return cert, nil
}

func (s *Service) issue(ca *CA, csr *x509.CertificateRequest, subject pkix.Name, now time.Time, validity time.Duration) (*x509.Certificate, error) {
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      subject,
		NotBefore:    now.Add(-5 * time.Minute), // device clocks drift
		NotAfter:     now.Add(validity),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Certificate, csr.PublicKey, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("scep: issue: %w", err)
	}
	return x509.ParseCertificate(der)
}

func identityOf(org storage.OrgID, cert *x509.Certificate, session, user, pol string, now time.Time) enroll.Identity {
	return enroll.Identity{
		Org: org, Fingerprint: enroll.FingerprintOf(cert), Serial: fmt.Sprintf("%x", cert.SerialNumber),
		Session: session, UserID: user, Policy: pol, Issued: now, NotAfter: cert.NotAfter,
	}
}
