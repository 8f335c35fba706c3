package main

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/openomm/omm"
	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// The console's policies, sign-on rule and groups: lists, and forms that
// edit them through the SDK (which validates, audits and re-applies the
// change to enrolled devices).

// maxPolicyForm bounds a policy form post: the user agreement alone may
// be 20,000 characters.
const maxPolicyForm = 256 << 10

// consolePolicyRow is a row of the policies page.
type consolePolicyRow struct {
	Policy policy.Policy
	Groups []string
	Rules  []string
}

type consolePoliciesData struct {
	Policies []consolePolicyRow
	SignOn   auth.SignOn
	Notice   string
}

// groupNames maps the org's group IDs to their names.
func (s *server) groupNames(r *http.Request, org storage.OrgID) ([]auth.Group, map[string]string, error) {
	groups, err := s.dir.ListGroups(r.Context(), org)
	if err != nil {
		return nil, nil, err
	}
	names := make(map[string]string, len(groups))
	for _, g := range groups {
		names[g.ID] = g.Name
	}
	return groups, names, nil
}

func (s *server) consolePolicies(w http.ResponseWriter, r *http.Request) {
	org, token, ok := s.consoleAdmin(w, r)
	if !ok {
		return
	}
	list, err := s.sdk.Policy.List(r.Context(), org)
	if err != nil {
		s.webFailure(w, "admin", err)
		return
	}
	_, names, err := s.groupNames(r, org)
	if err != nil {
		s.webFailure(w, "admin", err)
		return
	}
	data := consolePoliciesData{Notice: policyNotices[r.URL.Query().Get("done")]}
	if data.SignOn, err = s.sdk.Auth.SignOn(r.Context(), org); err != nil {
		s.webFailure(w, "admin", err)
		return
	}
	for _, p := range list {
		row := consolePolicyRow{Policy: p}
		for _, g := range p.Groups {
			row.Groups = append(row.Groups, orDefault(names[g], g))
		}
		for _, pl := range policy.Platforms() {
			if rule, ok := p.Rules[pl]; ok {
				row.Rules = append(row.Rules, pl.String()+": "+string(rule.Action)+requirementsSummary(rule))
			}
		}
		data.Policies = append(data.Policies, row)
	}
	s.render(w, http.StatusOK, "admin_policies", page{Title: "Policies", Nav: "admin", CSRF: s.csrfToken(csrfAdmin, token), Data: data})
}

var policyNotices = map[string]string{
	"created": "The policy was created. Enrolled devices of its users get its settings the next time they connect.",
	"updated": "The policy was saved. Enrolled devices get the new settings the next time they connect; the device pages show them pending until then.",
	"deleted": "The policy was deleted. Its users fall under the next policy that targets them, or the default.",
	"signon":  "The sign-in rule was saved. It applies from each user's next sign-in.",
}

// consoleSignOn sets whether the org requires MFA of everyone.
func (s *server) consoleSignOn(w http.ResponseWriter, r *http.Request) {
	org, _, ok := s.consolePost(w, r)
	if !ok {
		return
	}
	rule, err := s.sdk.Auth.SignOn(r.Context(), org)
	if err != nil {
		s.webFailure(w, "admin", err)
		return
	}
	version, _ := strconv.ParseInt(r.PostFormValue("version"), 10, 64)
	rule.MFARequired, rule.Version = r.PostFormValue("mfa_required") == "on", version
	if _, err := s.sdk.Auth.SetSignOn(r.Context(), rule, s.consoleActor(r)); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			s.renderMessage(w, http.StatusConflict, "admin", message{Heading: "Changed meanwhile",
				Text: "Someone changed the sign-in rule after you opened the page. Please look at it again.", Link: "/admin/policies", LinkText: "Back to policies"})
			return
		}
		s.webFailure(w, "admin", err)
		return
	}
	http.Redirect(w, r, "/admin/policies?done=signon", http.StatusSeeOther)
}

// platformForm is one platform's rule as the policy form edits it. The
// form edits the commonest settings; the others a rule has (passcode
// history, auto-lock, …) are kept as they are (see apply).
type platformForm struct {
	Platform          policy.Platform
	Action            string // require, allow, deny
	Passcode          bool
	PasscodeMin       int
	Encryption        bool
	MinOS             string
	RefuseCompromised bool
	Separate          bool
	FullWipe          bool
	// Android only.
	MinAPI                         int
	WorkProfile, Knox, DeviceAdmin bool
}

