package omm_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/openomm/omm"
	"github.com/openomm/omm/enroll/apns"
	"github.com/openomm/omm/enroll/apns/apnstest"
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
