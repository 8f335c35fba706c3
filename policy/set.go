package policy

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/openomm/omm/storage"
)

// Set is one org's policies compiled for evaluation. It is immutable and
// safe for concurrent use.
//
// Because the first matching policy wins and there is no fall-through, only
// each group's highest-priority policy can ever decide: the Set keeps a map
// from group ID to that policy, and an evaluation costs one map look-up per
// group of the user, whatever the number of policies.
type Set struct {
	org      storage.OrgID
	policies []Policy       // by priority
	best     map[string]int // group ID → index in policies of its first policy
	fallback Policy
}

// NewSet compiles org's policies. Every policy must be valid and of org,
// with IDs and priorities unique; anything else is ErrInvalid. The built-in
// default policy is added by the Set and must not be passed.
func NewSet(org storage.OrgID, policies []Policy) (*Set, error) {
	if err := org.Validate(); err != nil {
		return nil, err
	}
	s := &Set{
		org:      org,
		policies: make([]Policy, 0, len(policies)),
		best:     make(map[string]int),
		fallback: Default(org),
	}
	ids := make(map[ID]bool, len(policies))
	for _, p := range policies {
		if err := p.Validate(); err != nil {
			return nil, err
		}
		if p.Org != org {
			return nil, fmt.Errorf("%w: policy %q belongs to org %q, not %q", storage.ErrInvalid, p.ID, p.Org, org)
		}
		if ids[p.ID] {
			return nil, fmt.Errorf("%w: policy id %q appears twice", storage.ErrInvalid, p.ID)
		}
		ids[p.ID] = true
		s.policies = append(s.policies, p.Normalize())
	}
	slices.SortFunc(s.policies, func(a, b Policy) int { return cmp.Compare(a.Priority, b.Priority) })
	for i := 1; i < len(s.policies); i++ {
		if a, b := s.policies[i-1], s.policies[i]; a.Priority == b.Priority {
			return nil, fmt.Errorf("%w: policies %q and %q share priority %d", storage.ErrInvalid, a.Name, b.Name, a.Priority)
		}
	}
	for i, p := range s.policies {
		for _, g := range p.Groups {
			if _, ok := s.best[g]; !ok {
				s.best[g] = i
			}
		}
	}
	return s, nil
}

// Org returns the org the Set belongs to.
func (s *Set) Org() storage.OrgID { return s.org }

// Policies returns the compiled policies by priority, followed by the
// built-in default.
func (s *Set) Policies() []Policy {
	out := make([]Policy, 0, len(s.policies)+1)
	for _, p := range s.policies {
		out = append(out, p.Normalize())
	}
	return append(out, s.fallback.Normalize())
}

// Match returns the policy that decides for a user in groups and the group
// through which it matched: the policy with the lowest priority number
// targeting any of the groups. Since priorities are unique there are no
// ties between policies; when several of the user's groups lead to the
// same policy, the first of them in the user's order is reported. A user no
// policy targets gets the built-in default and an empty group.
func (s *Set) Match(groups []string) (Policy, string) {
	i, g := s.match(groups)
	if i < 0 {
		return s.fallback.Normalize(), ""
	}
	return s.policies[i].Normalize(), g
}

func (s *Set) match(groups []string) (int, string) {
	best, group := -1, ""
	for _, g := range groups {
		if i, ok := s.best[g]; ok && (best < 0 || i < best) {
			best, group = i, g
		}
	}
	return best, group
}

// Evaluate decides whether u may or must enroll d:
//
//  1. The deciding policy is the first by priority targeting one of the
//     user's groups (see [Set.Match]), else the built-in default, which
//     denies.
//  2. Its rule for the device's platform decides: no rule or Deny →
//     [Denied]; Require → [Enroll]; Allow → [NotRequired].
//  3. A Require or Allow rule still denies a device that is compromised
//     when the rule refuses such devices, one older than the minimum OS
//     version or (Android) API level, or an Android device on which no
//     enabled mode is usable.
//  4. The rule's requirements are clamped to what the platform accepts,
//     with a warning per change; Android requirements only a work profile
//     can enforce are dropped in the other modes; a full wipe is permitted
//     only on company-owned devices.
//
// Invalid device facts or an oversize group list yield ErrInvalid.
func (s *Set) Evaluate(u User, d Device) (Decision, error) {
	if err := u.validate(); err != nil {
		return Decision{}, err
	}
	v, err := d.validate()
	if err != nil {
		return Decision{}, err
	}
	i, g := s.match(u.Groups)
	p := &s.fallback
	if i >= 0 {
		p = &s.policies[i]
	}
	return decide(p, g, u.GroupNames, d, v), nil
}
