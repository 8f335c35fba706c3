package omm_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openomm/omm"
	"github.com/openomm/omm/enroll/apns"
	"github.com/openomm/omm/enroll/apns/apnstest"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// TestReplicasShareBackgroundWork: two SDKs on one store are two replicas.
// The pushes of commands replica A committed and never sent (it has no
// push here, as if it died after its commit) are sent by replica B's
// drain, once; and of the two replicas' reconcile rounds, one reconciles
// each org.
func TestReplicasShareBackgroundWork(t *testing.T) {
	e := newEnv(t, "/mdm")
	d := e.enrollApple(t, e.org, e.users["alice"])

	fake := apnstest.NewServer()
	defer fake.Close()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	client, err := apns.New(omm.DevelopmentTopic, apns.WithToken(key, "KEY", "TEAM"), apns.WithEndpoint(fake.URL()), apns.WithRootCAs(fake.RootCAs()))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	logB := &syncBuffer{}
	b, err := omm.New(t.Context(), omm.Config{Store: e.sdk.Store, PublicURL: e.ts.URL + "/mdm", Push: client, ReplicaID: "replica-b",
		Logger: slog.New(slog.NewTextHandler(logB, nil))})
	if err != nil {
		t.Fatal(err)
	}
	n, err := b.DrainPushes(t.Context())
	if err != nil || n != 1 {
		t.Fatalf("replica B drained %d devices (%v), want alice's iPhone", n, err)
	}
	if p := fake.Pushes(); len(p) != 1 || p[0].Token != hex.EncodeToString([]byte{1, 2, 3}) {
		t.Fatalf("pushes %+v, want one to the iPhone %s", p, d.id)
	}
	if n, err := b.DrainPushes(t.Context()); err != nil || n != 0 {
		t.Errorf("second drain: %d, %v", n, err)
	}

	// Both replicas run; each org is reconciled by one of them.
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() { e.sdk.Run(ctx, time.Hour) })
	wg.Go(func() { b.Run(ctx, time.Hour) })
	round := regexp.MustCompile(`msg="` + omm.ReconciledMessage + `" orgs=2 reconciled=(\d)`)
	reconciled := func(log *syncBuffer) (int, bool) {
		m := round.FindStringSubmatch(log.String())
		if m == nil {
			return 0, false
		}
		n, _ := strconv.Atoi(m[1])
		return n, true
	}
	for {
		na, okA := reconciled(e.log)
		nb, okB := reconciled(logB)
		if okA && okB {
			if na+nb != 2 {
				t.Errorf("replicas reconciled %d and %d orgs, want 2 in all", na, nb)
			}
			break
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("the replicas' first rounds did not end:\n%s\n%s", e.log, logB)
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	wg.Wait()
}

// TestReapplyTakenOver: a replica that dies right after a policy change
// commits leaves the change's re-application recorded; another replica
// runs it once it is ReapplyGrace old (not before: the replica that made
// it runs its own), and the request is gone after. A change made through
// the SDK leaves no request behind.
func TestReapplyTakenOver(t *testing.T) {
	e := newEnv(t, "/mdm")
	ctx := t.Context()
	iphone := e.enrollApple(t, e.org, e.users["alice"])
	iphone.drain(t, nil)
	now := time.Now()
	clock := now
	var mu sync.Mutex
	b, err := omm.New(ctx, omm.Config{Store: e.sdk.Store, PublicURL: e.ts.URL + "/mdm", ReplicaID: "replica-b", AllowSimulators: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Clock:  func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := b.DrainReapplies(ctx); err != nil || n != 0 {
		t.Fatalf("after the set-up's changes through the SDK: %d requests left (%v), want none", n, err)
	}

	// Replica A commits the change and dies: the store's write alone, no
	// SDK hook after it.
	p := e.policies[e.org]
	r := p.Rules[policy.IOS]
	r.Requirements.Passcode.MinLength = 11
	p.Rules[policy.IOS] = r
	if _, err := e.sdk.Store.UpdatePolicy(ctx, p, storage.AuditEntry{Org: e.org, Time: now, Actor: "admin:test",
		Action: policy.ActionPolicyUpdate, Target: "policy:" + string(p.ID)}); err != nil {
		t.Fatal(err)
	}
	if n, err := b.DrainReapplies(ctx); err != nil || n != 0 {
		t.Fatalf("a request younger than the grace was taken over: %d (%v)", n, err)
	}
	if c, ok := iphone.poll(t, nil); ok {
		t.Fatalf("the iPhone got %s before the takeover", c.RequestType)
	}
	mu.Lock()
	clock = now.Add(omm.ReapplyGrace)
	mu.Unlock()
	if n, err := b.DrainReapplies(ctx); err != nil || n != 1 {
		t.Fatalf("replica B took over %d requests (%v), want the org's", n, err)
	}
	c, ok := iphone.poll(t, nil)
	if !ok || c.RequestType != "InstallProfile" {
		t.Fatalf("after the takeover the iPhone got %q (%v), want InstallProfile", c.RequestType, ok)
	}
	if pc := iphone.policyProfile(t, c); pc == nil || pc.MinLength != 11 {
		t.Errorf("re-applied profile passcode %+v, want min length 11", pc)
	}
	iphone.poll(t, map[string]any{"Status": "Acknowledged", "CommandUUID": c.UUID})
	mu.Lock()
	clock = now.Add(time.Hour)
	mu.Unlock()
	if n, err := b.DrainReapplies(ctx); err != nil || n != 0 {
		t.Fatalf("the request stayed after its run: %d (%v)", n, err)
	}

	// Through the SDK: the replica that made the change runs and deletes it.
	r.Requirements.Passcode.MinLength = 12
	p.Rules[policy.IOS] = r
	p.Version++
	if _, err := e.sdk.UpdatePolicy(ctx, "admin:test", p); err != nil {
		t.Fatal(err)
	}
	if err := e.sdk.SetMember(ctx, e.org, e.staff[e.org], e.users["alice"], false, "admin:test"); err != nil {
		t.Fatal(err)
	}
	if n, err := b.DrainReapplies(ctx); err != nil || n != 0 {
		t.Fatalf("changes through the SDK left %d requests (%v), want none", n, err)
	}
}

// TestReapplyGoesOnInBatches: a re-application of more devices than a
// run's batch (Config.ReapplyBatch) answers its caller after the first
// batch and leaves the rest to SDK.Run's drain, which goes on where the
// run stopped: each device gets the change once, and the request is gone
// after the last batch.
func TestReapplyGoesOnInBatches(t *testing.T) {
	e := newEnv(t, "/mdm")
	ctx := t.Context()
	var phones []*appleDevice
	for range 3 {
		d := e.enrollApple(t, e.org, e.users["alice"])
		d.drain(t, nil)
		phones = append(phones, d)
	}
	slices.SortFunc(phones, func(a, b *appleDevice) int { return strings.Compare(a.id, b.id) }) // the runs' order
	now := time.Now()
	clock := now
	var mu sync.Mutex
	log := &syncBuffer{}
	b, err := omm.New(ctx, omm.Config{Store: e.sdk.Store, PublicURL: e.ts.URL + "/mdm", ReplicaID: "replica-b", AllowSimulators: true,
		ReapplyBatch: 2, Logger: slog.New(slog.NewTextHandler(log, nil)),
		Clock: func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := omm.New(ctx, omm.Config{Store: e.sdk.Store, PublicURL: e.ts.URL + "/mdm", ReapplyBatch: -1}); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("New with a negative batch: %v, want ErrInvalid", err)
	}
	p := e.policies[e.org]
	r := p.Rules[policy.IOS]
	r.Requirements.Passcode.MinLength = 11
	p.Rules[policy.IOS] = r
	if _, err := b.UpdatePolicy(ctx, "admin:test", p); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "continues_after="+phones[1].id) {
		t.Errorf("the first run's log does not say where the next goes on (after %s):\n%s", phones[1].id, log)
	}
	reapplied := func(d *appleDevice) {
		t.Helper()
		c, ok := d.poll(t, nil)
		if !ok || c.RequestType != "InstallProfile" {
			t.Fatalf("device %s got %q (%v), want InstallProfile", d.id, c.RequestType, ok)
		}
		if pc := d.policyProfile(t, c); pc == nil || pc.MinLength != 11 {
			t.Errorf("device %s: re-applied passcode %+v, want min length 11", d.id, pc)
		}
		if c, ok := d.poll(t, map[string]any{"Status": "Acknowledged", "CommandUUID": c.UUID}); ok {
			t.Errorf("device %s got %s after its profile, want nothing more", d.id, c.RequestType)
		}
	}
	reapplied(phones[0])
	reapplied(phones[1])
	if c, ok := phones[2].poll(t, nil); ok {
		t.Fatalf("the device past the first batch got %s at once", c.RequestType)
	}
	if n, err := b.DrainReapplies(ctx); err != nil || n != 0 {
		t.Fatalf("the rest were taken before the grace: %d (%v)", n, err)
	}
	mu.Lock()
	clock = now.Add(omm.ReapplyGrace)
	mu.Unlock()
	if n, err := b.DrainReapplies(ctx); err != nil || n != 1 {
		t.Fatalf("drain ran %d requests (%v), want the org's rest", n, err)
	}
	reapplied(phones[2])
	for _, d := range phones[:2] {
		if c, ok := d.poll(t, nil); ok {
			t.Errorf("device %s of the first batch got %s again", d.id, c.RequestType)
		}
	}
	if n, err := b.DrainReapplies(ctx); err != nil || n != 0 {
		t.Fatalf("the request stayed after its last batch: %d (%v)", n, err)
	}
}
