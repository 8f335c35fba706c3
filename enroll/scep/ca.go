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
	"math/big"
	"sync"
	"time"

	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/seal"
)

// CA is an org's device certificate authority. Key signs certificates and
// CertRep messages and decrypts the devices' requests, so it must hold an
// RSA key and implement crypto.Decrypter as well (SCEP clients encrypt to
// the CA with RSA key transport); an HSM or KMS key that does both works.
type CA struct {
	Certificate *x509.Certificate
	Key         crypto.Signer
}

// check reports whether the CA is usable for SCEP.
func (ca *CA) check() error {
	switch {
	case ca == nil || ca.Certificate == nil || ca.Key == nil:
		return fmt.Errorf("%w: certificate or key missing", ErrCA)
	case !ca.Certificate.IsCA:
		return fmt.Errorf("%w: certificate is not a CA", ErrCA)
	}
	pub, ok := ca.Key.Public().(*rsa.PublicKey)
	if !ok || !pub.Equal(ca.Certificate.PublicKey) {
		return fmt.Errorf("%w: key is not the certificate's RSA key", ErrCA)
	}
	if _, ok := ca.Key.(crypto.Decrypter); !ok {
		return fmt.Errorf("%w: key cannot decrypt", ErrCA)
	}
	return nil
}

// ErrCA reports an org CA that cannot be loaded or used.
var ErrCA = errors.New("scep: org CA not usable")

// Authorities supplies each org's CA. Implementations must be safe for
// concurrent use and return the same CA for an org every time (devices
// pin it); an org without a CA is an error, never a new CA per call.
type Authorities interface {
	CA(ctx context.Context, org storage.OrgID) (*CA, error)
}

// StoredCA is an org CA as a CAStore keeps it.
type StoredCA struct {
	Org storage.OrgID
	// Certificate is the DER certificate.
	Certificate []byte
	// Key is the PKCS #8 DER private key.
	Key     []byte
	Created time.Time
}

// Validate checks the record's fields.
func (c StoredCA) Validate() error {
	switch {
	case c.Org.Validate() != nil:
		return c.Org.Validate()
	case len(c.Certificate) == 0 || len(c.Certificate) > 16<<10:
		return fmt.Errorf("%w: CA certificate must be 1 byte to 16 KiB", storage.ErrInvalid)
	case len(c.Key) == 0 || len(c.Key) > 16<<10:
		return fmt.Errorf("%w: CA key must be 1 byte to 16 KiB", storage.ErrInvalid)
	}
	if _, err := x509.ParseCertificate(c.Certificate); err != nil {
		return fmt.Errorf("%w: CA certificate: %w", storage.ErrInvalid, err)
	}
	if seal.IsSealed(c.Key) {
		return nil // opened, and parsed, with the keeper that sealed it
	}
	if _, err := x509.ParsePKCS8PrivateKey(c.Key); err != nil {
		return fmt.Errorf("%w: CA key: %w", storage.ErrInvalid, err)
	}
	return nil
}

// CAStore keeps one generated CA per org. Every method is safe for
// concurrent use; another org's CA is ErrNotFound.
type CAStore interface {
	// Org returns the org, or ErrNotFound: a CA is generated only for an
	// org that exists, as device-facing URLs name orgs unauthenticated.
	Org(ctx context.Context, id storage.OrgID) (storage.Org, error)
	// CreateSCEPCA stores the org's CA with entry, in one transaction. An
	// org that has one already yields ErrAlreadyExists and keeps it.
	CreateSCEPCA(ctx context.Context, ca StoredCA, entry storage.AuditEntry) (StoredCA, error)
	// SCEPCA returns the org's CA, or ErrNotFound.
	SCEPCA(ctx context.Context, org storage.OrgID) (StoredCA, error)
	// ResealSCEPCA replaces the org's stored CA key, when it is still old,
	// by sealed (the same key, sealed: see package seal), with entry, in
	// one transaction. A key that is no longer old yields ErrConflict (it
	// was sealed meanwhile) and changes nothing; an org without a CA
	// ErrNotFound.
	ResealSCEPCA(ctx context.Context, org storage.OrgID, old, sealed []byte, entry storage.AuditEntry) error
}

// GeneratedCAs is the Authorities of the example server: each org's CA is
// generated on first use (RSA-2048) and kept in a CAStore, private key
// included — sealed with a key kept outside the database when a keeper is
// given (WithKeeper). An embedder that keeps CA keys in an HSM or KMS
// implements Authorities instead.
type GeneratedCAs struct {
	store    CAStore
	now      func() time.Time
	validity time.Duration
	keyBits  int
	keeper   seal.Keeper
	log      *slog.Logger

	mu    sync.Mutex
	cache map[storage.OrgID]*CA
	// gen serializes the first use of an org's CA: a burst of first
	// enrollments would otherwise generate a key each, all but one wasted.
	gen sync.Mutex
}

// DefaultCAValidity is how long a generated CA is valid.
const DefaultCAValidity = 10 * 365 * 24 * time.Hour

// GeneratedOption configures NewGeneratedCAs.
type GeneratedOption func(*GeneratedCAs)

