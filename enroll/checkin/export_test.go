package checkin

import (
	"context"
	"crypto/x509"

	"github.com/openomm/omm/storage"
)

// VerifyProof is the identity check of a request, for benchmarks: the
// verified certificate that proves p for org.
func (s *Service) VerifyProof(ctx context.Context, org storage.OrgID, p Proof, body []byte) (*x509.Certificate, error) {
	return s.certificate(ctx, org, p, body)
}

// StepwiseReads makes the service read a check-in's identity, device and
// queue one after the other, as over a store that cannot read a binding.
var StepwiseReads Option = func(s *Service) { s.bindings = nil }

// ReadsBindings reports whether the service reads a check-in's binding in
// one query.
func (s *Service) ReadsBindings() bool { return s.bindings != nil }
