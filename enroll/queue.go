package enroll

import (
	"context"
	"fmt"
	"time"

	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
)

// CommandStatus is where a queued command stands for one device.
type CommandStatus string

// Command statuses. Pending and NotNow are open: the command is still to be
// delivered. The others are final and never change again.
const (
	// StatusPending: queued, no answer yet (it may have been delivered on a
	// connection that broke before the device answered).
	StatusPending CommandStatus = "Pending"
	// StatusNotNow: the device could not run it yet; resend on a later
	// check-in, never on the same connection.
	StatusNotNow CommandStatus = "NotNow"
	// StatusAcknowledged: the device ran the command.
	StatusAcknowledged CommandStatus = "Acknowledged"
	// StatusError: the device tried and failed; Detail says why.
	StatusError CommandStatus = "Error"
	// StatusFormatError: the device could not parse the command.
	StatusFormatError CommandStatus = "CommandFormatError"
	// StatusAbandoned: delivered MaxDeliveries times without an answer the
	// server could use; given up so that it cannot block the queue.
	StatusAbandoned CommandStatus = "Abandoned"
)

// Open reports whether the command still awaits delivery.
func (s CommandStatus) Open() bool { return s == StatusPending || s == StatusNotNow }

// Limits of the command queue.
const (
	// ClearedDetail is the Detail of commands abandoned by ClearQueue.
	ClearedDetail = "abandoned: the device enrolled again"
	// AbandonedDetail is the Detail of commands delivered too often.
	AbandonedDetail = "abandoned: delivered too often without a usable answer"
	// ExpiredDetail is the Detail of commands that waited too long.
	ExpiredDetail = "abandoned: expired before the device took it"

	MaxCommandBody  = 1 << 20 // an InstallProfile carries a signed profile
	MaxRequestType  = 64
	MaxCommandUUID  = 64
	MaxDeviceID     = 128
	MaxResultDetail = 1024
	MaxFanOut       = 100_000 // devices per EnqueueCommand call
	// DefaultMaxDeliveries is how often a command is handed out without a
	// usable answer before it is abandoned.
	DefaultMaxDeliveries = 5
)

// Command is an encoded MDM command to queue.
type Command struct {
	UUID        string
	RequestType string
	Body        []byte // the plist sent to the device
}

// Validate checks the command's fields.
func (c Command) Validate() error {
	switch {
	case c.UUID == "" || len(c.UUID) > MaxCommandUUID:
		return fmt.Errorf("%w: command UUID must be 1-%d bytes", storage.ErrInvalid, MaxCommandUUID)
	case c.RequestType == "" || len(c.RequestType) > MaxRequestType:
		return fmt.Errorf("%w: command request type must be 1-%d bytes", storage.ErrInvalid, MaxRequestType)
	case len(c.Body) == 0 || len(c.Body) > MaxCommandBody:
		return fmt.Errorf("%w: command body must be 1-%d bytes, is %d", storage.ErrInvalid, MaxCommandBody, len(c.Body))
	}
	return nil
}

// ValidateDevices checks the device list of a fan-out: 1 to MaxFanOut
// distinct, non-empty IDs of at most MaxDeviceID bytes.
func ValidateDevices(devices []string) error {
	if len(devices) == 0 || len(devices) > MaxFanOut {
		return fmt.Errorf("%w: %d devices: queue to 1-%d at once", storage.ErrInvalid, len(devices), MaxFanOut)
	}
	seen := make(map[string]struct{}, len(devices))
	for _, d := range devices {
		if d == "" || len(d) > MaxDeviceID {
			return fmt.Errorf("%w: device ID must be 1-%d bytes", storage.ErrInvalid, MaxDeviceID)
		}
		if _, dup := seen[d]; dup {
			return fmt.Errorf("%w: device %q listed twice", storage.ErrInvalid, d)
		}
		seen[d] = struct{}{}
	}
	return nil
}