// WithKeeper seals every CA private key with k before it is stored (label
// "scep-ca-key:<org>"), and seals a key stored in plain text before, at
// its first use. Without it keys are stored as plain PKCS #8.
func WithKeeper(k seal.Keeper) GeneratedOption { return func(g *GeneratedCAs) { g.keeper = k } }

// WithCALogger sets where a failure to seal a stored key is logged.
func WithCALogger(l *slog.Logger) GeneratedOption { return func(g *GeneratedCAs) { g.log = l } }

// NewGeneratedCAs returns Authorities generating CAs into store. now is the
// clock (time.Now when nil).
func NewGeneratedCAs(store CAStore, now func() time.Time, opts ...GeneratedOption) *GeneratedCAs {
	if now == nil {
		now = time.Now
	}
	g := &GeneratedCAs{store: store, now: now, validity: DefaultCAValidity, keyBits: 2048, cache: map[storage.OrgID]*CA{},
		log: slog.Default()}
	for _, o := range opts {
		o(g)
	}
	return g
}

// caKeyLabel binds a sealed CA key to its org.
func caKeyLabel(org storage.OrgID) string { return "scep-ca-key:" + string(org) }

// CA implements Authorities: the stored CA, or a new one stored now. First
// uses at once wait for one generation (in this process; across processes
// one CA wins) and all return it.
func (g *GeneratedCAs) CA(ctx context.Context, org storage.OrgID) (*CA, error) {
	g.mu.Lock()
	ca, ok := g.cache[org]
	g.mu.Unlock()
	if ok {
		return ca, nil
	}
	stored, err := g.store.SCEPCA(ctx, org)
	if errors.Is(err, storage.ErrNotFound) {
		g.gen.Lock()
		defer g.gen.Unlock()
		stored, err = g.store.SCEPCA(ctx, org) // another request may have just made it
	}
	if errors.Is(err, storage.ErrNotFound) {
		stored, err = g.generate(ctx, org)
		if errors.Is(err, storage.ErrAlreadyExists) {
			stored, err = g.store.SCEPCA(ctx, org)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("scep: CA of org %q: %w", org, err)
	}
	key, sealed, err := seal.Open(ctx, g.keeper, stored.Key, caKeyLabel(org))
	if err != nil {
		return nil, fmt.Errorf("%w: key of org %q: %w", ErrCA, org, err)
	}
	if !sealed && g.keeper != nil {
		g.reseal(ctx, org, stored.Key)
	}
	stored.Key = key
	ca, err = parseStored(stored)
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	g.cache[org] = ca
	g.mu.Unlock()
	return ca, nil
}

// reseal seals a key stored in plain text before a keeper was configured.
// A failure is logged: the CA works either way, and the next start tries
// again.
func (g *GeneratedCAs) reseal(ctx context.Context, org storage.OrgID, plain []byte) {
	sealed, err := seal.Seal(ctx, g.keeper, plain, caKeyLabel(org))
	if err == nil {
		err = g.store.ResealSCEPCA(ctx, org, plain, sealed, storage.AuditEntry{
			Org: org, Time: g.now(), Actor: "system", Action: ActionCASeal, Target: "org:" + string(org),
		})
	}
	if err != nil && !errors.Is(err, storage.ErrConflict) {
		g.log.WarnContext(ctx, "scep: the org's CA key is stored in plain text and could not be sealed", "org", org, "err", err)
	}
}

func parseStored(s StoredCA) (*CA, error) {
	cert, err := x509.ParseCertificate(s.Certificate)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCA, err)
	}
	k, err := x509.ParsePKCS8PrivateKey(s.Key)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCA, err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: stored key %T cannot sign", ErrCA, k)
	}
	ca := &CA{Certificate: cert, Key: signer}
	return ca, ca.check()
}

func (g *GeneratedCAs) generate(ctx context.Context, org storage.OrgID) (StoredCA, error) {
	// A request may name any org: checked before tens of milliseconds of
	// key generation, under the lock every first use waits on.
	if _, err := g.store.Org(ctx, org); err != nil {
		return StoredCA{}, err
	}
	key, err := rsa.GenerateKey(rand.Reader, g.keyBits)
	if err != nil {
		return StoredCA{}, err
	}
	now := g.now()
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "OMM Device CA", Organization: []string{string(org)}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(g.validity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return StoredCA{}, err
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return StoredCA{}, err
	}
	if g.keeper != nil {
		if pk, err = seal.Seal(ctx, g.keeper, pk, caKeyLabel(org)); err != nil {
			return StoredCA{}, err
		}
	}
	return g.store.CreateSCEPCA(ctx, StoredCA{Org: org, Certificate: der, Key: pk}, storage.AuditEntry{
		Org: org, Time: now, Actor: "system", Action: ActionCACreate, Target: "org:" + string(org),
	})
}

// randomSerial returns a positive 127-bit serial number from crypto/rand.
func randomSerial() *big.Int {
	limit := new(big.Int).Lsh(big.NewInt(1), 127)
	n, err := rand.Int(rand.Reader, limit)
	if err != nil {
		panic(err) // crypto/rand never fails
	}
	return n.Add(n, big.NewInt(1))
}