// Key is the platform as the form's field names spell it ("ios").
func (pf platformForm) Key() string { return string(pf.Platform) }

// policyForm is the policy form, as shown and as posted.
type policyForm struct {
	ID                           policy.ID
	Version                      int64
	Name, Description, Agreement string
	Priority                     int
	RequireMFA                   bool
	Groups                       map[string]bool
	Platforms                    []platformForm
	// AllGroups are the org's groups to choose from.
	AllGroups []auth.Group
}

// Actions are the rule actions in words.
func (policyForm) Actions() [][2]string {
	return [][2]string{{"require", "Require enrollment"}, {"allow", "Allow enrollment"}, {"deny", "Deny enrollment"}}
}

func formOfPolicy(p policy.Policy) policyForm {
	f := policyForm{ID: p.ID, Version: p.Version, Name: p.Name, Description: p.Description, Agreement: p.Agreement,
		Priority: p.Priority, RequireMFA: p.RequireMFA, Groups: map[string]bool{}}
	for _, g := range p.Groups {
		f.Groups[g] = true
	}
	for _, pl := range policy.Platforms() {
		rule, ok := p.Rules[pl]
		pf := platformForm{Platform: pl, Action: string(policy.Deny)}
		if ok {
			q := rule.Requirements
			ds := q.DataSeparation
			pf = platformForm{Platform: pl, Action: string(rule.Action), Passcode: q.Passcode.Required, PasscodeMin: q.Passcode.MinLength,
				Encryption: q.Encryption, MinOS: q.MinOSVersion, RefuseCompromised: q.RefuseCompromised,
				Separate: ds.BlockManagedToUnmanaged || ds.BlockUnmanagedToManaged || ds.BlockWorkToPersonal, FullWipe: q.AllowFullWipe,
				MinAPI: q.Android.MinAPILevel, WorkProfile: q.Android.Modes.WorkProfile, Knox: q.Android.Modes.Knox, DeviceAdmin: q.Android.Modes.DeviceAdmin}
		}
		f.Platforms = append(f.Platforms, pf)
	}
	return f
}

// readPolicyForm reads a posted policy form; number fields that are not
// numbers are errors worded for the form.
func readPolicyForm(r *http.Request) (policyForm, error) {
	var errs []string
	num := func(name, what string) int {
		v := strings.TrimSpace(r.PostFormValue(name))
		if v == "" {
			return 0
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			errs = append(errs, what+" must be a number")
		}
		return n
	}
	on := func(name string) bool { return r.PostFormValue(name) == "on" }
	f := policyForm{Name: strings.TrimSpace(r.PostFormValue("name")), Description: strings.TrimSpace(r.PostFormValue("description")),
		Agreement: strings.TrimSpace(strings.ReplaceAll(r.PostFormValue("agreement"), "\r\n", "\n")), Priority: num("priority", "The priority"),
		RequireMFA: on("require_mfa"), Groups: map[string]bool{}}
	f.Version, _ = strconv.ParseInt(r.PostFormValue("version"), 10, 64)
	for _, g := range r.PostForm["groups"] {
		f.Groups[g] = true
	}
	for _, pl := range policy.Platforms() {
		k := string(pl) + "_"
		f.Platforms = append(f.Platforms, platformForm{Platform: pl, Action: r.PostFormValue(k + "action"),
			Passcode: on(k + "passcode"), PasscodeMin: num(k+"passcode_min", pl.String()+" passcode length"),
			Encryption: on(k + "encryption"), MinOS: strings.TrimSpace(r.PostFormValue(k + "min_os")),
			RefuseCompromised: on(k + "refuse_compromised"), Separate: on(k + "separate"), FullWipe: on(k + "full_wipe"),
			MinAPI: num(k+"min_api", "The minimum Android API level"), WorkProfile: on(k + "work_profile"), Knox: on(k + "knox"),
			DeviceAdmin: on(k + "device_admin")})
	}
	if len(errs) > 0 {
		return f, fmt.Errorf("%w: %s", omm.ErrBadRequest, strings.Join(errs, "; "))
	}
	return f, nil
}

