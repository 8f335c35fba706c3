package checkin

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/events"
	"github.com/openomm/omm/internal/cms"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
)

// maxSignatureHeader bounds the Mdm-Signature header: a detached CMS
// signature with the device certificate is a few kilobytes.
const maxSignatureHeader = 32 << 10

// signatureLimits bounds the decoded signature before the CMS parser runs.
var signatureLimits = cms.Limits{MaxSize: maxSignatureHeader, MaxDepth: 32}

// Proof is how a request shows which device identity sent it.
type Proof struct {
	// TLS is the client certificate the TLS layer received, if any.
	TLS *x509.Certificate
	// Signature is the Mdm-Signature header, if any: base64 of a detached
	// CMS signature over the body.
	Signature string
}

// ProofFrom extracts the proof from an HTTP request.
func ProofFrom(r *http.Request) Proof {
	var p Proof
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		p.TLS = r.TLS.PeerCertificates[0]
	}
	p.Signature = r.Header.Get("Mdm-Signature")
	return p
}

// certificate returns the certificate that proves the request, verified:
// issued by the org's device CA for client authentication, and (for a
// signature) having signed exactly body.
func (s *Service) certificate(ctx context.Context, org storage.OrgID, p Proof, body []byte) (*x509.Certificate, error) {
	if p.Signature == "" && p.TLS == nil {
		return nil, ErrNoIdentity
	}
	ca, err := s.cas.CACertificate(ctx, org)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, forbidden("org %q has no device CA", org)
	}
	if err != nil {
		return nil, fmt.Errorf("checkin: device CA of %q: %w", org, err)
	}
	now := s.clock()
	var cert *x509.Certificate
	switch {
	case p.Signature != "":
		if len(p.Signature) > maxSignatureHeader {
			return nil, forbidden("Mdm-Signature header is too large")
		}
		der, err := base64.StdEncoding.DecodeString(p.Signature)
		if err != nil {
			return nil, forbidden("Mdm-Signature is not base64")
		}
		sd, err := cms.Parse(der, signatureLimits)
		if err != nil {
			return nil, forbidden("Mdm-Signature: %v", err)
		}
		// The signature covers the body: checked on every message. The
		// signer's chain is the certificate's: checked once per
		// certificate, like a TLS client certificate's.
		cert, err = sd.VerifyDetached(body, cms.VerifyOptions{
			VerifyChain: func(signer *x509.Certificate, carried []*x509.Certificate) error {
				return s.verifyChain(org, ca, signer, carried, now)
			},
		})
		if err != nil {
			return nil, forbidden("Mdm-Signature: %v", err)
		}
	case p.TLS != nil:
		cert = p.TLS
		if err := s.verifyChain(org, ca, cert, nil, now); err != nil {
			return nil, forbidden("client certificate: %v", err)
		}
	default:
		return nil, ErrNoIdentity
	}
	return cert, nil
}

// verifyChain checks that cert was issued by the org's device CA for
// client authentication and is valid at now, through intermediates if
// any; a certificate once verified is remembered (verified.go) for its
// validity, so that a device's every message does not pay for the chain.
func (s *Service) verifyChain(org storage.OrgID, ca, cert *x509.Certificate, intermediates []*x509.Certificate, now time.Time) error {
	k := keyOf(org, ca, cert)
	if s.verified.known(k, cert, now) {
		return nil
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	var inter *x509.CertPool
	if len(intermediates) > 0 {
		inter = x509.NewCertPool()
		for _, c := range intermediates {
			inter.AddCert(c)
		}
	}
	if _, err := cert.Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, CurrentTime: now,
	}); err != nil {
		return err
	}
	s.verified.add(k)
	return nil
}

// identity returns the recorded identity that proves the request.
func (s *Service) identity(ctx context.Context, org storage.OrgID, p Proof, body []byte) (enroll.Identity, error) {
	cert, err := s.certificate(ctx, org, p, body)
	if err != nil {
		return enroll.Identity{}, err
	}
	return s.identityOf(ctx, org, cert)
}

// identityOf returns the recorded identity of cert, verified already.
func (s *Service) identityOf(ctx context.Context, org storage.OrgID, cert *x509.Certificate) (enroll.Identity, error) {
	id, err := s.store.Identity(ctx, org, enroll.FingerprintOf(cert))
	if errors.Is(err, storage.ErrNotFound) {
		return enroll.Identity{}, forbidden("certificate %s was not issued for an enrollment of this org", cert.SerialNumber.Text(16))
	}
	if err != nil {
		return id, err
	}
	if id.Purpose != enroll.PurposeMDM {
		// The OTA identity signs its session's phase 3 and nothing else.
		return enroll.Identity{}, forbidden("certificate %s was issued as a %s identity, not an MDM identity", id.Serial, id.Purpose)
	}
	return id, nil
}