// QueuedCommand is one command for one device.
type QueuedCommand struct {
	Org         storage.OrgID
	Device      string
	UUID        string
	RequestType string
	Body        []byte
	Status      CommandStatus
	// Deliveries counts how often the command was handed to the device.
	Deliveries int
	// Detail says why a command failed (the device's error chain, or why
	// it was abandoned).
	Detail  string
	Queued  time.Time
	Updated time.Time
}

// NextOptions steers [CommandQueue.NextCommand].
type NextOptions struct {
	// SkipNotNow passes over commands the device answered NotNow.
	SkipNotNow bool
	// MaxDeliveries is how often a command may be handed out without a
	// usable answer; zero means DefaultMaxDeliveries.
	MaxDeliveries int
	// QueuedAfter expires commands queued before it; zero expires none.
	QueuedAfter time.Time
	// Now stamps the delivery.
	Now time.Time
}

// Normalize applies the defaults and the stores' time precision.
func (o NextOptions) Normalize() NextOptions {
	if o.MaxDeliveries <= 0 {
		o.MaxDeliveries = DefaultMaxDeliveries
	}
	o.Now = storage.Normalize(o.Now)
	if !o.QueuedAfter.IsZero() {
		o.QueuedAfter = storage.Normalize(o.QueuedAfter)
	}
	return o
}

// AbandonReason says why an open command c is given up under o, or "".
func (o NextOptions) AbandonReason(c QueuedCommand) string {
	switch {
	case c.Deliveries >= o.MaxDeliveries:
		return AbandonedDetail
	case !o.QueuedAfter.IsZero() && c.Queued.Before(o.QueuedAfter):
		return ExpiredDetail
	}
	return ""
}

// Outcome is a device's answer to a command, to record.
type Outcome struct {
	UUID   string
	Status CommandStatus // NotNow, Acknowledged, Error or CommandFormatError
	Detail string
	Time   time.Time
}

// Validate checks the outcome's fields.
func (o Outcome) Validate() error {
	switch o.Status {
	case StatusNotNow, StatusAcknowledged, StatusError, StatusFormatError:
	default:
		return fmt.Errorf("%w: %q is not a status a device reports", storage.ErrInvalid, o.Status)
	}
	switch {
	case o.UUID == "" || len(o.UUID) > MaxCommandUUID:
		return fmt.Errorf("%w: result UUID must be 1-%d bytes", storage.ErrInvalid, MaxCommandUUID)
	case len(o.Detail) > MaxResultDetail:
		return fmt.Errorf("%w: result detail is %d bytes, at most %d", storage.ErrInvalid, len(o.Detail), MaxResultDetail)
	case o.Time.IsZero():
		return fmt.Errorf("%w: result without time", storage.ErrInvalid)
	}
	return nil
}

// CommandQueue stores each device's commands: ordered by when they were
// queued, delivered at least once, each answered at most once. Every method
// is safe for concurrent use; a device's commands are only seen through its
// own org.
type CommandQueue interface {
	// EnqueueCommand queues cmd for every device in devices (a fan-out)
	// and appends entry, in one transaction. A UUID already queued for the
	// org yields ErrAlreadyExists and queues nothing.
	EnqueueCommand(ctx context.Context, org storage.OrgID, devices []string, cmd Command, entry storage.AuditEntry) error
	// NextCommand hands out the device's oldest open command and counts the
	// delivery. With opt.SkipNotNow, commands the device answered NotNow
	// are passed over (the device is on the connection where it said so).
	// A command already delivered opt.MaxDeliveries times without an
	// answer, or queued before opt.QueuedAfter (expired), is marked
	// Abandoned instead and the next one is considered. No open command
	// yields ErrNotFound.
	NextCommand(ctx context.Context, org storage.OrgID, device string, opt NextOptions) (QueuedCommand, error)
	// RecordOutcome stores the device's answer and reports whether it
	// did. Answering a command that already has a final status is
	// idempotent: the stored command is returned unchanged, recorded is
	// false and there is no error. An unknown command yields ErrNotFound.
	RecordOutcome(ctx context.Context, org storage.OrgID, device string, o Outcome) (q QueuedCommand, recorded bool, err error)
	// ClearQueue abandons the device's open commands (a new enrollment
	// starts clean) and appends entry, in one transaction; it returns how
	// many it abandoned. Answered commands stay as history.
	ClearQueue(ctx context.Context, org storage.OrgID, device string, entry storage.AuditEntry) (int, error)
	// Commands lists the device's latest commands, newest first, at most
	// limit (see [ListLimit]), so that an offline device shows its actions
	// as pending rather than done.
	Commands(ctx context.Context, org storage.OrgID, device string, limit int) ([]QueuedCommand, error)
}

