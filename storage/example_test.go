package storage_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
)

// Every change is written together with the audit entry that records it,
// and every read is scoped to one org.
func Example() {
	ctx := context.Background()
	var s interface {
		storage.OrgStore
		storage.AuditLog
	} = memory.New()

	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	acme := storage.Org{ID: "org_acme", Name: "acme", DisplayName: "Acme Corporation"}
	if _, err := s.CreateOrg(ctx, acme, storage.AuditEntry{
		Org: acme.ID, Time: now, Actor: "admin:root", Action: "org.create", Target: "org:acme",
	}); err != nil {
		fmt.Println(err)
		return
	}

	// The same site name cannot be taken twice.
	_, err := s.CreateOrg(ctx, storage.Org{ID: "org_other", Name: "acme", DisplayName: "Impostor"},
		storage.AuditEntry{Org: "org_other", Time: now, Actor: "admin:root", Action: "org.create"})
	fmt.Println(errors.Is(err, storage.ErrAlreadyExists))

	page, _ := s.ListAudit(ctx, acme.ID, storage.AuditQuery{})
	for _, e := range page.Entries {
		fmt.Println(e.Time.Format(time.RFC3339), e.Actor, e.Action, e.Target)
	}
	// Output:
	// true
	// 2026-11-27T09:00:00Z admin:root org.create org:acme
}