// apply writes the form onto p (the stored policy, or a new one of org),
// keeping the settings the form does not show. The SDK validates the
// result.
func (f policyForm) apply(p policy.Policy) policy.Policy {
	p.Name, p.Description, p.Agreement, p.Priority, p.RequireMFA, p.Version = f.Name, f.Description, f.Agreement, f.Priority, f.RequireMFA, f.Version
	p.Groups = p.Groups[:0:0]
	for g, on := range f.Groups {
		if on {
			p.Groups = append(p.Groups, g)
		}
	}
	slices.Sort(p.Groups)
	old := p.Rules
	p.Rules = map[policy.Platform]policy.Rule{}
	for _, pf := range f.Platforms {
		action := policy.Action(pf.Action)
		if action == policy.Deny {
			p.Rules[pf.Platform] = policy.Rule{Action: policy.Deny}
			continue
		}
		q := old[pf.Platform].Requirements
		if !pf.Passcode {
			q.Passcode = policy.Passcode{}
		} else {
			q.Passcode.Required, q.Passcode.MinLength = true, pf.PasscodeMin
		}
		q.Encryption, q.MinOSVersion, q.RefuseCompromised, q.AllowFullWipe = pf.Encryption, pf.MinOS, pf.RefuseCompromised, pf.FullWipe
		if pf.Platform == policy.Android {
			q.DataSeparation = policy.DataSeparation{BlockWorkToPersonal: pf.Separate}
			q.Android.MinAPILevel = pf.MinAPI
			q.Android.Modes = policy.Modes{WorkProfile: pf.WorkProfile, Knox: pf.Knox, DeviceAdmin: pf.DeviceAdmin}
			if !q.Android.Modes.WorkProfile {
				q.Android.WorkProfilePasscode = policy.Passcode{}
			}
		} else {
			q.DataSeparation = policy.DataSeparation{BlockManagedToUnmanaged: pf.Separate, BlockUnmanagedToManaged: pf.Separate}
			q.Android = policy.AndroidRequirements{}
		}
		p.Rules[pf.Platform] = policy.Rule{Action: action, Requirements: q}
	}
	return p
}

func (s *server) renderPolicyForm(w http.ResponseWriter, r *http.Request, token string, status int, msg string, f policyForm) {
	groups, err := s.dir.ListGroups(r.Context(), s.admin.Org)
	if err != nil {
		s.webFailure(w, "admin", err)
		return
	}
	f.AllGroups = groups
	title := "New policy"
	if f.ID != "" {
		title = "Policy " + f.Name
	}
	s.render(w, status, "admin_policy", page{Title: title, Nav: "admin", CSRF: s.csrfToken(csrfAdmin, token), Error: msg, Data: f})
}

func (s *server) consolePolicyNew(w http.ResponseWriter, r *http.Request) {
	org, token, ok := s.consoleAdmin(w, r)
	if !ok {
		return
	}
	list, err := s.sdk.Policy.List(r.Context(), org)
	if err != nil {
		s.webFailure(w, "admin", err)
		return
	}
	prio := 100
	for _, p := range list {
		if p.ID != policy.DefaultID && p.Priority >= prio {
			prio = p.Priority + 10
		}
	}
	s.renderPolicyForm(w, r, token, http.StatusOK, "", formOfPolicy(policy.Policy{Priority: prio}))
}

func (s *server) consolePolicyEdit(w http.ResponseWriter, r *http.Request) {
	org, token, ok := s.consoleAdmin(w, r)
	if !ok {
		return
	}
	p, err := s.sdk.Policy.Policy(r.Context(), org, policy.ID(r.PathValue("id")))
	if err != nil {
		s.webFailure(w, "admin", err)
		return
	}
	if p.ID == policy.DefaultID {
		s.renderMessage(w, http.StatusForbidden, "admin", message{Heading: "Built in", Text: "The default policy denies enrollment to everyone no other policy targets; it cannot be changed. Create a policy that targets their groups instead.",
			Link: "/admin/policies", LinkText: "Back to policies"})
		return
	}
	s.renderPolicyForm(w, r, token, http.StatusOK, "", formOfPolicy(p))
}

