package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/openomm/omm/events"

	"github.com/openomm/omm/storage"
)

// Directory is the one identity seam of the SDK: who the users of an org
// are (with their status and phone number), which groups there are, and
// who is in them. Policy and the app store target groups, inventory reads
// a user's phone number, every enrollment step checks that its user is
// active. [LocalDirectory] is the built-in one; a host identity product
// adapts its own in a few lines, and the packages that need less take a
// subset of these methods, so that one value serves them all.
//
// Implementations must be safe for concurrent use and must never return a
// user or group of another org: for the SDK, it simply does not exist.
type Directory interface {
	// User returns the user with this ID, or an error wrapping
	// storage.ErrNotFound. A deactivated or deleted user the directory
	// still knows is returned with its Status; one it forgot is not found.
	User(ctx context.Context, org storage.OrgID, id string) (User, error)
	// UserByName returns the user with this username (as the directory
	// compares them), or an error wrapping storage.ErrNotFound.
	UserByName(ctx context.Context, org storage.OrgID, username string) (User, error)
	// Groups returns the user's groups ordered by name; an unknown user
	// yields an error wrapping storage.ErrNotFound.
	Groups(ctx context.Context, org storage.OrgID, userID string) ([]Group, error)
	// Group returns the group with this ID, or an error wrapping
	// storage.ErrNotFound.
	Group(ctx context.Context, org storage.OrgID, id string) (Group, error)
	// GroupMembers returns the IDs of the group's members; an unknown group
	// yields an error wrapping storage.ErrNotFound.
	GroupMembers(ctx context.Context, org storage.OrgID, groupID string) ([]string, error)
}

// Users is the part of a [Directory] that says who a user is: what the
// enrollment steps take to refuse a user who is not active.
type Users interface {
	User(ctx context.Context, org storage.OrgID, id string) (User, error)
}

// CheckActive fails with ErrUserInactive unless users knows userID as an
// active user of org. Every enrollment step calls it, whatever credential
// (session, challenge, identity, token) it was presented: a user who left
// gets nothing. Other lookup failures are returned as they are; a nil
// users checks nothing (a package used without a directory).
func CheckActive(ctx context.Context, users Users, org storage.OrgID, userID string) error {
	if users == nil {
		return nil
	}
	u, err := users.User(ctx, org, userID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return fmt.Errorf("user %q: %w: unknown to the directory", userID, ErrUserInactive)
	case err != nil:
		return fmt.Errorf("user %q: %w", userID, err)
	case u.Status != StatusActive:
		return fmt.Errorf("user %q: %w: %s", userID, ErrUserInactive, u.Status)
	}
	return nil
}

// Authenticator is a [Directory] that also checks passwords: what the
// SDK's own sign-in ([Service]) needs. A host that signs its users in
// itself needs only the Directory.
type Authenticator interface {
	Directory
	// Authenticate checks username and password in org. An unknown user and
	// a wrong password both yield ErrInvalidCredentials, in similar time, so
	// that the answer does not reveal which users exist. A right password
	// returns the user whatever its Status: the caller refuses deactivated
	// users.
	Authenticate(ctx context.Context, org storage.OrgID, username, password string) (User, error)
}

// LocalDirectory is the built-in directory: users and groups kept in the
// SDK's own storage, passwords as argon2id hashes. Besides [Directory] it
// has the admin methods an embedder needs to manage users; each takes the
// acting admin ("admin:alice") for the audit log.
type LocalDirectory struct {
	store  UserStore
	params Params
	// dummy is a hash of a random password, verified for unknown users so
	// that they cost as much time as known ones.
	dummy string
	clock func() time.Time
	log   *slog.Logger
	slots slots
}

// NewLocalDirectory returns the built-in directory over store. Options
// used: WithClock, WithLogger, WithPasswordParams, WithConcurrentHashes.
func NewLocalDirectory(store UserStore, opts ...Option) (*LocalDirectory, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	return &LocalDirectory{
		store:  store,
		params: cfg.password,
		dummy:  cfg.password.hash(newID("dummy")),
		clock:  cfg.clock,
		log:    cfg.log,
		slots:  make(slots, cfg.hashSlots),
	}, nil
}

// CanonicalUsername is the form the built-in directory stores and looks
// usernames up in: trimmed and lowercased.
func CanonicalUsername(username string) string {
	return strings.ToLower(strings.TrimSpace(username))
}

