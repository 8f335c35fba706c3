package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/openomm/omm/catalog"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/internal/rules"
)

// catalogData holds the catalog.Store tables; its zero value is ready, the
// maps being made on first write. Guarded by Store.mu.
type catalogData struct {
	apps     map[storage.OrgID]map[string]catalog.App
	assigns  map[storage.OrgID]map[assignKey]catalog.Assignment
	installs map[storage.OrgID]map[string]map[string]catalog.Install // by device, then app
}

type assignKey struct{ app, group string }

func (c *catalogData) init(org storage.OrgID) {
	if c.apps == nil {
		c.apps = map[storage.OrgID]map[string]catalog.App{}
		c.assigns = map[storage.OrgID]map[assignKey]catalog.Assignment{}
		c.installs = map[storage.OrgID]map[string]map[string]catalog.Install{}
	}
	if c.apps[org] == nil {
		c.apps[org] = map[string]catalog.App{}
		c.assigns[org] = map[assignKey]catalog.Assignment{}
		c.installs[org] = map[string]map[string]catalog.Install{}
	}
}

func checkApp(a catalog.App, e storage.AuditEntry) (catalog.App, storage.AuditEntry, error) {
	if err := a.Validate(); err != nil {
		return a, e, err
	}
	e, err := rules.ChangeEntry(a.Org, e)
	return a.Normalize(), e, err
}

// appIdentifierTakenLocked reports another app of a's org and family with
// a's identifier; s.mu must be held.
func (s *Store) appIdentifierTakenLocked(a catalog.App) (catalog.App, bool) {
	for _, o := range s.catalog.apps[a.Org] {
		if o.ID != a.ID && o.Identifier == a.Identifier && o.Kind.Family() == a.Kind.Family() {
			return o, true
		}
	}
	return catalog.App{}, false
}

// CreateApp implements catalog.Store.
func (s *Store) CreateApp(ctx context.Context, a catalog.App, e storage.AuditEntry) (catalog.App, error) {
	a, e, err := checkApp(a, e)
	if err != nil {
		return catalog.App{}, err
	}
	a.Version = 1
	a.Created, a.Updated = e.Time, e.Time
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.orgs[a.Org]; !ok {
		return catalog.App{}, fmt.Errorf("create app: org %q: %w", a.Org, storage.ErrNotFound)
	}
	if _, ok := s.catalog.apps[a.Org][a.ID]; ok {
		return catalog.App{}, fmt.Errorf("create app: id %q: %w", a.ID, storage.ErrAlreadyExists)
	}
	if other, ok := s.appIdentifierTakenLocked(a); ok {
		return catalog.App{}, fmt.Errorf("create app: identifier %q is used by app %q: %w", a.Identifier, other.ID, storage.ErrAlreadyExists)
	}
	s.catalog.init(a.Org)
	s.catalog.apps[a.Org][a.ID] = a
	s.appendLocked(e)
	return a.Normalize(), nil
}

// App implements catalog.Store.
func (s *Store) App(ctx context.Context, org storage.OrgID, id string) (catalog.App, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	a, ok := s.catalog.apps[org][id]
	if !ok {
		return catalog.App{}, fmt.Errorf("app %q: %w", id, storage.ErrNotFound)
	}
	return a.Normalize(), nil
}

func compareApps(a, b catalog.App) int {
	return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
}

// ListApps implements catalog.Store.
func (s *Store) ListApps(ctx context.Context, org storage.OrgID) ([]catalog.App, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]catalog.App, 0, len(s.catalog.apps[org]))
	for _, a := range s.catalog.apps[org] {
		out = append(out, a.Normalize())
	}
	slices.SortFunc(out, compareApps)
	return out, nil
}

