package declarative

import (
	"errors"
	"net/http"

	"github.com/openomm/omm/storage"
)

// ProfilePattern is the route pattern of the settings profile under the
// handler's public base (see [WithProfiles]); the declarations hold each
// device's URL.
const ProfilePattern = "GET /mdm/{org}/declarative/{device}/{secret}/settings.mobileconfig"

// ProfileHandler serves [Service.SettingsProfile] at [ProfilePattern]. It
// answers 404 for anything but a current profile URL of an enrolled
// device, so that it tells nothing about devices or secrets.
func (s *Service) ProfileHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		org := storage.OrgID(r.PathValue("org"))
		if org.Validate() != nil {
			http.NotFound(w, r)
			return
		}
		b, err := s.SettingsProfile(r.Context(), org, r.PathValue("device"), r.PathValue("secret"), r.URL.Query().Get("v"))
		switch {
		case errors.Is(err, storage.ErrNotFound):
			http.NotFound(w, r)
			return
		case err != nil:
			s.log.ErrorContext(r.Context(), "declarative: settings profile", "org", org, "err", err)
			http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/x-apple-aspen-config")
		w.Write(b) //nolint:errcheck // the device fetches it again
	})
}