// Authenticate implements [Authenticator]. A hash made with parameters below
// the directory's is replaced after a successful check.
func (d *LocalDirectory) Authenticate(ctx context.Context, org storage.OrgID, username, password string) (User, error) {
	name := CanonicalUsername(username)
	hash := d.dummy
	var rec UserRecord
	found := false
	if ValidateUsername(name) == nil && len(password) <= MaxPasswordLen {
		r, err := d.store.UserByName(ctx, org, name)
		switch {
		case err == nil && r.PasswordHash != "":
			rec, hash, found = r, r.PasswordHash, true
		case err != nil && !errors.Is(err, storage.ErrNotFound):
			return User{}, fmt.Errorf("authenticate: %w", err)
		}
	}
	var ok, outdated bool
	var verr error
	if err := d.slots.run(ctx, func() { ok, outdated, verr = d.params.verify(hash, password) }); err != nil {
		return User{}, err
	}
	if verr != nil {
		d.log.ErrorContext(ctx, "auth: unreadable password hash", "org", org, "user", rec.ID, "err", verr)
		return User{}, ErrInvalidCredentials
	}
	if !found || !ok {
		return User{}, ErrInvalidCredentials
	}
	if outdated {
		if err := d.slots.run(ctx, func() { rec.PasswordHash = d.params.hash(password) }); err != nil {
			return rec.User, nil // the sign-in stands; rehash next time
		}
		_, err := d.store.UpdateUser(ctx, rec, d.entry(org, "system", ActionPasswordRehash, "user:"+rec.ID, nil))
		if err != nil { // the old hash still works; try again next time
			d.log.WarnContext(ctx, "auth: password rehash not stored", "org", org, "user", rec.ID, "err", err)
		}
	}
	return rec.User, nil
}

// User implements [Directory].
func (d *LocalDirectory) User(ctx context.Context, org storage.OrgID, id string) (User, error) {
	r, err := d.store.User(ctx, org, id)
	return r.User, err
}

// UserByName implements [Directory]; username is compared in its
// canonical form.
func (d *LocalDirectory) UserByName(ctx context.Context, org storage.OrgID, username string) (User, error) {
	r, err := d.store.UserByName(ctx, org, CanonicalUsername(username))
	return r.User, err
}

// Groups implements [Directory].
func (d *LocalDirectory) Groups(ctx context.Context, org storage.OrgID, userID string) ([]Group, error) {
	if _, err := d.store.User(ctx, org, userID); err != nil {
		return nil, err
	}
	return d.store.UserGroups(ctx, org, userID)
}

// Group implements [Directory].
func (d *LocalDirectory) Group(ctx context.Context, org storage.OrgID, id string) (Group, error) {
	return d.store.Group(ctx, org, id)
}

// GroupMembers implements [Directory].
func (d *LocalDirectory) GroupMembers(ctx context.Context, org storage.OrgID, groupID string) ([]string, error) {
	return d.store.GroupMembers(ctx, org, groupID)
}

// CreateUser adds u to u.Org's directory: ID assigned when empty, username
// made canonical, Status active when empty. password may be empty (the user
// cannot sign in until one is set); otherwise it must be MinPasswordLen to
// MaxPasswordLen bytes.
func (d *LocalDirectory) CreateUser(ctx context.Context, u User, password, actor string) (User, error) {
	if u.ID == "" {
		u.ID = newID("usr")
	}
	if u.Status == "" {
		u.Status = StatusActive
	}
	u.Username = CanonicalUsername(u.Username)
	rec := UserRecord{User: u}
	if password != "" {
		h, err := d.hashPassword(ctx, password)
		if err != nil {
			return User{}, err
		}
		rec.PasswordHash = h
	}
	rec, err := d.store.CreateUser(ctx, rec, d.entry(u.Org, actor, ActionUserCreate, "user:"+u.ID, map[string]string{"username": u.Username}))
	return rec.User, err
}

// SetPassword replaces the user's password.
func (d *LocalDirectory) SetPassword(ctx context.Context, org storage.OrgID, userID, password, actor string) error {
	h, err := d.hashPassword(ctx, password)
	if err != nil {
		return err
	}
	_, err = d.update(ctx, org, userID, actor, ActionUserPassword, func(r *UserRecord) { r.PasswordHash = h })
	return err
}

