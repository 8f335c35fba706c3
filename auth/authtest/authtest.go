// Package authtest is an in-memory auth.Directory for tests and examples:
// users with a status and a phone number, groups, and membership, changed
// at will — a host identity product's directory in a few lines.
package authtest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/storage"
)

// Directory implements auth.Directory in memory. The zero value is an
// empty directory, safe for concurrent use.
type Directory struct {
	mu      sync.Mutex
	users   map[key]auth.User
	groups  map[key]auth.Group
	members map[key]map[string]bool // group → user IDs
}

type key struct {
	org storage.OrgID
	id  string
}

// AddUser adds (or replaces) u; an empty Status is active.
func (d *Directory) AddUser(u auth.User) auth.User {
	d.mu.Lock()
	defer d.mu.Unlock()
	if u.Status == "" {
		u.Status = auth.StatusActive
	}
	if d.users == nil {
		d.users = map[key]auth.User{}
	}
	d.users[key{u.Org, u.ID}] = u
	return u
}

// SetStatus changes a user's status; an unknown user is an error.
func (d *Directory) SetStatus(org storage.OrgID, id string, st auth.Status) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	u, ok := d.users[key{org, id}]
	if !ok {
		return fmt.Errorf("user %q: %w", id, storage.ErrNotFound)
	}
	u.Status = st
	d.users[key{org, id}] = u
	return nil
}

// Remove forgets a user, as a directory that deleted them does.
func (d *Directory) Remove(org storage.OrgID, id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.users, key{org, id})
	for g, m := range d.members {
		if g.org == org {
			delete(m, id)
		}
	}
}

// AddGroup adds (or renames) a group.
func (d *Directory) AddGroup(g auth.Group) auth.Group {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.groups == nil {
		d.groups = map[key]auth.Group{}
	}
	d.groups[key{g.Org, g.ID}] = g
	return g
}

// Join makes the user a member of the group; Leave ends it.
func (d *Directory) Join(org storage.OrgID, groupID, userID string) {
	d.member(org, groupID, userID, true)
}
func (d *Directory) Leave(org storage.OrgID, groupID, userID string) {
	d.member(org, groupID, userID, false)
}

func (d *Directory) member(org storage.OrgID, groupID, userID string, in bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.members == nil {
		d.members = map[key]map[string]bool{}
	}
	g := key{org, groupID}
	if d.members[g] == nil {
		d.members[g] = map[string]bool{}
	}
	if in {
		d.members[g][userID] = true
	} else {
		delete(d.members[g], userID)
	}
}

// User implements auth.Directory.
func (d *Directory) User(_ context.Context, org storage.OrgID, id string) (auth.User, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	u, ok := d.users[key{org, id}]
	if !ok {
		return auth.User{}, fmt.Errorf("user %q: %w", id, storage.ErrNotFound)
	}
	return u, nil
}

// UserByName implements auth.Directory.
func (d *Directory) UserByName(_ context.Context, org storage.OrgID, username string) (auth.User, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for k, u := range d.users {
		if k.org == org && u.Username == username {
			return u, nil
		}
	}
	return auth.User{}, fmt.Errorf("user named %q: %w", username, storage.ErrNotFound)
}

// Groups implements auth.Directory.
func (d *Directory) Groups(_ context.Context, org storage.OrgID, userID string) ([]auth.Group, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.users[key{org, userID}]; !ok {
		return nil, fmt.Errorf("user %q: %w", userID, storage.ErrNotFound)
	}
	out := []auth.Group{}
	for g, m := range d.members {
		if g.org == org && m[userID] {
			if grp, ok := d.groups[g]; ok {
				out = append(out, grp)
			}
		}
	}
	slices.SortFunc(out, func(a, b auth.Group) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

// Group implements auth.Directory.
func (d *Directory) Group(_ context.Context, org storage.OrgID, id string) (auth.Group, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	g, ok := d.groups[key{org, id}]
	if !ok {
		return auth.Group{}, fmt.Errorf("group %q: %w", id, storage.ErrNotFound)
	}
	return g, nil
}

// GroupMembers implements auth.Directory.
func (d *Directory) GroupMembers(_ context.Context, org storage.OrgID, groupID string) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.groups[key{org, groupID}]; !ok {
		return nil, fmt.Errorf("group %q: %w", groupID, storage.ErrNotFound)
	}
	out := []string{}
	for u := range d.members[key{org, groupID}] {
		out = append(out, u)
	}
	slices.Sort(out)
	return out, nil
}
