package catalog

import (
	"fmt"
	"time"

	"github.com/openomm/omm/storage"
)

// Progress is where the latest install or removal of an app on a device
// stands, as far as the server knows from its own commands. What the
// device reports (its app lists) is kept by inventory; the store view
// weighs the two (see [Service.View]).
type Progress string

const (
	// Queued: an install command is queued and not answered yet.
	Queued Progress = "queued"
	// Accepted: the device acknowledged the install command. On Apple
	// devices that means it took the request, not that the app is there:
	// it may still be prompting the user or downloading.
	Accepted Progress = "accepted"
	// Failed: the device answered with an error, or the command was
	// abandoned; Reason says why.
	Failed Progress = "failed"
	// Rejected: the user declined the install or the take-over.
	Rejected Progress = "rejected"
	// Removing: a removal command is queued and not answered yet.
	Removing Progress = "removing"
	// Removed: the device acknowledged the removal.
	Removed Progress = "removed"
)

// Valid reports whether p is one of the defined values.
func (p Progress) Valid() bool {
	switch p {
	case Queued, Accepted, Failed, Rejected, Removing, Removed:
		return true
	}
	return false
}

// Open reports whether a command is still awaiting the device's answer.
func (p Progress) Open() bool { return p == Queued || p == Removing }

// CheckFinish reports whether an open record in from may be finished in
// to: an install ends Accepted, Failed or Rejected; a removal ends Removed
// or Failed. Stores call it inside the writing transaction. Errors wrap
// storage.ErrInvalid.
func CheckFinish(from, to Progress) error {
	ok := false
	switch from {
	case Queued:
		ok = to == Accepted || to == Failed || to == Rejected
	case Removing:
		ok = to == Removed || to == Failed
	}
	if !ok {
		return fmt.Errorf("%w: an install record cannot go from %s to %s", storage.ErrInvalid, from, to)
	}
	return nil
}

// Limits on install records.
const (
	MaxDeviceIDLen  = 128
	MaxCommandLen   = 64
	MaxReasonLen    = 1024
	MaxInstallsPage = 5000 // install records returned per device at most
)

// Install is the latest install or removal of one app on one device.
// There is one record per device and app; a new request replaces it.
type Install struct {
	Org    storage.OrgID
	Device string // the inventory device ID
	AppID  string
	// Command is the UUID of the command that carries the request; the
	// device's answer finds the record by it.
	Command  string
	Progress Progress
	// Reason says why it failed or was rejected.
	Reason string
	// TakeOver marks an install that takes over a copy the user installed.
	TakeOver bool
	// BundleVersion is the in-house build an install sent; empty for other
	// kinds and removals.
	BundleVersion string
	// Updated is when the record last changed.
	Updated time.Time
}

// Validate checks the fields a caller supplies to start a request: the
// record must be open (Queued or Removing).
func (in Install) Validate() error {
	if err := in.Org.Validate(); err != nil {
		return fmt.Errorf("install: %w", err)
	}
	if err := validateText("device id", in.Device, MaxDeviceIDLen, true, false); err != nil {
		return err
	}
	if err := validateID("app id", in.AppID); err != nil {
		return err
	}
	if err := validateText("command UUID", in.Command, MaxCommandLen, true, false); err != nil {
		return err
	}
	if !in.Progress.Open() {
		return fmt.Errorf("%w: a request starts queued or removing, not %q", storage.ErrInvalid, in.Progress)
	}
	if in.TakeOver && in.Progress != Queued {
		return fmt.Errorf("%w: only an install takes over an app", storage.ErrInvalid)
	}
	if in.BundleVersion != "" {
		if in.Progress != Queued {
			return fmt.Errorf("%w: only an install carries a bundle version", storage.ErrInvalid)
		}
		if _, err := ParseBundleVersion(in.BundleVersion); err != nil {
			return err
		}
	}
	return validateText("install reason", in.Reason, MaxReasonLen, false, true)
}

// ValidateStart checks the arguments of [Store.StartInstall] that do not
// depend on the stored record: in must pass Validate (else ErrInvalid),
// and a request cannot reuse the command it replaces (ErrAlreadyExists).
func ValidateStart(in Install, prevCommand string) error {
	if err := in.Validate(); err != nil {
		return err
	}
	if in.Command == prevCommand {
		return fmt.Errorf("install app %q on %q: command %q is the one it replaces: %w", in.AppID, in.Device, in.Command, storage.ErrAlreadyExists)
	}
	return nil
}

// Normalize returns in with its time as stores keep it.
func (in Install) Normalize() Install {
	in.Updated = normalizeOrZero(in.Updated)
	return in
}

// ValidateFinish checks the arguments of [Store.FinishInstall] that do not
// depend on the stored record.
func ValidateFinish(command string, to Progress, reason string) error {
	if err := validateText("command UUID", command, MaxCommandLen, true, false); err != nil {
		return err
	}
	if !to.Valid() || to.Open() {
		return fmt.Errorf("%w: %q is not a final install progress", storage.ErrInvalid, to)
	}
	return validateText("install reason", reason, MaxReasonLen, false, true)
}