// UpdateUser replaces the user's Username, DisplayName, Email, Phone and
// Status. Deactivating revokes every session of the user in the same
// transaction.
func (d *LocalDirectory) UpdateUser(ctx context.Context, u User, actor string) (User, error) {
	action := ActionUserUpdate
	if u.Status == StatusDeactivated {
		action = ActionUserDeactivate
	}
	rec, err := d.update(ctx, u.Org, u.ID, actor, action, func(r *UserRecord) {
		r.Username, r.DisplayName, r.Email, r.Phone, r.Status = CanonicalUsername(u.Username), u.DisplayName, u.Email, u.Phone, u.Status
	})
	return rec.User, err
}

// Deactivate marks the user deactivated and, in the same transaction,
// revokes all their sessions; every enrollment step refuses them from
// then on. Taking their devices and unused credentials back is the SDK's
// user lifecycle (omm.SDK.UserDeactivated).
func (d *LocalDirectory) Deactivate(ctx context.Context, org storage.OrgID, userID, actor string) error {
	_, err := d.update(ctx, org, userID, actor, ActionUserDeactivate, func(r *UserRecord) { r.Status = StatusDeactivated })
	return err
}

// ListUsers returns the org's users ordered by username.
func (d *LocalDirectory) ListUsers(ctx context.Context, org storage.OrgID) ([]User, error) {
	recs, err := d.store.ListUsers(ctx, org)
	if err != nil {
		return nil, err
	}
	users := make([]User, len(recs))
	for i, r := range recs {
		users[i] = r.User
	}
	return users, nil
}

// CreateGroup adds a group named name to org.
func (d *LocalDirectory) CreateGroup(ctx context.Context, org storage.OrgID, name, actor string) (Group, error) {
	g := Group{Org: org, ID: newID("grp"), Name: name}
	return d.store.CreateGroup(ctx, g, d.entry(org, actor, ActionGroupCreate, "group:"+g.ID, map[string]string{"name": name}))
}

// ListGroups returns the org's groups ordered by name.
func (d *LocalDirectory) ListGroups(ctx context.Context, org storage.OrgID) ([]Group, error) {
	return d.store.ListGroups(ctx, org)
}

// AddMember makes the user a member of the group.
func (d *LocalDirectory) AddMember(ctx context.Context, org storage.OrgID, groupID, userID, actor string) error {
	return d.store.AddGroupMember(ctx, org, groupID, userID,
		d.entry(org, actor, ActionGroupMemberAdd, "group:"+groupID, map[string]string{"user": userID}))
}

// RemoveMember ends the user's membership of the group.
func (d *LocalDirectory) RemoveMember(ctx context.Context, org storage.OrgID, groupID, userID, actor string) error {
	return d.store.RemoveGroupMember(ctx, org, groupID, userID,
		d.entry(org, actor, ActionGroupMemberRemove, "group:"+groupID, map[string]string{"user": userID}))
}

// update applies edit to the stored user, retrying when a concurrent
// writer got there first.
func (d *LocalDirectory) update(ctx context.Context, org storage.OrgID, userID, actor, action string, edit func(*UserRecord)) (UserRecord, error) {
	for attempt := 0; ; attempt++ {
		rec, err := d.store.User(ctx, org, userID)
		if err != nil {
			return UserRecord{}, err
		}
		wasActive := rec.Status == StatusActive
		edit(&rec)
		e := d.entry(org, actor, action, "user:"+userID, nil)
		if wasActive && rec.Status == StatusDeactivated {
			e.Event = events.UserDeactivated
		}
		rec, err = d.store.UpdateUser(ctx, rec, e)
		if !errors.Is(err, storage.ErrConflict) || attempt == 3 {
			return rec, err
		}
	}
}

func (d *LocalDirectory) hashPassword(ctx context.Context, password string) (string, error) {
	if len(password) < MinPasswordLen || len(password) > MaxPasswordLen {
		return "", fmt.Errorf("%w: password must be %d–%d bytes", storage.ErrInvalid, MinPasswordLen, MaxPasswordLen)
	}
	var h string
	err := d.slots.run(ctx, func() { h = d.params.hash(password) })
	return h, err
}

func (d *LocalDirectory) entry(org storage.OrgID, actor, action, target string, details map[string]string) storage.AuditEntry {
	return storage.AuditEntry{Org: org, Time: d.clock(), Actor: actor, Action: action, Target: target, Details: details}
}
