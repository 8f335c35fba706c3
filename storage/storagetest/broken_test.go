package storagetest

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
)

// The suite is only worth something if it fails for a backend that breaks a
// contract. Each broken backend below breaks one rule; the suite must catch
// every one of them.

// leakyAudit lists every org's entries, ignoring tenancy.
type leakyAudit struct{ *memory.Store }

func (s leakyAudit) ListAudit(ctx context.Context, org storage.OrgID, q storage.AuditQuery) (storage.AuditPage, error) {
	orgs, _ := s.ListOrgs(ctx)
	var page storage.AuditPage
	for _, o := range orgs {
		p, err := s.Store.ListAudit(ctx, o.ID, q)
		if err != nil {
			return p, err
		}
		page.Entries = append(page.Entries, p.Entries...)
	}
	slices.SortFunc(page.Entries, func(a, b storage.AuditEntry) int { return int(a.ID - b.ID) })
	return page, nil
}

// auditFirst appends the audit entry before attempting the change, outside
// any transaction, so a rejected change still leaves an entry.
type auditFirst struct{ *memory.Store }

func (s auditFirst) CreateOrg(ctx context.Context, o storage.Org, e storage.AuditEntry) (storage.Org, error) {
	s.AppendAudit(ctx, e) //nolint:errcheck // the breakage under test
	return s.Store.CreateOrg(ctx, o, e)
}

// lostUpdate ignores the version: the last writer wins.
type lostUpdate struct{ *memory.Store }

func (s lostUpdate) UpdateOrg(ctx context.Context, o storage.Org, e storage.AuditEntry) (storage.Org, error) {
	if stored, err := s.Org(ctx, o.ID); err == nil {
		o.Version = stored.Version
	}
	return s.Store.UpdateOrg(ctx, o, e)
}

// lossyDetails drops audit details on the way out.
type lossyDetails struct{ *memory.Store }

func (s lossyDetails) ListAudit(ctx context.Context, org storage.OrgID, q storage.AuditQuery) (storage.AuditPage, error) {
	p, err := s.Store.ListAudit(ctx, org, q)
	for i := range p.Entries {
		p.Entries[i].Details = map[string]string{}
	}
	return p, err
}

// offByOnePaging returns one entry fewer than a full page yet claims more.
type offByOnePaging struct{ *memory.Store }

func (s offByOnePaging) ListAudit(ctx context.Context, org storage.OrgID, q storage.AuditQuery) (storage.AuditPage, error) {
	p, err := s.Store.ListAudit(ctx, org, q)
	if p.Next != 0 && len(p.Entries) > 1 {
		p.Entries = p.Entries[:len(p.Entries)-1]
	}
	return p, err
}

// oldestAlways ignores Newest: the log reads oldest first whatever is
// asked.
type oldestAlways struct{ *memory.Store }

func (s oldestAlways) ListAudit(ctx context.Context, org storage.OrgID, q storage.AuditQuery) (storage.AuditPage, error) {
	if q.Newest {
		q.Newest, q.After, q.Before = false, q.Before, 0
	}
	return s.Store.ListAudit(ctx, org, q)
}

// actorOnlySubject matches a subject as the actor only, missing what was
// done to it.
type actorOnlySubject struct{ *memory.Store }

func (s actorOnlySubject) ListAudit(ctx context.Context, org storage.OrgID, q storage.AuditQuery) (storage.AuditPage, error) {
	if q.Subject != "" {
		q.Actor, q.Subject = q.Subject, ""
	}
	return s.Store.ListAudit(ctx, org, q)
}

// wildPrefix matches an action prefix without its dot, so that
// "device." also matches "devicex.lock".
type wildPrefix struct{ *memory.Store }

func (s wildPrefix) ListAudit(ctx context.Context, org storage.OrgID, q storage.AuditQuery) (storage.AuditPage, error) {
	prefix, ok := strings.CutSuffix(q.Action, ".")
	if !ok {
		return s.Store.ListAudit(ctx, org, q)
	}
	q.Action = ""
	p, err := s.Store.ListAudit(ctx, org, q)
	kept := p.Entries[:0]
	for _, e := range p.Entries {
		if strings.HasPrefix(e.Action, prefix) {
			kept = append(kept, e)
		}
	}
	p.Entries = kept
	return p, err
}

// inclusiveUntil returns entries at the Until time too.
type inclusiveUntil struct{ *memory.Store }

func (s inclusiveUntil) ListAudit(ctx context.Context, org storage.OrgID, q storage.AuditQuery) (storage.AuditPage, error) {
	if !q.Until.IsZero() {
		q.Until = q.Until.Add(time.Minute)
	}
	return s.Store.ListAudit(ctx, org, q)
}

// rawTimes keeps times as given instead of normalizing them.
type rawTimes struct{ *memory.Store }

func (s rawTimes) CreateOrg(ctx context.Context, o storage.Org, e storage.AuditEntry) (storage.Org, error) {
	got, err := s.Store.CreateOrg(ctx, o, e)
	got.Created = e.Time
	return got, err
}

// lenientNames accepts any org name by rewriting invalid ones.
type lenientNames struct{ *memory.Store }

func (s lenientNames) CreateOrg(ctx context.Context, o storage.Org, e storage.AuditEntry) (storage.Org, error) {
	if storage.ValidateOrgName(o.Name) != nil {
		o.Name = fmt.Sprintf("fixed%d", len(o.Name))
	}
	return s.Store.CreateOrg(ctx, o, e)
}

