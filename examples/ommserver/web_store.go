package main

import (
	"net/http"

	"github.com/openomm/omm"
	"github.com/openomm/omm/catalog"
	"github.com/openomm/omm/storage"
)

// The portal's app store: the user's store on one of their devices. Each
// app shows one of three faces: Install (the user may install it now),
// Open (installed and managed: it opens from the device's home screen,
// and the user may remove it) or Unmanaged (a copy the user installed
// before management, with advice), besides the passing states of an
// install or removal under way.

type storeData struct {
	Device omm.DeviceSummary
	Items  []catalog.Item
	Notice string
	// Closed says why nothing can be installed or removed (the device is
	// not under management); no buttons are offered then.
	Closed string
}

// CanInstall says whether the page offers an Install (or Update, or
// take-over) button for it: Apple apps the user may install now. Play apps
// are installed from managed Google Play on the device.
func (d storeData) CanInstall(it catalog.Item) bool {
	if it.App.Kind == catalog.Play || d.Closed != "" {
		return false
	}
	switch it.State {
	case catalog.StateAvailable, catalog.StateFailed, catalog.StateUserRejected:
		return true
	case catalog.StateInstalled:
		return it.UpdateAvailable
	case catalog.StateUnmanaged:
		return it.TakeOver
	}
	return false
}

// CanRemove says whether the page offers to remove the managed copy: the
// user may uninstall a managed app at any time (Apple devices; on Android
// the work profile's Play Store does it).
func (d storeData) CanRemove(it catalog.Item) bool {
	return it.State == catalog.StateInstalled && it.App.Kind != catalog.Play && d.Closed == ""
}

// Label is what the store says about the app's state, in words.
func (storeData) Label(it catalog.Item) string {
	switch it.State {
	case catalog.StateAvailable:
		return "Not installed"
	case catalog.StateInstalling:
		return "Installing (pending until the device confirms)"
	case catalog.StateInstalled:
		if it.InstalledVersion != "" {
			return "Installed, version " + it.InstalledVersion
		}
		return "Installed"
	case catalog.StateUnmanaged:
		return "Unmanaged: installed by you before the device was managed"
	case catalog.StateFailed:
		return "Installation failed"
	case catalog.StateUserRejected:
		return "Declined on the device"
	case catalog.StateRemoving:
		return "Removing (pending until the device confirms)"
	}
	return string(it.State)
}

func (s *server) storePage(w http.ResponseWriter, r *http.Request) {
	p, token, ok := s.webPrincipal(w, r)
	if !ok {
		return
	}
	s.renderStore(w, r, p.User.Org, p.User.ID, token, r.PathValue("id"), "")
}

func (s *server) renderStore(w http.ResponseWriter, r *http.Request, org storage.OrgID, userID, token, deviceID, notice string) {
	v, err := s.sdk.Catalog.View(r.Context(), org, userID, deviceID)
	if err != nil {
		s.webFailure(w, "portal", err)
		return
	}
	sum, err := s.sdk.Summary(r.Context(), v.Device)
	if err != nil {
		s.webFailure(w, "portal", err)
		return
	}
	s.render(w, http.StatusOK, "store", page{Title: "App store", Nav: "portal", CSRF: s.csrfToken(csrfSession, token),
		Data: storeData{Device: sum, Items: v.Items, Notice: notice, Closed: v.Closed}})
}

func (s *server) storeInstallPost(w http.ResponseWriter, r *http.Request) {
	p, token, ok := s.webPrincipal(w, r)
	if !ok || !s.parseForm(w, r, csrfSession, token) {
		return
	}
	it, err := s.sdk.Catalog.Install(r.Context(), p.User.Org, p.User.ID, r.PathValue("id"), r.PathValue("app"))
	if err != nil {
		s.webFailure(w, "portal", err)
		return
	}
	s.renderStore(w, r, p.User.Org, p.User.ID, token, r.PathValue("id"),
		it.App.Name+" will be installed the next time the device connects. The device may ask you to confirm.")
}

func (s *server) storeUninstallPost(w http.ResponseWriter, r *http.Request) {
	p, token, ok := s.webPrincipal(w, r)
	if !ok || !s.parseForm(w, r, csrfSession, token) {
		return
	}
	it, err := s.sdk.Catalog.Uninstall(r.Context(), p.User.Org, p.User.ID, r.PathValue("id"), r.PathValue("app"))
	if err != nil {
		s.webFailure(w, "portal", err)
		return
	}
	s.renderStore(w, r, p.User.Org, p.User.ID, token, r.PathValue("id"),
		it.App.Name+" and its data will be removed the next time the device connects.")
}