// policyPost reads a policy form post (with its larger limit); on failure
// it has answered.
func (s *server) policyPost(w http.ResponseWriter, r *http.Request) (storage.OrgID, string, policyForm, bool) {
	org, token, ok := s.consoleAdmin(w, r)
	if !ok {
		return "", "", policyForm{}, false
	}
	if !s.parseFormMax(w, r, csrfAdmin, token, maxPolicyForm) {
		return "", "", policyForm{}, false
	}
	f, err := readPolicyForm(r)
	if err != nil {
		s.renderPolicyForm(w, r, token, http.StatusBadRequest, policyError(err), f)
		return "", "", policyForm{}, false
	}
	return org, token, f, true
}

// policyError words a refused policy for the form.
func policyError(err error) string {
	status, _, msg := omm.HTTPStatus(err)
	switch status {
	case http.StatusInternalServerError:
		return "Something went wrong on our side. Please try again later."
	case http.StatusConflict:
		if errors.Is(err, storage.ErrConflict) {
			return "Someone changed the policy after you opened it. Open it again to see the changes."
		}
	}
	for _, prefix := range []string{omm.ErrBadRequest.Error() + ": ", storage.ErrInvalid.Error() + ": "} {
		msg = strings.TrimPrefix(msg, prefix)
	}
	return "Not saved: " + msg
}

func (s *server) consolePolicyCreate(w http.ResponseWriter, r *http.Request) {
	org, token, f, ok := s.policyPost(w, r)
	if !ok {
		return
	}
	f.ID, f.Version = "", 0
	if _, err := s.sdk.CreatePolicy(r.Context(), s.consoleActor(r), f.apply(policy.Policy{Org: org})); err != nil {
		s.renderPolicyForm(w, r, token, statusOf(err), policyError(err), f)
		return
	}
	http.Redirect(w, r, "/admin/policies?done=created", http.StatusSeeOther)
}

func (s *server) consolePolicyUpdate(w http.ResponseWriter, r *http.Request) {
	org, token, f, ok := s.policyPost(w, r)
	if !ok {
		return
	}
	p, err := s.sdk.Policy.Policy(r.Context(), org, policy.ID(r.PathValue("id")))
	if err != nil {
		s.webFailure(w, "admin", err)
		return
	}
	f.ID = p.ID
	if _, err := s.sdk.UpdatePolicy(r.Context(), s.consoleActor(r), f.apply(p)); err != nil {
		s.renderPolicyForm(w, r, token, statusOf(err), policyError(err), f)
		return
	}
	http.Redirect(w, r, "/admin/policies?done=updated", http.StatusSeeOther)
}

func (s *server) consolePolicyDelete(w http.ResponseWriter, r *http.Request) {
	org, token, ok := s.consolePost(w, r)
	if !ok {
		return
	}
	p, err := s.sdk.Policy.Policy(r.Context(), org, policy.ID(r.PathValue("id")))
	if err != nil {
		s.webFailure(w, "admin", err)
		return
	}
	if !confirmed(r) {
		s.confirm(w, token, confirmation{Heading: "Delete policy " + p.Name + "?",
			Text:   "Its users fall under the next policy that targets one of their groups, or the default, which denies enrollment. Their enrolled devices stay enrolled; the ones no policy admits show as out of policy.",
			Action: "/admin/policies/" + url.PathEscape(string(p.ID)) + "/delete", Button: "Delete the policy",
			Check: "I understand that the users of " + p.Name + " lose its rules", Back: "/admin/policies/" + url.PathEscape(string(p.ID)),
			Fields: map[string]string{"version": strconv.FormatInt(p.Version, 10)}})
		return
	}
	version, _ := strconv.ParseInt(r.PostFormValue("version"), 10, 64)
	if err := s.sdk.DeletePolicy(r.Context(), s.consoleActor(r), org, p.ID, version); err != nil {
		s.webFailure(w, "admin", err)
		return
	}
	http.Redirect(w, r, "/admin/policies?done=deleted", http.StatusSeeOther)
}

func statusOf(err error) int {
	status, _, _ := omm.HTTPStatus(err)
	return status
}

// consoleGroup is a group with its members, for the groups page.
type consoleGroup struct {
	Group   auth.Group
	Members []auth.User
	// Others are the users not in the group, to add.
	Others []auth.User
}

type consoleGroupsData struct {
	Groups []consoleGroup
	Notice string
}

func (s *server) consoleGroups(w http.ResponseWriter, r *http.Request) {
	org, token, ok := s.consoleAdmin(w, r)
	if !ok {
		return
	}
	s.renderGroups(w, r, org, token, http.StatusOK, "", groupNotices[r.URL.Query().Get("done")])
}

