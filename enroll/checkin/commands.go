package checkin

import (
	"context"
	"errors"
	"fmt"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/mdm"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
)

// Result is a device's answer to a command, handed to the command's
// consumer once, when the answer is first recorded.
type Result struct {
	Device  inventory.Device
	Command enroll.QueuedCommand // as stored after the answer
	Status  mdm.Status
	// ErrorChain is the device's explanation of an Error.
	ErrorChain []mdm.ErrorChainItem
	// Body is the result plist of a command whose answer carries no device
	// data the privacy contract governs (InstallApplication,
	// RemoveProfile, …). For an inventory query (DeviceInformation,
	// SecurityInfo, the app and profile lists) it is nil: the inventory
	// has already stored what the contract allows, which Inventory
	// summarizes and the inventory store holds.
	Body []byte
	// Inventory is what the built-in ingest stored from an inventory
	// query's answer; nil for other commands.
	Inventory *inventory.IngestResult
	// Declarative reports that the declarative channel (WithDeclarative)
	// has already decided for the device on this answer: the device is on
	// the channel, with declarations and a compliance decided on the OS
	// version it reports now. A consumer that would decide again for the
	// device on the same facts need not.
	Declarative bool
}

// ResultHandler consumes the results of one kind of command (inventory
// ingest, app install state, …). It should be idempotent: after a crash a
// result may be handed over again.
type ResultHandler interface {
	HandleResult(ctx context.Context, r Result) error
}

// ResultHandlerFunc adapts a function to ResultHandler.
type ResultHandlerFunc func(ctx context.Context, r Result) error

// HandleResult implements ResultHandler.
func (f ResultHandlerFunc) HandleResult(ctx context.Context, r Result) error { return f(ctx, r) }

// freshIngester is a Devices that can ingest a result for a device record
// its caller has just read, storing the update itself or through a
// [inventory.Saver] (inventory.Service can).
type freshIngester interface {
	IngestAppleDevice(ctx context.Context, d inventory.Device, result []byte) (inventory.IngestResult, error)
	IngestAppleDecodedWith(ctx context.Context, d inventory.Device, result *mdm.Decoded, save inventory.Saver) (inventory.IngestResult, error)
}

// ingest stores what the privacy contract allows of an inventory query's
// answer; nil for an answer that is not one.
func (s *Service) ingest(ctx context.Context, d inventory.Device, status mdm.Status, body []byte) (*inventory.IngestResult, error) {
	if status != mdm.Acknowledged {
		return nil, nil
	}
	var res inventory.IngestResult
	var err error
	if fresh, ok := s.devices.(freshIngester); ok {
		res, err = fresh.IngestAppleDevice(ctx, d, body) // d was just read: no second read
	} else {
		res, err = s.devices.IngestApple(ctx, d.Org, d.ID, body)
	}
	if errors.Is(err, inventory.ErrNoInventory) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &res, nil
}

// inventoried tells the declarative channel about a fresh DeviceInformation
// ingest: the channel may suit the device now, or its declarations change
// with the OS version. It reports Declarative.Inventoried's current.
func (s *Service) inventoried(ctx context.Context, d inventory.Device, res inventory.IngestResult) bool {
	if s.ddm == nil || res.Command != string(inventory.AppleDeviceInformation) {
		return false
	}
	current, err := s.ddm.Inventoried(ctx, res.Device)
	if err != nil {
		s.log.WarnContext(ctx, "checkin: declarative management after inventory", "device", d.ID, "err", err)
	}
	return current && err == nil
}