// boundDevice returns the device the request's identity is bound to, and
// checks that the message names that device. An identity renewed from a
// bound one is bound to the same device on first use.
func (s *Service) boundDevice(ctx context.Context, org storage.OrgID, p Proof, body []byte, channel string) (inventory.Device, enroll.Identity, error) {
	b, err := s.bound(ctx, org, p, body, channel)
	return b.device, b.identity, err
}

// binding is what bound found: the device, the identity, and whether the
// device's queue was read with them (read) and had an open command then.
type binding struct {
	device     inventory.Device
	identity   enroll.Identity
	read, open bool
}

// bound is boundDevice. With a store that reads a binding in one query
// (enroll.BindingStore, over the registry's own store), the common case —
// an MDM identity bound to the device that sends the message — is that one
// read, which also tells whether the device has commands waiting; anything
// else is read step by step, as without such a store, to refuse it with
// the same answer.
func (s *Service) bound(ctx context.Context, org storage.OrgID, p Proof, body []byte, channel string) (binding, error) {
	cert, err := s.certificate(ctx, org, p, body)
	if err != nil {
		return binding{}, err
	}
	if s.bindings != nil {
		b, err := s.bindings.Binding(ctx, org, enroll.FingerprintOf(cert))
		switch {
		case err == nil && b.Identity.Purpose == enroll.PurposeMDM && b.Device.Identifier == channel:
			return binding{device: b.Device, identity: b.Identity, read: true, open: b.Open}, nil
		case err != nil && !errors.Is(err, storage.ErrNotFound):
			return binding{}, err
		}
	}
	id, err := s.identityOf(ctx, org, cert)
	if err != nil {
		return binding{identity: id}, err
	}
	if id.Device == "" && id.Renews != "" {
		if id, err = s.bindRenewal(ctx, id, channel); err != nil {
			return binding{identity: id}, err
		}
	}
	if id.Device == "" {
		return binding{identity: id}, forbidden("identity %s is not bound to a device yet: Authenticate first", id.Serial)
	}
	d, err := s.devices.Device(ctx, org, id.Device)
	if err != nil {
		return binding{identity: id}, fmt.Errorf("checkin: device %s of identity %s: %w", id.Device, id.Serial, err)
	}
	if d.Identifier != channel {
		return binding{identity: id}, forbidden("identity %s belongs to another device", id.Serial)
	}
	return binding{device: d, identity: id}, nil
}

// bindRenewal binds a renewed identity to its predecessor's device, when
// the message comes from that device (its channel) and its enrollment has
// not ended; anything else is refused and binds nothing. The binding
// completes the renewal (enroll.RenewalStore) and emits
// events.IdentityRenewed, in one transaction.
func (s *Service) bindRenewal(ctx context.Context, id enroll.Identity, channel string) (enroll.Identity, error) {
	prev, err := s.store.Identity(ctx, id.Org, id.Renews)
	if err != nil || prev.Device == "" {
		return id, forbidden("identity %s renews an identity that is not bound", id.Serial)
	}
	d, err := s.devices.Device(ctx, id.Org, prev.Device)
	if err != nil {
		return id, fmt.Errorf("checkin: device %s of identity %s: %w", prev.Device, prev.Serial, err)
	}
	switch {
	case d.Identifier != channel:
		return id, forbidden("identity %s renews the identity of another device", id.Serial)
	case d.State.Terminal():
		return id, forbidden("identity %s renews an identity whose enrollment has ended (device %s is %s)", id.Serial, d.ID, d.State)
	}
	bound, err := s.store.BindIdentity(ctx, id.Org, id.Fingerprint, prev.Device, storage.AuditEntry{
		Org: id.Org, Time: s.clock(), Actor: "device:" + prev.Device, Action: enroll.ActionIdentityRenewed,
		Target: "device:" + prev.Device, Details: map[string]string{"serial": id.Serial, "previous": prev.Serial},
		Event: events.IdentityRenewed,
	})
	if errors.Is(err, storage.ErrConflict) {
		return id, forbidden("identity %s cannot be bound: %v", id.Serial, err)
	}
	return bound, err
}