var groupNotices = map[string]string{
	"created": "The group was created. Add members, then target it from a policy or an app assignment.",
	"added":   "The member was added. Their devices get the policy and apps of their groups the next time they connect.",
	"removed": "The member was removed. Their devices get the policy and apps of their remaining groups the next time they connect.",
}

func (s *server) renderGroups(w http.ResponseWriter, r *http.Request, org storage.OrgID, token string, status int, msg, notice string) {
	groups, err := s.dir.ListGroups(r.Context(), org)
	if err != nil {
		s.webFailure(w, "admin", err)
		return
	}
	users, err := s.dir.ListUsers(r.Context(), org)
	if err != nil {
		s.webFailure(w, "admin", err)
		return
	}
	data := consoleGroupsData{Notice: notice}
	for _, g := range groups {
		ids, err := s.dir.GroupMembers(r.Context(), org, g.ID)
		if err != nil {
			s.webFailure(w, "admin", err)
			return
		}
		cg := consoleGroup{Group: g}
		for _, u := range users {
			if slices.Contains(ids, u.ID) {
				cg.Members = append(cg.Members, u)
			} else if u.Status == auth.StatusActive {
				cg.Others = append(cg.Others, u)
			}
		}
		data.Groups = append(data.Groups, cg)
	}
	s.render(w, status, "admin_groups", page{Title: "Groups", Nav: "admin", CSRF: s.csrfToken(csrfAdmin, token), Error: msg, Data: data})
}

func (s *server) consoleGroupCreate(w http.ResponseWriter, r *http.Request) {
	org, token, ok := s.consolePost(w, r)
	if !ok {
		return
	}
	if _, err := s.dir.CreateGroup(r.Context(), org, strings.TrimSpace(r.PostFormValue("name")), s.consoleActor(r)); err != nil {
		status, _, msg := omm.HTTPStatus(err)
		if status == http.StatusInternalServerError {
			s.webFailure(w, "admin", err)
			return
		}
		s.renderGroups(w, r, org, token, status, "Not created: "+strings.TrimPrefix(msg, storage.ErrInvalid.Error()+": "), "")
		return
	}
	http.Redirect(w, r, "/admin/groups?done=created", http.StatusSeeOther)
}

func (s *server) consoleMemberAdd(w http.ResponseWriter, r *http.Request) {
	s.consoleMembership(w, r, r.PostFormValue, true)
}

func (s *server) consoleMemberRemove(w http.ResponseWriter, r *http.Request) {
	s.consoleMembership(w, r, func(string) string { return r.PathValue("user") }, false)
}

// consoleMembership adds or removes the user (user("user_id")) to or from
// the path's group, through the SDK, which re-applies the user's policy.
func (s *server) consoleMembership(w http.ResponseWriter, r *http.Request, user func(string) string, member bool) {
	org, _, ok := s.consolePost(w, r)
	if !ok {
		return
	}
	err := s.sdk.SetMember(r.Context(), org, r.PathValue("id"), user("user_id"), member, s.consoleActor(r))
	if err != nil {
		s.webFailure(w, "admin", err)
		return
	}
	done := "removed"
	if member {
		done = "added"
	}
	http.Redirect(w, r, "/admin/groups?done="+done, http.StatusSeeOther)
}

// requirementsSummary says in a few words what a rule asks of a device.
func requirementsSummary(rule policy.Rule) string {
	if rule.Action == policy.Deny {
		return ""
	}
	req := rule.Requirements
	var parts []string
	if req.Passcode.Required {
		parts = append(parts, fmt.Sprintf("passcode of %d+", req.Passcode.MinLength))
	}
	if req.Encryption {
		parts = append(parts, "encryption")
	}
	if req.MinOSVersion != "" {
		parts = append(parts, "OS "+req.MinOSVersion+"+")
	}
	if req.RefuseCompromised {
		parts = append(parts, "no jailbreak or root")
	}
	if ds := req.DataSeparation; ds.BlockManagedToUnmanaged || ds.BlockUnmanagedToManaged || ds.BlockWorkToPersonal {
		parts = append(parts, "work data kept apart")
	}
	if req.AllowFullWipe {
		parts = append(parts, "factory reset allowed")
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}
