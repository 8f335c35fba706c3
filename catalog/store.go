package catalog

import (
	"context"

	"github.com/openomm/omm/storage"
)

// MaxGroupsQuery bounds the groups one [Store.AssignedApps] call asks
// about.
const MaxGroupsQuery = 1000

// Store keeps the catalog: apps, their assignments to groups, and the
// latest install or removal of each app on each device. Every method is
// safe for concurrent use; a record of another org is ErrNotFound; input
// breaking a Validate rule is ErrInvalid and changes nothing. Mutating
// methods append the given audit entry in the same transaction (its Org
// must be the record's).
//
// The store also holds the devices' MDM command queue ([Commands]), so
// that an install and its command commit together ([InstallQueuer]).
type Store interface {
	Commands
	InstallQueuer

	// CreateApp stores a new app. It returns the app as stored: Version 1,
	// Created and Updated set to entry.Time. An ID in use, or an Identifier
	// in use by another app of the org in the same [Kind.Family], yields
	// ErrAlreadyExists; an unknown org ErrNotFound.
	CreateApp(ctx context.Context, a App, entry storage.AuditEntry) (App, error)
	// App returns the app with this ID, or ErrNotFound.
	App(ctx context.Context, org storage.OrgID, id string) (App, error)
	// ListApps returns the org's apps ordered by Name, then ID.
	ListApps(ctx context.Context, org storage.OrgID) ([]App, error)
	// UpdateApp replaces the app's fields. a.Version must be the stored
	// version, else ErrConflict; [CheckUpdate] against the stored app must
	// pass, else ErrInvalid. It returns the app as stored (Version
	// incremented, Updated set to entry.Time). Unknown app: ErrNotFound.
	UpdateApp(ctx context.Context, a App, entry storage.AuditEntry) (App, error)
	// DeleteApp removes the app and its install records. version must be
	// the stored version, else ErrConflict. An app that is still assigned
	// to a group yields ErrConflict: unassigning first is what removes it
	// from devices.
	DeleteApp(ctx context.Context, org storage.OrgID, id string, version int64, entry storage.AuditEntry) error

	// CreateAssignment assigns an app to a group. It returns the
	// assignment as stored (Version 1, Created and Updated entry.Time). An
	// unknown app yields ErrNotFound; an existing assignment of the app to
	// the group ErrAlreadyExists.
	CreateAssignment(ctx context.Context, a Assignment, entry storage.AuditEntry) (Assignment, error)
	// UpdateAssignment changes the mode. a.Version must be the stored
	// version, else ErrConflict; unknown: ErrNotFound.
	UpdateAssignment(ctx context.Context, a Assignment, entry storage.AuditEntry) (Assignment, error)
	// DeleteAssignment removes the app's assignment to group and returns it
	// as it was; unknown: ErrNotFound.
	DeleteAssignment(ctx context.Context, org storage.OrgID, appID, group string, entry storage.AuditEntry) (Assignment, error)
	// ListAssignments returns the app's assignments ordered by group; an
	// unknown app has none.
	ListAssignments(ctx context.Context, org storage.OrgID, appID string) ([]Assignment, error)
	// AssignedApps returns the apps assigned to any of groups, each with
	// its assignments to those groups (ordered by group), ordered by app
	// Name, then ID. Duplicate groups count once; more than MaxGroupsQuery
	// groups is ErrInvalid.
	AssignedApps(ctx context.Context, org storage.OrgID, groups []string) ([]AssignedApp, error)

	// StartInstall stores in as the device's record for the app, replacing
	// any previous one, with Updated set to entry.Time. prevCommand must
	// be the Command of the record the caller read, or "" when it read
	// none; otherwise ErrConflict, so that two concurrent requests cannot
	// both queue a command. An unknown app yields ErrNotFound; a Command
	// already used by another record of the device ErrAlreadyExists.
	StartInstall(ctx context.Context, in Install, prevCommand string, entry storage.AuditEntry) (Install, error)
	// FinishInstall records the device's answer to command: the open
	// record it belongs to moves to progress to (see [CheckFinish]) with
	// reason, Updated set to entry.Time, and entry is appended. Answering
	// a record that is no longer open is idempotent: the stored record is
	// returned unchanged, nothing is appended. No record with this command
	// (unknown, or replaced by a later request) yields ErrNotFound.
	FinishInstall(ctx context.Context, org storage.OrgID, device, command string, to Progress, reason string, entry storage.AuditEntry) (Install, error)
	// DeviceInstalls returns the device's records ordered by app ID, at
	// most MaxInstallsPage; an unknown device has none.
	DeviceInstalls(ctx context.Context, org storage.OrgID, device string) ([]Install, error)
}