// recordInventory records an inventory query's answer together with what
// the privacy contract allows of it, and the next command unless held, in
// one transaction (enroll.InventoryAnswerQueue): a crash cannot keep the
// answer and lose its inventory, and a failed ingest records nothing (the
// device sends the answer again). ok is false when it did nothing and the
// answer is to be recorded as any other: a store or devices that cannot, a
// status other than Acknowledged, a result the filter does not store (not
// an inventory query's, refused by it, or not of a type the check-in
// ingests), which the plain path handles as before.
func (s *Service) recordInventory(ctx context.Context, d inventory.Device, r *mdm.Result, o enroll.Outcome) (a enroll.Answer, inv *inventory.IngestResult, ok bool, err error) {
	iq, isQueue := s.store.(enroll.InventoryAnswerQueue)
	fresh, isIngester := s.devices.(freshIngester)
	if !isQueue || !isIngester || r.Status != mdm.Acknowledged || r.Decoded == nil {
		return a, nil, false, nil
	}
	called := false
	var storeErr error
	res, err := fresh.IngestAppleDecodedWith(ctx, d, r.Decoded, func(ctx context.Context, command string, cur inventory.Device, u inventory.Update) (inventory.Device, bool, error) {
		if !s.inventoryTypes[command] {
			return cur, false, nil
		}
		called = true
		now := s.clock()
		a, storeErr = iq.RecordOutcomeInventory(ctx, cur.Org, cur.ID, o, enroll.NextOptions{
			SkipNotNow: true, MaxDeliveries: s.maxDeliv, QueuedAfter: now.Add(-s.ttl), Now: now,
		}, s.holdsNext, enroll.InventoryAnswer{RequestType: command, Version: cur.Version, Update: u})
		return a.Device, storeErr == nil && a.Inventoried, storeErr
	})
	switch {
	case !called:
		return enroll.Answer{}, nil, false, nil
	case storeErr != nil && !errors.Is(storeErr, storage.ErrConflict):
		return enroll.Answer{}, nil, true, storeErr // the store's own error (ErrNotFound: an unknown command)
	case err != nil:
		return enroll.Answer{}, nil, true, err
	case !a.Inventoried:
		return a, nil, true, nil // a replay, or an answer to a command of another type
	}
	return a, &res, true, nil
}

// Connect handles one request on the command endpoint: it records the
// result the device reports, if any, and returns the next command to send
// (nil when there is none, which ends the connection).
func (s *Service) Connect(ctx context.Context, org storage.OrgID, p Proof, body []byte) ([]byte, error) {
	r, err := mdm.ParseResult(body)
	if err != nil {
		return nil, err
	}
	if r.User() != "" {
		return nil, ErrDeclined
	}
	b, err := s.bound(ctx, org, p, body, r.Device())
	if err != nil {
		return nil, err
	}
	d := b.device
	if d.State.Terminal() {
		return nil, ended(d)
	}
	s.seen(ctx, d)
	if r.Status != mdm.Idle {
		a, err := s.record(ctx, d, r)
		if err != nil {
			return nil, err
		}
		if a.Looked { // chosen with the answer, in its transaction
			if a.Found {
				return a.Next.Body, nil
			}
			if !a.Recorded || !s.mayQueue(a.Command.RequestType) {
				return nil, nil
			}
			// Nothing was queued when the answer was recorded, but its
			// consumers may have queued since: look again (a read when
			// they did not).
		}
	}
	if r.Status == mdm.Idle && b.read && !b.open {
		// Nothing Pending or NotNow when the binding was read: what
		// NextCommand's own probe would have found a moment later.
		return nil, nil
	}
	// A device opens each connection with Idle and answers within it: so
	// after anything but Idle, commands it put off (NotNow) wait for the
	// next connection.
	now := s.clock()
	next, err := s.store.NextCommand(ctx, org, d.ID, enroll.NextOptions{
		SkipNotNow: r.Status != mdm.Idle, MaxDeliveries: s.maxDeliv, QueuedAfter: now.Add(-s.ttl), Now: now,
	})
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return next.Body, nil
}