func TestSuiteCatchesBrokenBackends(t *testing.T) {
	broken := map[string]func() Store{
		"leaky audit":        func() Store { return leakyAudit{memory.New()} },
		"audit before check": func() Store { return auditFirst{memory.New()} },
		"lost update":        func() Store { return lostUpdate{memory.New()} },
		"lossy details":      func() Store { return lossyDetails{memory.New()} },
		"off-by-one paging":  func() Store { return offByOnePaging{memory.New()} },
		"raw times":          func() Store { return rawTimes{memory.New()} },
		"oldest always":      func() Store { return oldestAlways{memory.New()} },
		"actor-only subject": func() Store { return actorOnlySubject{memory.New()} },
		"wild action prefix": func() Store { return wildPrefix{memory.New()} },
		"inclusive until":    func() Store { return inclusiveUntil{memory.New()} },
		"lenient names":      func() Store { return lenientNames{memory.New()} },
		"NotNow resent":      func() Store { return notNowResent{memory.New()} },
		"never abandons":     func() Store { return neverAbandons{memory.New()} },
		"overwrites answers": func() Store { return overwritesAnswers{memory.New()} },
		"leaky policies":     func() Store { return leakyPolicies{memory.New()} },
		"stale revision":     func() Store { return staleRevision{memory.New()} },
		"blind delete":       func() Store { return blindDelete{memory.New()} },
	}
	expectCaught(t, broken)
}

// expectCaught runs the suite against each broken backend and fails unless
// a case whose name starts with one of prefixes catches it: another
// contract's cases failing would not show that the contract's own cases
// catch the breakage. No prefix accepts any case.
func expectCaught(t *testing.T, broken map[string]func() Store, prefixes ...string) {
	t.Helper()
	skipUnderRace(t)
	for name, newStore := range broken {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var caught []string
			for _, c := range runRecorded(t, newStore) {
				if len(prefixes) == 0 || slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(c, p) }) {
					caught = append(caught, c)
				}
			}
			if len(caught) == 0 {
				t.Fatalf("the conformance suite passed a backend with %s", name)
			}
			t.Logf("caught by %v", caught)
		})
	}
}

// skipUnderRace skips a self-test under the race detector (see
// raceEnabled); the suite's own concurrency cases run under it in every
// backend's conformance test.
func skipUnderRace(t *testing.T) {
	if raceEnabled {
		t.Skip("runs without -race: .ci/run runs go test ./storage/storagetest")
	}
}

func TestSuitePassesMemory(t *testing.T) {
	skipUnderRace(t)
	if failed := runRecorded(t, func() Store { return memory.New() }); len(failed) > 0 {
		t.Fatalf("the reference backend fails %v", failed)
	}
}

// runRecorded runs every case against a fresh store and returns the names
// of the cases that failed, without failing t.
func runRecorded(t *testing.T, newStore func() Store) []string {
	var failed []string
	for _, c := range cases() {
		r := &recorder{TB: t}
		s := newStore()
		r.run(func() { c.run(r, s) })
		if c, ok := s.(io.Closer); ok {
			c.Close()
		}
		if r.failed {
			failed = append(failed, c.name)
		}
	}
	return failed
}

// recorder is a testing.TB that records failures instead of reporting them.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	failed bool
}

type stopCase struct{}

func (r *recorder) run(fn func()) {
	defer func() {
		if p := recover(); p != nil && p != (stopCase{}) {
			panic(p)
		}
	}()
	fn()
}

func (r *recorder) Fail() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = true
}

func (r *recorder) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

func (r *recorder) FailNow()                          { r.Fail(); panic(stopCase{}) }
func (r *recorder) Error(args ...any)                 { r.Fail() }
func (r *recorder) Errorf(format string, args ...any) { r.Fail() }
func (r *recorder) Fatal(args ...any)                 { r.FailNow() }
func (r *recorder) Fatalf(format string, args ...any) { r.FailNow() }

// notNowResent hands out NotNow commands on the same connection.
type notNowResent struct{ *memory.Store }

func (s notNowResent) NextCommand(ctx context.Context, org storage.OrgID, device string, opt enroll.NextOptions) (enroll.QueuedCommand, error) {
	opt.SkipNotNow = false
	return s.Store.NextCommand(ctx, org, device, opt)
}

// neverAbandons lets an unanswerable command block the queue forever.
type neverAbandons struct{ *memory.Store }

func (s neverAbandons) NextCommand(ctx context.Context, org storage.OrgID, device string, opt enroll.NextOptions) (enroll.QueuedCommand, error) {
	opt.MaxDeliveries, opt.QueuedAfter = 1<<30, time.Time{}
	return s.Store.NextCommand(ctx, org, device, opt)
}

// overwritesAnswers lets a replayed answer change a final status.
type overwritesAnswers struct{ *memory.Store }

func (s overwritesAnswers) RecordOutcome(ctx context.Context, org storage.OrgID, device string, o enroll.Outcome) (enroll.QueuedCommand, bool, error) {
	got, _, err := s.Store.RecordOutcome(ctx, org, device, o)
	if err == nil && !got.Status.Open() {
		got.Status = o.Status
	}
	return got, err == nil, err
}
