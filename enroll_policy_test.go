package omm_test

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/openomm/omm"
	"github.com/openomm/omm/catalog"
	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/ota"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
)

// hookWritesFail is a store whose policy-record and app-install writes of
// their own (ApplyPolicy, QueueInstall) fail, as if the process had died
// right after the transaction that completes an enrollment, before the
// enrollment hooks' writes; it counts them.
type hookWritesFail struct {
	omm.Store
	applies, installs atomic.Int64
}

func (s *hookWritesFail) QueueInstall(context.Context, catalog.Install, string, enroll.Command, storage.AuditEntry, storage.AuditEntry) (catalog.Install, error) {
	s.installs.Add(1)
	return catalog.Install{}, errors.New("install writes fail in this test")
}

func (s *hookWritesFail) ApplyPolicy(context.Context, policy.Applied, *enroll.Command, storage.AuditEntry) (policy.Applied, error) {
	s.applies.Add(1)
	return policy.Applied{}, errors.New("policy writes fail in this test")
}

// TestEnrollmentHooksWriteWithCompletion: the policy record of a newly
// enrolled iPhone (the policy and settings it enrolled under) and the
// user's automatic app installs are written in the transaction that
// completes its enrollment, with their audit entries, not by the
// enrollment hooks in transactions of their own afterwards: with those
// writes failing, the record and the install are there all the same, and
// the hooks did not try to write them again. An app assigned only as
// available is not installed.
func TestEnrollmentHooksWriteWithCompletion(t *testing.T) {
	ctx := t.Context()
	mem := memory.New()
	t.Cleanup(func() { mem.Close() })
	st := &hookWritesFail{Store: mem}
	e := newEnvStore(t, "", st)
	auto := e.createApp(t, e.org, "com.example.auto", catalog.AutoInstall)
	e.createApp(t, e.org, "com.example.offered", catalog.Available)
	d := e.enrollApple(t, e.org, e.users["alice"])

	ins, err := mem.DeviceInstalls(ctx, e.org, d.id)
	if err != nil {
		t.Fatal(err)
	}
	if len(ins) != 1 || ins[0].AppID != auto.ID || ins[0].Progress != catalog.Queued {
		t.Errorf("installs after the enrollment %+v, want the automatic app queued", ins)
	}
	if n := st.installs.Load(); n != 0 {
		t.Errorf("the enrollment hooks queued %d installs after the completion", n)
	}
	var types []string
	for _, c := range d.drain(t, nil) {
		types = append(types, c.RequestType)
	}
	if !slices.Contains(types, "InstallApplication") || !slices.Contains(types, "InstallProfile") || !slices.Contains(types, "DeviceInformation") {
		t.Errorf("the device fetched %v, want the policy profile, the inventory and the app install", types)
	}

	got, err := mem.AppliedPolicy(ctx, e.org, d.id)
	if err != nil {
		t.Fatalf("no policy record after the enrollment: %v", err)
	}
	req := e.policies[e.org].Rules[policy.IOS].Requirements
	if got.Policy != e.policies[e.org].ID || got.Fingerprint != ota.ProfileFingerprint(req) || got.Version != 1 || got.OutOfPolicy != "" {
		t.Errorf("policy record %+v, want version 1 of policy %s with the enrollment's settings", got, e.policies[e.org].ID)
	}
	if n := st.applies.Load(); n != 0 {
		t.Errorf("the enrollment hooks wrote the policy record %d times after the completion", n)
	}
	recorded, requested := 0, 0
	q := storage.AuditQuery{Limit: storage.MaxAuditPage}
	for {
		p, err := mem.ListAudit(ctx, e.org, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range p.Entries {
			if a.Action == catalog.ActionInstallRequest && a.Target == "device:"+d.id && a.Details["app"] == auto.ID {
				requested++
			}
			if a.Action == ota.ActionPolicyRecorded && a.Target == "device:"+d.id {
				recorded++
				if a.Actor != omm.ReapplyActor || a.Details["policy"] != string(got.Policy) || a.Details["fingerprint"] != got.Fingerprint {
					t.Errorf("audit entry %+v", a)
				}
			}
		}
		if p.Next == 0 {
			break
		}
		q.After = p.Next
	}
	if requested != 1 {
		t.Errorf("%d %s audit entries for the device's app, want 1", requested, catalog.ActionInstallRequest)
	}
	if recorded != 1 {
		t.Errorf("%d %s audit entries for the device, want 1", recorded, ota.ActionPolicyRecorded)
	}
}

// assignedFailsOnce is a store whose first AssignedApps read fails: the
// completion hook cannot work out the user's installs.
type assignedFailsOnce struct {
	omm.Store
	failed atomic.Bool
}

func (s *assignedFailsOnce) AssignedApps(ctx context.Context, org storage.OrgID, groups []string) ([]catalog.AssignedApp, error) {
	if s.failed.CompareAndSwap(false, true) {
		return nil, errors.New("assigned apps fail once in this test")
	}
	return s.Store.AssignedApps(ctx, org, groups)
}

// TestEnrollmentInstallsAfterCompletionWhenNotCarried: when the completion
// could not carry the automatic installs, the enrollment hooks queue them
// after it, as before.
func TestEnrollmentInstallsAfterCompletionWhenNotCarried(t *testing.T) {
	mem := memory.New()
	t.Cleanup(func() { mem.Close() })
	st := &assignedFailsOnce{Store: mem}
	e := newEnvStore(t, "", st)
	auto := e.createApp(t, e.org, "com.example.auto", catalog.AutoInstall)
	st.failed.Store(false)
	d := e.enrollApple(t, e.org, e.users["alice"])
	if !st.failed.Load() {
		t.Fatal("the completion did not read the assigned apps")
	}
	ins, err := mem.DeviceInstalls(t.Context(), e.org, d.id)
	if err != nil {
		t.Fatal(err)
	}
	if len(ins) != 1 || ins[0].AppID != auto.ID {
		t.Errorf("installs after the enrollment %+v, want the automatic app", ins)
	}
}
