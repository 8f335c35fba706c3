// Package storage owns what every stored record shares: the tenant (org)
// identifier that scopes every record and every query, the sentinel errors
// every store contract uses, and the two contracts every other package builds
// on — orgs and the append-only audit log.
//
// Orgs and the audit log live here rather than in auth because every other
// record references an org, and every change anywhere is recorded in the
// audit log in the same transaction as the change itself. Package-specific
// contracts (users, policies, devices …) are declared by the package that
// consumes them. One implementation, storage/sqlstore, implements all of
// them over database/sql; storage/sqlite, storage/postgres and
// storage/memory (in-memory SQLite) run it, and storage/storagetest is the
// one conformance suite they all pass.
//
// Operations that must be atomic across domains are part of the
// contracts, not discovered at run time: a catalog install and its MDM
// command (catalog.InstallQueuer), a device action with its state change,
// commands and the TokenUpdate that completes an enrollment
// (enroll.ActionStore), an MDM Authenticate's new device record, identity
// binding, cleared queue and started enrollment (enroll.AuthenticateStore),
// a re-applied policy with its command
// or Android requirements (ota.ReapplyStore, android.ReapplyStore), and
// every change with its audit entry.
//
// # Tenancy
//
// Every record carries an [OrgID] and every store method takes one. A method
// given org A never reads or writes a record of org B: a record of another
// org is reported as [ErrNotFound], exactly as if it did not exist, so that a
// caller cannot learn that it exists.
//
// # Audit in the same transaction
//
// Mutating store methods take the [AuditEntry] that records the change and
// commit both together or neither. Entries are never updated or deleted;
// there is no method that could.
//
// # Times
//
// Stores keep times in UTC with microsecond precision (what PostgreSQL
// keeps); [Normalize] applies the same rounding so that every backend
// returns exactly what the others do.
//
// # Adding a store contract
//
// A package that stores records (auth's users, policy's policies …) adds its
// contract in five steps, so that every backend behaves alike:
//
//  1. Declare the interface in the consuming package, ctx first and the
//     OrgID on every method; its doc says what "not found", duplicates and
//     concurrent writers yield, in terms of the sentinel errors here.
//     Mutating methods take the AuditEntry that records the change.
//  2. Put the checks on the record types (a Validate method) in that
//     package, so that every backend rejects exactly the same input with
//     ErrInvalid before writing anything.
//  3. Add one migration to storage/sqlstore/migrations (a template for
//     both databases; see that package). Tables carry org_id referencing
//     orgs(id); keys and indexes start with org_id.
//  4. Implement the interface once, in storage/sqlstore, writing the audit
//     entry in the same transaction.
//  5. Add cases to storage/storagetest in one file per package, register
//     them in its cases list, and embed the interface in storagetest.Store.
package storage
