package omm_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/openomm/omm"
	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/ota"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
)

// policyWritesFail is a store whose policy-record writes of their own
// (ApplyPolicy) fail, as if the process had died right after the
// transaction that completes an enrollment, before the enrollment hooks'
// writes; it counts them.
type policyWritesFail struct {
	omm.Store
	applies atomic.Int64
}

func (s *policyWritesFail) ApplyPolicy(context.Context, policy.Applied, *enroll.Command, storage.AuditEntry) (policy.Applied, error) {
	s.applies.Add(1)
	return policy.Applied{}, errors.New("policy writes fail in this test")
}

// TestEnrollmentRecordsPolicyWithCompletion: the policy record of a newly
// enrolled iPhone (the policy and settings it enrolled under) is written in
// the transaction that completes its enrollment, with its audit entry,
// not by the enrollment hooks in a transaction of their own afterwards:
// with those writes failing, the record is there all the same, and the
// hooks, finding it unchanged, did not try to write one.
func TestEnrollmentRecordsPolicyWithCompletion(t *testing.T) {
	ctx := t.Context()
	mem := memory.New()
	t.Cleanup(func() { mem.Close() })
	st := &policyWritesFail{Store: mem}
	e := newEnvStore(t, "", st)
	d := e.enrollApple(t, e.org, e.users["alice"])

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
	recorded := 0
	q := storage.AuditQuery{Limit: storage.MaxAuditPage}
	for {
		p, err := mem.ListAudit(ctx, e.org, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range p.Entries {
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
	if recorded != 1 {
		t.Errorf("%d %s audit entries for the device, want 1", recorded, ota.ActionPolicyRecorded)
	}
}
