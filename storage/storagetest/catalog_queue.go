package storagetest

import (
	"testing"

	"github.com/openomm/omm/catalog"
	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/storage"
)

func catalogQueueCases() []testCase {
	return []testCase{
		{"Catalog/QueueInstall", testCatQueueInstall},
	}
}

// queued returns the UUIDs of the device's commands, newest first.
func queued(t testing.TB, s Store, org storage.OrgID, device string) []string {
	t.Helper()
	cmds, err := s.Commands(t.Context(), org, device, 100)
	noErr(t, "Commands", err)
	var ids []string
	for _, c := range cmds {
		ids = append(ids, c.UUID)
	}
	return ids
}

// testCatQueueInstall: QueueInstall stores the record and queues its
// command together, each with its audit entry; when either half is
// refused, neither happens.
func testCatQueueInstall(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	store, _, _ := sampleApps(o.ID)
	mustCreateApp(t, s, store, 1)
	cmd := func(uuid string) enroll.Command {
		return enroll.Command{UUID: uuid, RequestType: "InstallApplication", Body: []byte("<plist>" + uuid + "</plist>")}
	}
	install := func(uuid string) catalog.Install {
		return catalog.Install{Org: o.ID, Device: "dev_1", AppID: store.ID, Command: uuid, Progress: catalog.Queued}
	}
	n := len(allAudit(t, s, o.ID))
	got, err := s.QueueInstall(ctx, install("cmd-1"), "", cmd("cmd-1"),
		catEntry(o.ID, "catalog.install.request", "device:dev_1", 2), catEntry(o.ID, "mdm.command.queue", "device:dev_1", 2))
	noErr(t, "QueueInstall", err)
	want := install("cmd-1")
	want.Updated = storage.Normalize(at(2))
	same(t, "QueueInstall result", got, want)
	ins, err := s.DeviceInstalls(ctx, o.ID, "dev_1")
	noErr(t, "DeviceInstalls", err)
	same(t, "DeviceInstalls", ins, []catalog.Install{want})
	same(t, "queued commands", queued(t, s, o.ID, "dev_1"), []string{"cmd-1"})
	if audit := allAudit(t, s, o.ID); len(audit) != n+2 {
		t.Errorf("QueueInstall appended %d audit entries, want 2", len(audit)-n)
	}

	// A command UUID queued before, for another device.
	noErr(t, "EnqueueCommand", s.EnqueueCommand(ctx, o.ID, []string{"dev_2"}, cmd("cmd-taken"),
		catEntry(o.ID, "mdm.command.queue", "device:dev_2", 3)))
	tests := []struct {
		name string
		in   catalog.Install
		prev string
		cmd  enroll.Command
		want error
	}{
		{"stale previous command", install("cmd-2"), "cmd-other", cmd("cmd-2"), storage.ErrConflict},
		{"no previous command given", install("cmd-2"), "", cmd("cmd-2"), storage.ErrConflict},
		{"command already queued", install("cmd-taken"), "cmd-1", cmd("cmd-taken"), storage.ErrAlreadyExists},
		{"unknown app", catalog.Install{Org: o.ID, Device: "dev_1", AppID: "app_unknown", Command: "cmd-3", Progress: catalog.Queued},
			"", cmd("cmd-3"), storage.ErrNotFound},
		{"invalid command", install("cmd-4"), "cmd-1", enroll.Command{UUID: "cmd-4"}, storage.ErrInvalid},
	}
	for _, tc := range tests {
		before := takeCatalogSnapshot(t, s, "dev_1", "dev_2")
		_, err := s.QueueInstall(ctx, tc.in, tc.prev, tc.cmd,
			catEntry(o.ID, "catalog.install.request", "device:dev_1", 4), catEntry(o.ID, "mdm.command.queue", "device:dev_1", 4))
		wantErr(t, "QueueInstall("+tc.name+")", err, tc.want)
		catalogUnchanged(t, "QueueInstall("+tc.name+")", s, before, "dev_1", "dev_2")
		same(t, "queued commands after QueueInstall("+tc.name+")", queued(t, s, o.ID, "dev_1"), []string{"cmd-1"})
	}

	// The next request replaces the record and queues its command.
	_, err = s.QueueInstall(ctx, install("cmd-5"), "cmd-1", cmd("cmd-5"),
		catEntry(o.ID, "catalog.install.request", "device:dev_1", 5), catEntry(o.ID, "mdm.command.queue", "device:dev_1", 5))
	noErr(t, "QueueInstall(next)", err)
	same(t, "queued commands", queued(t, s, o.ID, "dev_1"), []string{"cmd-5", "cmd-1"})
}