// UpdateApp implements catalog.Store.
func (s *Store) UpdateApp(ctx context.Context, a catalog.App, e storage.AuditEntry) (catalog.App, error) {
	a, e, err := checkApp(a, e)
	if err != nil {
		return catalog.App{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	stored, ok := s.catalog.apps[a.Org][a.ID]
	if !ok {
		return catalog.App{}, fmt.Errorf("update app %q: %w", a.ID, storage.ErrNotFound)
	}
	if a.Version != stored.Version {
		return catalog.App{}, fmt.Errorf("update app %q: read version %d, stored version %d: %w", a.ID, a.Version, stored.Version, storage.ErrConflict)
	}
	if err := catalog.CheckUpdate(stored, a); err != nil {
		return catalog.App{}, err
	}
	a.Version = stored.Version + 1
	a.Created, a.Updated = stored.Created, e.Time
	s.catalog.apps[a.Org][a.ID] = a
	s.appendLocked(e)
	return a.Normalize(), nil
}

// DeleteApp implements catalog.Store.
func (s *Store) DeleteApp(ctx context.Context, org storage.OrgID, id string, version int64, e storage.AuditEntry) error {
	e, err := rules.ChangeEntry(org, e)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	stored, ok := s.catalog.apps[org][id]
	if !ok {
		return fmt.Errorf("delete app %q: %w", id, storage.ErrNotFound)
	}
	if version != stored.Version {
		return fmt.Errorf("delete app %q: read version %d, stored version %d: %w", id, version, stored.Version, storage.ErrConflict)
	}
	for k := range s.catalog.assigns[org] {
		if k.app == id {
			return fmt.Errorf("delete app %q: still assigned to group %q: %w", id, k.group, storage.ErrConflict)
		}
	}
	delete(s.catalog.apps[org], id)
	for _, byApp := range s.catalog.installs[org] {
		delete(byApp, id)
	}
	s.appendLocked(e)
	return nil
}

func checkAssignment(a catalog.Assignment, e storage.AuditEntry) (catalog.Assignment, storage.AuditEntry, error) {
	if err := a.Validate(); err != nil {
		return a, e, err
	}
	e, err := rules.ChangeEntry(a.Org, e)
	return a.Normalize(), e, err
}

// CreateAssignment implements catalog.Store.
func (s *Store) CreateAssignment(ctx context.Context, a catalog.Assignment, e storage.AuditEntry) (catalog.Assignment, error) {
	a, e, err := checkAssignment(a, e)
	if err != nil {
		return catalog.Assignment{}, err
	}
	a.Version = 1
	a.Created, a.Updated = e.Time, e.Time
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.catalog.apps[a.Org][a.AppID]; !ok {
		return catalog.Assignment{}, fmt.Errorf("assign app %q: %w", a.AppID, storage.ErrNotFound)
	}
	k := assignKey{a.AppID, a.Group}
	if _, ok := s.catalog.assigns[a.Org][k]; ok {
		return catalog.Assignment{}, fmt.Errorf("assign app %q to group %q: %w", a.AppID, a.Group, storage.ErrAlreadyExists)
	}
	s.catalog.assigns[a.Org][k] = a
	s.appendLocked(e)
	return a, nil
}

// UpdateAssignment implements catalog.Store.
func (s *Store) UpdateAssignment(ctx context.Context, a catalog.Assignment, e storage.AuditEntry) (catalog.Assignment, error) {
	a, e, err := checkAssignment(a, e)
	if err != nil {
		return catalog.Assignment{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := assignKey{a.AppID, a.Group}
	stored, ok := s.catalog.assigns[a.Org][k]
	if !ok {
		return catalog.Assignment{}, fmt.Errorf("update assignment of app %q to group %q: %w", a.AppID, a.Group, storage.ErrNotFound)
	}
	if a.Version != stored.Version {
		return catalog.Assignment{}, fmt.Errorf("update assignment of app %q to group %q: read version %d, stored version %d: %w", a.AppID, a.Group, a.Version, stored.Version, storage.ErrConflict)
	}
	a.Version = stored.Version + 1
	a.Created, a.Updated = stored.Created, e.Time
	s.catalog.assigns[a.Org][k] = a
	s.appendLocked(e)
	return a, nil
}

// DeleteAssignment implements catalog.Store.
func (s *Store) DeleteAssignment(ctx context.Context, org storage.OrgID, appID, group string, e storage.AuditEntry) (catalog.Assignment, error) {
	e, err := rules.ChangeEntry(org, e)
	if err != nil {
		return catalog.Assignment{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := assignKey{appID, group}
	stored, ok := s.catalog.assigns[org][k]
	if !ok {
		return catalog.Assignment{}, fmt.Errorf("unassign app %q from group %q: %w", appID, group, storage.ErrNotFound)
	}
	delete(s.catalog.assigns[org], k)
	s.appendLocked(e)
	return stored, nil
}

// ListAssignments implements catalog.Store.
func (s *Store) ListAssignments(ctx context.Context, org storage.OrgID, appID string) ([]catalog.Assignment, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []catalog.Assignment{}
	for k, a := range s.catalog.assigns[org] {
		if k.app == appID {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b catalog.Assignment) int { return cmp.Compare(a.Group, b.Group) })
	return out, nil
}

// AssignedApps implements catalog.Store.
func (s *Store) AssignedApps(ctx context.Context, org storage.OrgID, groups []string) ([]catalog.AssignedApp, error) {
	if len(groups) > catalog.MaxGroupsQuery {
		return nil, fmt.Errorf("%w: %d groups, at most %d per query", storage.ErrInvalid, len(groups), catalog.MaxGroupsQuery)
	}
	want := make(map[string]bool, len(groups))
	for _, g := range groups {
		want[g] = true
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	byApp := map[string]*catalog.AssignedApp{}
	for k, a := range s.catalog.assigns[org] {
		if !want[k.group] {
			continue
		}
		aa := byApp[k.app]
		if aa == nil {
			aa = &catalog.AssignedApp{App: s.catalog.apps[org][k.app].Normalize()}
			byApp[k.app] = aa
		}
		aa.Assignments = append(aa.Assignments, a)
	}
	out := make([]catalog.AssignedApp, 0, len(byApp))
	for _, aa := range byApp {
		slices.SortFunc(aa.Assignments, func(a, b catalog.Assignment) int { return cmp.Compare(a.Group, b.Group) })
		out = append(out, *aa)
	}
	slices.SortFunc(out, func(a, b catalog.AssignedApp) int { return compareApps(a.App, b.App) })
	return out, nil
}

// StartInstall implements catalog.Store.
func (s *Store) StartInstall(ctx context.Context, in catalog.Install, prevCommand string, e storage.AuditEntry) (catalog.Install, error) {
	if err := catalog.ValidateStart(in, prevCommand); err != nil {
		return catalog.Install{}, err
	}
	e, err := rules.ChangeEntry(in.Org, e)
	if err != nil {
		return catalog.Install{}, err
	}
	in.Updated = e.Time
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.startInstallLocked(in, prevCommand, e); err != nil {
		return catalog.Install{}, err
	}
	return in, nil
}

// FinishInstall implements catalog.Store.
func (s *Store) FinishInstall(ctx context.Context, org storage.OrgID, device, command string, to catalog.Progress, reason string, e storage.AuditEntry) (catalog.Install, error) {
	if err := catalog.ValidateFinish(command, to, reason); err != nil {
		return catalog.Install{}, err
	}
	e, err := rules.ChangeEntry(org, e)
	if err != nil {
		return catalog.Install{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for app, r := range s.catalog.installs[org][device] {
		if r.Command != command {
			continue
		}
		if !r.Progress.Open() {
			return r, nil
		}
		if err := catalog.CheckFinish(r.Progress, to); err != nil {
			return catalog.Install{}, err
		}
		r.Progress, r.Reason, r.Updated = to, reason, e.Time
		s.catalog.installs[org][device][app] = r
		s.appendLocked(e)
		return r, nil
	}
	return catalog.Install{}, fmt.Errorf("install command %q on %q: %w", command, device, storage.ErrNotFound)
}

// DeviceInstalls implements catalog.Store.
func (s *Store) DeviceInstalls(ctx context.Context, org storage.OrgID, device string) ([]catalog.Install, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []catalog.Install{}
	for _, r := range s.catalog.installs[org][device] {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b catalog.Install) int { return cmp.Compare(a.AppID, b.AppID) })
	return out[:min(len(out), catalog.MaxInstallsPage)], nil
}
