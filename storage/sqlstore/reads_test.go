package sqlstore_test

import (
	"context"
	"time"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/storagetest"
)

// legacyKeys are the record keys that no list method returns, read from the
// database by hand when the fixture was made.
type legacyKeys struct {
	SessionTokens  map[storage.OrgID][][]byte
	PhoneSessions  map[storage.OrgID][]string
	FailureKeys    map[storage.OrgID][]string
	EnrollSessions map[storage.OrgID][]string
	Fingerprints   map[storage.OrgID][]string
	AndroidTokens  map[storage.OrgID][]string
	AndroidDevices map[storage.OrgID][]string
	AndroidCmds    map[storage.OrgID][]string
}

type result struct {
	V   any    `json:",omitempty"`
	Err string `json:",omitempty"`
}

func r(v any, err error) result {
	if err != nil {
		return result{Err: err.Error()}
	}
	return result{V: v}
}

// readAll reads every record of every org through the store contracts.
func readAll(ctx context.Context, s storagetest.Store, k legacyKeys, now time.Time) (map[string]any, error) {
	out := map[string]any{}
	orgs, err := s.ListOrgs(ctx)
	if err != nil {
		return nil, err
	}
	out["orgs"] = orgs
	for _, o := range orgs {
		m := map[string]any{}
		out["org:"+string(o.ID)] = m
		m["org"] = r(s.Org(ctx, o.ID))
		m["byname"] = r(s.OrgByName(ctx, o.Name))
		var audit []storage.AuditEntry
		for after := int64(0); ; {
			p, err := s.ListAudit(ctx, o.ID, storage.AuditQuery{After: after, Limit: 50})
			if err != nil {
				return nil, err
			}
			audit = append(audit, p.Entries...)
			if p.Next == 0 {
				break
			}
			after = p.Next
		}
		m["audit"] = audit
		users, err := s.ListUsers(ctx, o.ID)
		if err != nil {
			return nil, err
		}
		m["users"] = users
		for _, u := range users {
			m["user:"+u.ID] = r(s.User(ctx, o.ID, u.ID))
			m["username:"+u.ID] = r(s.UserByName(ctx, o.ID, u.Username))
			m["usergroups:"+u.ID] = r(s.UserGroups(ctx, o.ID, u.ID))
			m["totp:"+u.ID] = r(s.TOTP(ctx, o.ID, u.ID))
		}
		groups, err := s.ListGroups(ctx, o.ID)
		if err != nil {
			return nil, err
		}
		m["groups"] = groups
		var gids []string
		for _, g := range groups {
			gids = append(gids, g.ID)
			m["group:"+g.ID] = r(s.Group(ctx, o.ID, g.ID))
			m["members:"+g.ID] = r(s.GroupMembers(ctx, o.ID, g.ID))
		}
		m["signon"] = r(s.SignOn(ctx, o.ID))
		for i, h := range k.SessionTokens[o.ID] {
			m["session:"+string(rune('a'+i))] = r(s.SessionByToken(ctx, o.ID, h))
		}
		for _, id := range k.PhoneSessions[o.ID] {
			m["phone:"+id] = r(s.PhoneCode(ctx, o.ID, id))
		}
		for _, key := range k.FailureKeys[o.ID] {
			m["failures:"+key] = r(s.AuthFailures(ctx, o.ID, key))
		}
		pols, err := s.ListPolicies(ctx, o.ID)
		if err != nil {
			return nil, err
		}
		m["policies"] = pols
		for _, p := range pols {
			m["policy:"+string(p.ID)] = r(s.Policy(ctx, o.ID, p.ID))
		}
		m["revision"] = r(s.PolicyRevision(ctx, o.ID))
		page, err := s.ListDevices(ctx, o.ID, inventoryQuery())
		if err != nil {
			return nil, err
		}
		m["devices"] = page
		var ids []string
		for _, d := range page.Devices {
			ids = append(ids, d.ID)
			m["device:"+d.ID] = r(s.Device(ctx, o.ID, d.ID))
			m["byident:"+d.ID] = r(s.DeviceByIdentifier(ctx, o.ID, d.Identifier))
			m["values:"+d.ID] = r(s.DeviceValues(ctx, o.ID, d.ID))
			m["apps:"+d.ID] = r(s.DeviceApps(ctx, o.ID, d.ID))
			m["commands:"+d.ID] = r(s.Commands(ctx, o.ID, d.ID, 1000))
			m["enrollment:"+d.ID] = r(s.Enrollment(ctx, o.ID, d.ID))
			m["installs:"+d.ID] = r(s.DeviceInstalls(ctx, o.ID, d.ID))
			m["applied:"+d.ID] = r(s.AppliedPolicy(ctx, o.ID, d.ID))
			m["enrollsession:"+d.ID] = r(s.DeviceEnrollSession(ctx, o.ID, d.ID))
			m["androidpending:"+d.ID] = r(s.PendingAndroidCommands(ctx, o.ID, d.ID))
		}
		m["enrollments"] = r(s.Enrollments(ctx, o.ID, ids))
		m["due"] = r(s.DevicesDueForRefresh(ctx, o.ID, now, 1000))
		for _, id := range k.EnrollSessions[o.ID] {
			m["enrollsession:"+id] = r(s.EnrollSession(ctx, o.ID, id))
		}
		for _, f := range k.Fingerprints[o.ID] {
			m["identity:"+f] = r(s.Identity(ctx, o.ID, enroll.Fingerprint(f)))
		}
		m["scepca"] = r(s.SCEPCA(ctx, o.ID))
		apps, err := s.ListApps(ctx, o.ID)
		if err != nil {
			return nil, err
		}
		m["catalog"] = apps
		for _, a := range apps {
			m["app:"+a.ID] = r(s.App(ctx, o.ID, a.ID))
			m["assignments:"+a.ID] = r(s.ListAssignments(ctx, o.ID, a.ID))
		}
		m["assigned"] = r(s.AssignedApps(ctx, o.ID, gids))
		for _, id := range k.AndroidTokens[o.ID] {
			m["androidtoken:"+id] = r(s.AndroidToken(ctx, o.ID, id))
		}
		for _, id := range k.AndroidDevices[o.ID] {
			m["androiddevice:"+id] = r(s.AndroidDevice(ctx, o.ID, id))
		}
		for _, id := range k.AndroidCmds[o.ID] {
			m["androidcmd:"+id] = r(s.AndroidCommand(ctx, o.ID, id))
		}
	}
	return out, nil
}

func inventoryQuery() inventory.DeviceQuery { return inventory.DeviceQuery{Limit: 1000} }
