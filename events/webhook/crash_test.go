//go:build unix

package webhook_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openomm/omm/events"
	"github.com/openomm/omm/events/webhook"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/sqlite"
)

// TestCrash kills (SIGKILL) a process right after it committed changes
// and their events, before any delivery; and, in a second run, right
// after a delivery the receiver accepted, before the cursor was written.
// Started again on the same database, the deliverer delivers every
// event: none lost, and the one batch delivered twice is recognizable by
// its events' IDs.
func TestCrash(t *testing.T) {
	if os.Getenv("OMM_WEBHOOK_CHILD") != "" {
		t.Skip("the child runs TestCrashChild only")
	}
	e := newEnv(t)
	path := filepath.Join(t.TempDir(), "omm.db")
	store, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.CreateOrg(t.Context(), storage.Org{ID: e.org, Name: "acme", DisplayName: "Acme"},
		storage.AuditEntry{Org: e.org, Time: time.Now(), Actor: "admin:root", Action: "org.create"}); err != nil {
		t.Fatal(err)
	}
	store.Close()

	child := func(stage string) {
		t.Helper()
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "OMM_WEBHOOK_CHILD="+stage, "OMM_WEBHOOK_DB="+path, "OMM_WEBHOOK_ORG="+string(e.org),
			"OMM_WEBHOOK_URL="+e.srv.URL)
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("child %s was not killed (%v):\n%s", stage, err, out)
		}
	}
	child("commit")  // three events committed, nothing delivered
	child("deliver") // two more; all five delivered, the cursor not written

	store, err = sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if n := len(e.recv.received()); n != 5 {
		t.Fatalf("before the restart the receiver has %d events, want the 5 of the killed delivery", n)
	}
	// Restarted with the name it held the org's lease under (a replica's
	// stable name): it resumes at once.
	d, err := webhook.New(store, e.srv.URL, secret, webhook.WithLease("replica-1", 0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.DeliverOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	page, err := store.Events(t.Context(), e.org, events.Query{})
	if err != nil || len(page.Events) != 5 {
		t.Fatalf("stored events: %d, %v", len(page.Events), err)
	}
	if got := ids(e.recv.received()); !slices.Equal(got, ids(page.Events)) {
		t.Errorf("received %v, want every committed event %v", got, ids(page.Events))
	}
	dup := 0
	for _, n := range e.recv.seen {
		if n > 1 {
			dup++
		}
	}
	if dup != 5 {
		t.Errorf("%d events delivered twice, want the 5 of the batch whose cursor the crash lost", dup)
	}
}

// dyingCursor is the store of a process that dies when it would record a
// delivery.
type dyingCursor struct{ *sqlite.Store }

func (dyingCursor) SetEventCursor(context.Context, storage.OrgID, string, int64) error {
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

// TestCrashChild is the process TestCrash kills.
func TestCrashChild(t *testing.T) {
	stage := os.Getenv("OMM_WEBHOOK_CHILD")
	if stage == "" {
		t.Skip("run by TestCrash")
	}
	store, err := sqlite.Open(context.Background(), os.Getenv("OMM_WEBHOOK_DB"))
	if err != nil {
		t.Fatal(err)
	}
	org := storage.OrgID(os.Getenv("OMM_WEBHOOK_ORG"))
	n := 3
	if stage == "deliver" {
		n = 2
	}
	for i := range n {
		// Changes that emit events, as the SDK's do.
		if _, err := store.AppendAudit(context.Background(), storage.AuditEntry{Org: org, Time: time.Now(), Actor: "user:alice",
			Action: "http.denied", Target: "route:" + strings.Repeat("x", i+1), Event: events.SecurityDenied}); err != nil {
			t.Fatal(err)
		}
	}
	if stage == "commit" {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
	d, err := webhook.New(dyingCursor{store}, os.Getenv("OMM_WEBHOOK_URL"), secret, webhook.WithLease("replica-1", 0))
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.DeliverOnce(context.Background())
	t.Fatalf("the delivery returned (%v) instead of dying at its cursor", err)
}
