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
