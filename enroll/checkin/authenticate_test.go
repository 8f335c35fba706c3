package checkin_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/checkin"
	"github.com/openomm/omm/storage"
)

// staleIdentity answers Identity with the identity as it was before
// another request bound it: the read of an Authenticate racing another
// device's Authenticate with the same identity.
type staleIdentity struct {
	checkin.Store
	mu    sync.Mutex
	stale bool
}

func (s *staleIdentity) Identity(ctx context.Context, org storage.OrgID, f enroll.Fingerprint) (enroll.Identity, error) {
	id, err := s.Store.Identity(ctx, org, f)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stale {
		id.Device = ""
	}
	return id, err
}

// TestAuthenticateRefusedLeavesNothing: an Authenticate whose binding is
// refused (the identity went to another device meanwhile) is answered 403
// and stores nothing of itself — no pending device record, no audit
// entry — since registering, binding, clearing the queue and starting the
// enrollment are one transaction.
func TestAuthenticateRefusedLeavesNothing(t *testing.T) {
	wrap := &staleIdentity{}
	e := newEnvWrapped(t, func(s checkin.Store) checkin.Store { wrap.Store = s; return wrap })
	first := e.newDevice(e.orgA, "UDID-FIRST", "alice")
	if st := first.authenticate(); st != http.StatusOK {
		t.Fatalf("Authenticate: %d", st)
	}
	before, err := e.store.ListAudit(t.Context(), e.orgA, storage.AuditQuery{Limit: storage.MaxAuditPage})
	if err != nil {
		t.Fatal(err)
	}
	// A second phone presents the same identity; its read of the identity
	// is from before the first phone bound it.
	second := *first
	second.udid = "UDID-SECOND"
	wrap.mu.Lock()
	wrap.stale = true
	wrap.mu.Unlock()
	if st := second.authenticate(); st != http.StatusForbidden {
		t.Fatalf("Authenticate with an identity bound meanwhile: %d, want 403", st)
	}
	if _, err := e.store.DeviceByIdentifier(t.Context(), e.orgA, second.udid); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("the refused Authenticate left a device record: %v", err)
	}
	after, err := e.store.ListAudit(t.Context(), e.orgA, storage.AuditQuery{Limit: storage.MaxAuditPage})
	if err != nil {
		t.Fatal(err)
	}
	if len(after.Entries) != len(before.Entries) {
		t.Errorf("the refused Authenticate appended %d audit entries", len(after.Entries)-len(before.Entries))
	}
	// The first phone's enrollment goes on.
	wrap.mu.Lock()
	wrap.stale = false
	wrap.mu.Unlock()
	if st := first.tokenUpdate("token-1"); st != http.StatusOK {
		t.Fatalf("TokenUpdate of the first phone: %d", st)
	}
}