// record stores the device's answer and hands a fresh one to its consumer.
// With a store that can, the next command is chosen in the same
// transaction (Answer.Looked), unless what follows the answer must come
// first (holdsNext).
func (s *Service) record(ctx context.Context, d inventory.Device, r *mdm.Result) (enroll.Answer, error) {
	o := enroll.Outcome{UUID: r.CommandUUID, Status: enroll.CommandStatus(r.Status), Detail: errorDetail(r.ErrorChain), Time: s.clock()}
	a, inv, withInventory, err := s.recordInventory(ctx, d, r, o)
	if !withInventory {
		if aq, ok := s.store.(enroll.AnswerQueue); ok {
			now := s.clock()
			a, err = aq.RecordOutcomeNext(ctx, d.Org, d.ID, o, enroll.NextOptions{
				SkipNotNow: true, MaxDeliveries: s.maxDeliv, QueuedAfter: now.Add(-s.ttl), Now: now,
			}, s.holdsNext)
		} else {
			a.Command, a.Recorded, err = s.store.RecordOutcome(ctx, d.Org, d.ID, o)
		}
	}
	if errors.Is(err, storage.ErrNotFound) {
		// Not a command we queued for this device (or one long gone): the
		// answer cannot change anything, and refusing it would make the
		// device repeat it.
		s.log.WarnContext(ctx, "checkin: result for an unknown command", "device", d.ID, "command", r.CommandUUID)
		return enroll.Answer{}, nil
	}
	if err != nil {
		return enroll.Answer{}, err
	}
	if !a.Recorded {
		return a, nil // a replayed answer changes nothing
	}
	q := a.Command
	if err := s.afterAction(ctx, d, q); err != nil {
		return a, err
	}
	res := Result{Device: d, Command: q, Status: r.Status, ErrorChain: r.ErrorChain, Body: r.Body}
	if s.inventoryTypes[q.RequestType] {
		// The built-in ingest always runs, and only what it stored goes
		// further: a handler never sees what the contract forbids.
		if !a.Inventoried {
			if inv, err = s.ingest(ctx, d, r.Status, r.Body); err != nil {
				return a, err
			}
		}
		res.Body, res.Inventory = nil, inv
		if inv != nil {
			res.Declarative = s.inventoried(ctx, d, *inv)
		}
	}
	for _, h := range s.handlers[q.RequestType] {
		if err := h.HandleResult(ctx, res); err != nil {
			// The answer is recorded; a consumer's failure must not make
			// the device resend it forever.
			s.log.ErrorContext(ctx, "checkin: result handler failed", "device", d.ID, "command", q.UUID, "type", q.RequestType, "err", err)
		}
	}
	return a, nil
}

// holdsNext reports whether the next command is to be chosen only after
// what follows an answer of requestType: the erase's state change. The
// consumers of other answers (mayQueue) only ever add commands, behind
// those already queued, so the oldest open command — the one chosen with
// the answer — is the next either way, and what they add follows it in
// the same connection.
func (s *Service) holdsNext(requestType string) bool {
	return requestType == "EraseDevice"
}

// mayQueue reports whether what follows an answer of requestType may queue
// commands: its result handlers, the declarative channel's look at fresh
// DeviceInformation.
func (s *Service) mayQueue(requestType string) bool {
	return len(s.handlers[requestType]) > 0 || (s.ddm != nil && requestType == string(inventory.AppleDeviceInformation))
}

// errorDetail summarizes an error chain for the command's record.
func errorDetail(chain []mdm.ErrorChainItem) string {
	var b []byte
	for i, e := range chain {
		if i > 0 {
			b = append(b, "; "...)
		}
		desc := e.USEnglishDescription
		if desc == "" {
			desc = e.LocalizedDescription
		}
		b = fmt.Appendf(b, "%s %d: %s", e.ErrorDomain, e.ErrorCode, desc)
		if len(b) > enroll.MaxResultDetail {
			return string(b[:enroll.MaxResultDetail-3]) + "..."
		}
	}
	return string(b)
}