// AnswerQueue is a CommandQueue that records a device's answer and hands
// out its next command in one transaction: a command round trip is then
// one write, not two (storage/sqlstore implements it).
type AnswerQueue interface {
	// RecordOutcomeNext is RecordOutcome, then in the same transaction
	// NextCommand(opt), unless the answer was recorded and hold reports
	// true for the answered command's request type (its consumers are to
	// run first, and may queue commands before the next is chosen): then
	// Answer.Looked is false and the caller asks NextCommand itself. An
	// unknown command yields ErrNotFound, as from RecordOutcome, and
	// changes nothing.
	RecordOutcomeNext(ctx context.Context, org storage.OrgID, device string, o Outcome, opt NextOptions, hold func(requestType string) bool) (Answer, error)
}

// Answer is what [AnswerQueue.RecordOutcomeNext] did.
type Answer struct {
	// Command is the answered command as stored; Recorded is false for a
	// replayed answer (see [CommandQueue.RecordOutcome]).
	Command  QueuedCommand
	Recorded bool
	// Looked is set when the next command was looked for; Found when
	// there was one, then Next, its delivery counted.
	Looked, Found bool
	Next          QueuedCommand
	// Inventoried is set when [InventoryAnswerQueue.RecordOutcomeInventory]
	// stored the answer's inventory; Device is then the device after it.
	Inventoried bool
	Device      inventory.Device
}

// InventoryAnswer is what the privacy filter kept of an inventory query's
// result, to be stored with the answer ([InventoryAnswerQueue]).
type InventoryAnswer struct {
	// RequestType is the inventory query the result answers
	// (inventory.AppleDeviceInformation, …): the update is stored only
	// with an answer to a command of that type.
	RequestType string
	// Version is the version of the device record the update was computed
	// from; Update is applied as inventory.Store.SaveInventory applies it.
	Version int64
	Update  inventory.Update
}

// InventoryAnswerQueue is an AnswerQueue that stores the inventory an
// answer carries in the answer's own transaction: the answer, which the
// device will not send again, cannot be kept while its inventory is lost
// (storage/sqlstore implements it).
type InventoryAnswerQueue interface {
	AnswerQueue
	// RecordOutcomeInventory is RecordOutcomeNext that, when the answer is
	// recorded and the answered command's request type is
	// inv.RequestType, also stores inv.Update on the device as
	// inventory.Store.SaveInventory(ctx, org, device, inv.Version,
	// inv.Update) does, before the next command is looked for: then
	// Answer.Inventoried is set and Answer.Device is the device after
	// the update. If the update cannot be stored (ErrConflict: the device
	// changed since inv.Version or is deprovisioned; ErrNotFound: no such
	// device; ErrInvalid), nothing is: neither the answer nor the update,
	// and no delivery is counted. A replayed answer, or an answer to a
	// command of another type, stores no update.
	RecordOutcomeInventory(ctx context.Context, org storage.OrgID, device string, o Outcome, opt NextOptions, hold func(requestType string) bool, inv InventoryAnswer) (Answer, error)
}

// ListLimit applies the paging rule of [CommandQueue.Commands]: 0 means
// 100, at most 1000, negative is invalid.
func ListLimit(limit int) (int, error) {
	switch {
	case limit < 0:
		return 0, fmt.Errorf("%w: negative limit %d", storage.ErrInvalid, limit)
	case limit == 0:
		return 100, nil
	}
	return min(limit, 1000), nil
}
