package memory_test

import (
	"context"
	"fmt"
	"time"

	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
)

func Example() {
	ctx := context.Background()
	s := memory.New()
	o := storage.Org{ID: "org_acme", Name: "acme", DisplayName: "Acme"}
	created, err := s.CreateOrg(ctx, o, storage.AuditEntry{
		Org: o.ID, Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Actor: "system", Action: "org.create",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	found, _ := s.OrgByName(ctx, "acme")
	fmt.Println(found.DisplayName, found.Version, found.Created.Equal(created.Created))
	// Output: Acme 1 true
}
