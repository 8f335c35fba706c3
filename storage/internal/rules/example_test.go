package rules_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/internal/rules"
)

// Every backend runs the same checks: an audit entry must record a change
// of the org it belongs to, and a created org starts at version 1.
func ExampleNewOrg() {
	when := time.Date(2026, 11, 27, 9, 0, 0, 123456789, time.UTC)
	o := storage.Org{ID: "org_acme", Name: "acme", DisplayName: "Acme"}
	_, _, err := rules.NewOrg(o, storage.AuditEntry{Org: "org_other", Time: when, Actor: "system", Action: "org.create"})
	fmt.Println(errors.Is(err, storage.ErrInvalid))

	stored, entry, err := rules.NewOrg(o, storage.AuditEntry{Org: o.ID, Time: when, Actor: "system", Action: "org.create"})
	fmt.Println(stored.Version, stored.Created.Nanosecond(), entry.Time.Equal(stored.Created), err)
	// Output:
	// true
	// 1 123456000 true <nil>
}
