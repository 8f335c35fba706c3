package omm

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// The audit log as administrators read it: newest first or oldest first,
// filtered by device, user, actor, action and time, a page at a time, with
// the names of the people, devices, policies and apps the entries name.

// ParseAuditQuery reads an audit query from URL query parameters (the
// admin API's and a console's):
//
//	after, before   cursors: the Next of the page read (entry IDs)
//	limit           page size, 1–storage.MaxAuditPage
//	order           "newest" (newest first) or "oldest" (the default)
//	device          a device ID: entries whose target is the device
//	user            a user ID: entries by or about the user
//	actor, target   exact actor or target ("admin:alice", "policy:p1")
//	action          an action ("device.lock") or, ending in ".", a family ("device.")
//	since, until    RFC 3339 times or dates (2026-03-14); until is
//	                exclusive, and a date means its whole day (UTC)
//
// Empty parameters are ignored. A malformed one yields ErrBadRequest
// naming it.
func ParseAuditQuery(v url.Values) (storage.AuditQuery, error) {
	var q storage.AuditQuery
	var errs []error
	num := func(name string) int64 {
		s := strings.TrimSpace(v.Get(name))
		if s == "" {
			return 0
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			errs = append(errs, fmt.Errorf("%w: ?%s= must be a non-negative number", ErrBadRequest, name))
		}
		return n
	}
	q.After, q.Before = num("after"), num("before")
	if l := num("limit"); l > storage.MaxAuditPage {
		errs = append(errs, fmt.Errorf("%w: ?limit= must be 0–%d", ErrBadRequest, storage.MaxAuditPage))
	} else {
		q.Limit = int(l)
	}
	switch o := v.Get("order"); o {
	case "", "oldest":
	case "newest":
		q.Newest = true
	default:
		errs = append(errs, fmt.Errorf("%w: ?order= must be newest or oldest", ErrBadRequest))
	}
	if d := strings.TrimSpace(v.Get("device")); d != "" {
		q.Target = "device:" + d
	}
	if t := strings.TrimSpace(v.Get("target")); t != "" {
		if q.Target != "" && q.Target != t {
			errs = append(errs, fmt.Errorf("%w: ?device= and ?target= name different targets", ErrBadRequest))
		}
		q.Target = t
	}
	if u := strings.TrimSpace(v.Get("user")); u != "" {
		q.Subject = "user:" + u
	}
	q.Actor = strings.TrimSpace(v.Get("actor"))
	q.Action = strings.TrimSpace(v.Get("action"))
	var err error
	if q.Since, err = auditTime(v.Get("since"), false); err != nil {
		errs = append(errs, fmt.Errorf("%w: ?since=: %w", ErrBadRequest, err))
	}
	if q.Until, err = auditTime(v.Get("until"), true); err != nil {
		errs = append(errs, fmt.Errorf("%w: ?until=: %w", ErrBadRequest, err))
	}
	if err := errors.Join(errs...); err != nil {
		return q, err
	}
	if _, err := q.Normalize(); err != nil {
		return q, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	return q, nil
}

// auditTime reads an RFC 3339 time or a date; a date as an upper bound
// means the end of its day.
func auditTime(s string, end bool) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, errors.New("want a date (2026-03-14) or an RFC 3339 time")
	}
	if end {
		d = d.AddDate(0, 0, 1)
	}
	return d, nil
}

// Names resolves what audit entries name — "user:ID", "device:ID",
// "policy:ID", "app:ID" — to what people call them: a username (and
// display name), a device's name or model, a policy's or app's name.
// Actors and targets it cannot resolve (an admin, "system", a record
// since removed) are left out; show them as they are.
func (s *SDK) Names(ctx context.Context, org storage.OrgID, refs ...string) (map[string]string, error) {
	names := map[string]string{}
	for _, ref := range refs {
		if _, done := names[ref]; done || ref == "" {
			continue
		}
		kind, id, ok := strings.Cut(ref, ":")
		if !ok || id == "" {
			continue
		}
		name, err := s.refName(ctx, org, kind, id)
		switch {
		case errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrInvalid):
			continue
		case err != nil:
			return nil, err
		case name != "":
			names[ref] = name
		}
	}
	return names, nil
}

func (s *SDK) refName(ctx context.Context, org storage.OrgID, kind, id string) (string, error) {
	switch kind {
	case "user":
		u, err := s.Directory.User(ctx, org, id)
		if err != nil {
			return "", err
		}
		if u.DisplayName != "" && u.DisplayName != u.Username {
			return u.Username + " (" + u.DisplayName + ")", nil
		}
		return u.Username, nil
	case "device":
		d, err := s.OrgDevice(ctx, org, id)
		if err != nil {
			return "", err
		}
		sum, err := s.Summary(ctx, d)
		if err != nil {
			return "", err
		}
		return sum.Label(), nil
	case "policy":
		p, err := s.Store.Policy(ctx, org, policy.ID(id))
		if err != nil {
			return "", err
		}
		return p.Name, nil
	case "app":
		a, err := s.Catalog.App(ctx, org, id)
		if err != nil {
			return "", err
		}
		return a.Name, nil
	case "group":
		g, err := s.Directory.Group(ctx, org, id)
		if err != nil {
			return "", err
		}
		return g.Name, nil
	}
	return "", nil
}

// AuditNames is [SDK.Names] of every actor and target of entries.
func (s *SDK) AuditNames(ctx context.Context, org storage.OrgID, entries []storage.AuditEntry) (map[string]string, error) {
	refs := make([]string, 0, 2*len(entries))
	for _, e := range entries {
		refs = append(refs, e.Actor, e.Target)
	}
	return s.Names(ctx, org, refs...)
}
