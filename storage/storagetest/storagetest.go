// Package storagetest is the conformance suite every storage backend passes:
// one set of cases, run against a fresh store per case, that pins down the
// documented behavior of each store contract — not found, duplicates,
// conflicts, invalid input leaving the store unchanged, tenant isolation,
// atomicity of a change and its audit entry, and concurrency.
//
// A backend's test file is a few lines:
//
//	func TestConformance(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T) storagetest.Store { return newStore(t) })
//	}
package storagetest

import (
	"testing"

	"github.com/openomm/omm/android"
	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/catalog"
	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/declarative"
	"github.com/openomm/omm/events"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// Store is every contract a complete backend implements.
type Store interface {
	storage.OrgStore
	storage.AuditLog
	auth.Store
	policy.Store
	inventory.Store
	enroll.CommandQueue
	enroll.InventoryAnswerQueue
	enroll.EnrollmentStore
	enroll.AuthenticateStore // authenticate.go
	otaStore                 // enroll_ota.go
	catalog.Store
	catalog.InstallQueuer // catalog_queue.go
	android.Store
	reapplyStore        // reapply.go
	enroll.ActionStore  // deprovision.go
	revocationStore     // revocation.go
	events.Store        // events.go
	declarative.Store   // declarative.go
	enroll.PurgeStore   // purge.go
	storage.Leases      // replicas.go
	enroll.PushOutbox   // replicas.go
	enroll.RenewalStore // renewal.go
	policy.ReapplyQueue // reapply_queue.go
}

// testCase is one conformance check. It takes testing.TB rather than
// *testing.T so that the suite's own tests can run it against deliberately
// broken backends and observe that it fails.
type testCase struct {
	name string
	run  func(t testing.TB, s Store)
}

// cases lists every conformance check, grouped by contract.
func cases() []testCase {
	var all []testCase
	all = append(all, orgCases()...)
	all = append(all, auditCases()...)
	all = append(all, authCases()...)
	all = append(all, policyCases()...)
	all = append(all, inventoryCases()...)
	all = append(all, enrollCases()...)
	all = append(all, enrollmentCases()...)
	all = append(all, authenticateCases()...)
	all = append(all, enrollOTACases()...)
	all = append(all, catalogCases()...)
	all = append(all, catalogQueueCases()...)
	all = append(all, androidCases()...)
	all = append(all, reapplyCases()...)
	all = append(all, deprovisionCases()...)
	all = append(all, revocationCases()...)
	all = append(all, eventCases()...)
	all = append(all, declarativeCases()...)
	all = append(all, replicaCases()...)
	all = append(all, limitCases()...)
	all = append(all, purgeCases()...)
	all = append(all, renewalCases()...)
	all = append(all, reapplyQueueCases()...)
	return all
}

// Run runs the whole conformance suite, each case as a subtest with a store
// of its own from newStore. newStore should register the store's cleanup
// with t.Cleanup.
func Run(t *testing.T, newStore func(t *testing.T) Store) {
	for _, c := range cases() {
		t.Run(c.name, func(t *testing.T) {
			// Each case has a store of its own, so they run side by side:
			// the SQL backends spend most of their time waiting on disk.
			t.Parallel()
			c.run(t, newStore(t))
		})
	}
}
