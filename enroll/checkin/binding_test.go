package checkin_test

import (
	"testing"

	"github.com/openomm/omm/enroll/checkin"
)

// TestBindingRead: over one store that reads bindings, the service reads a
// check-in's identity, device and queue in one query; over a wrapped store
// (or a registry of another store) it reads them one after the other.
func TestBindingRead(t *testing.T) {
	if e := newEnv(t); !e.svc.ReadsBindings() {
		t.Error("the service over one memory store does not read bindings")
	}
	if e := newEnvWrapped(t, func(s checkin.Store) checkin.Store { return struct{ checkin.Store }{s} }); e.svc.ReadsBindings() {
		t.Error("the service over a wrapped store reads bindings through it")
	}
}

// TestStepwiseReads runs the identity, refusal and queue tests again with
// the identity, the device and the queue read one after the other: the
// path of every store that cannot read a binding, and of every request the
// binding read does not accept at once.
func TestStepwiseReads(t *testing.T) {
	tests := []struct {
		name string
		run  func(*testing.T)
	}{
		{"EnrollmentFlow", TestEnrollmentFlow},
		{"QueueBehaviour", TestQueueBehaviour},
		{"Impersonation", TestImpersonation},
		{"TLSClientCertificate", TestTLSClientCertificate},
		{"UDIDOfAnotherUserRefused", TestUDIDOfAnotherUserRefused},
		{"RenewedIdentityRebinds", TestRenewedIdentityRebinds},
		{"ReenrollmentSupersedes", TestReenrollmentSupersedes},
		{"EndedEnrollmentRefused", TestEndedEnrollmentRefused},
		{"CheckedOutIdentityGetsNothing", TestCheckedOutIdentityGetsNothing},
		{"OnlyMDMIdentitiesCheckIn", TestOnlyMDMIdentitiesCheckIn},
		{"IdentityBoundToItsAttestation", TestIdentityBoundToItsAttestation},
	}
	stepwise = true
	t.Cleanup(func() { stepwise = false })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if e := newEnv(t); e.svc.ReadsBindings() {
				t.Fatal("StepwiseReads did not take effect")
			}
			tt.run(t)
		})
	}
}
