package events

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/openomm/omm/storage"
)

// dataKeys are, per kind, the audit details an event carries. Anything
// else on the entry stays in the audit log: an event goes outside the
// SDK, so it carries only what its kind documents.
var dataKeys = map[Kind][]string{
	EnrollmentStarted:     {"platform", "kind", "mode"},
	EnrollmentFailed:      {"reason"},
	DeprovisionRequested:  {"reason"},
	WipeRequested:         {"reason"},
	CommandQueued:         {"uuid", "request_type", "devices"},
	LockRequested:         {"uuid"},
	ComplianceChanged:     {"in_policy", "reason"},
	PolicyApplied:         {"policy"},
	AppInstalled:          {"app", "identifier"},
	AppRemoved:            {"app", "identifier"},
	AppRejected:           {"app", "identifier", "reason"},
	SecurityDenied:        {"method", "path", "status"},
	IdentityRenewalQueued: {"attempt", "not_after"},
	IdentityRenewed:       {"serial", "previous"},
	IdentityRenewalAtRisk: {"not_after", "attempts"},
	CredentialExpiring:    {"credential", "not_after"},
}

// FromAudit returns the event an audit entry names (its Event field), or
// false when it names none. The device or user comes from the entry's
// target ("device:…", "user:…"), the data from the details the kind
// documents; the store assigns Seq.
func FromAudit(e storage.AuditEntry) (Event, bool) {
	if e.Event == "" {
		return Event{}, false
	}
	ev := Event{ID: NewID(), Org: e.Org, Kind: e.Event, Time: e.Time, Actor: e.Actor}
	switch {
	case strings.HasPrefix(e.Target, "device:"):
		ev.Device = strings.TrimPrefix(e.Target, "device:")
	case strings.HasPrefix(e.Target, "user:"):
		ev.User = strings.TrimPrefix(e.Target, "user:")
	}
	if ev.Device == "" {
		ev.Device = e.Details["device"]
	}
	switch {
	case ev.User != "" || ev.Device != "":
	case e.Details["user"] != "":
		ev.User = e.Details["user"]
	case strings.HasPrefix(e.Actor, "user:"):
		ev.User = strings.TrimPrefix(e.Actor, "user:")
	}
	for _, k := range dataKeys[e.Event] {
		v, ok := e.Details[k]
		if !ok && k == "uuid" {
			v, ok = e.Details["command"] // the catalog's name for it
		}
		if ok {
			if ev.Data == nil {
				ev.Data = map[string]string{}
			}
			ev.Data[k] = v
		}
	}
	return ev, true
}

// MaxDetail bounds a device's error explanation in CommandError.
const MaxDetail = 256

// ForOutcome returns the events of a device's answer to a command: its
// status (the MDM protocol's: Acknowledged, Error, CommandFormatError,
// NotNow), and for a screen lock that was carried out, LockAcknowledged.
// None for any other status.
func ForOutcome(org storage.OrgID, device, uuid, requestType, status, detail string, at time.Time) []Event {
	var kind Kind
	switch status {
	case "Acknowledged":
		kind = CommandAcknowledged
	case "Error", "CommandFormatError":
		kind = CommandError
	case "NotNow":
		kind = CommandNotNow
	default:
		return nil
	}
	data := map[string]string{"uuid": uuid, "request_type": requestType}
	if kind == CommandError {
		data["detail"] = truncate(detail, MaxDetail)
	}
	out := []Event{{ID: NewID(), Org: org, Kind: kind, Time: at, Device: device, Actor: "device:" + device, Data: data}}
	if requestType == "DeviceLock" && kind == CommandAcknowledged {
		out = append(out, Event{ID: NewID(), Org: org, Kind: LockAcknowledged, Time: at, Device: device,
			Actor: "device:" + device, Data: map[string]string{"uuid": uuid}})
	}
	return out
}

// Expired is the event of a command abandoned unanswered.
func Expired(org storage.OrgID, device, uuid, requestType, why string, at time.Time) Event {
	return Event{ID: NewID(), Org: org, Kind: CommandExpired, Time: at, Device: device, Actor: "system",
		Data: map[string]string{"uuid": uuid, "request_type": requestType, "why": truncate(why, MaxDetail)}}
}

// ForState is the kind of event a device's move to state (an inventory
// state: enrolled, deprovisioning, deprovisioned, wiped) emits, or "" for
// none.
func ForState(state string) Kind {
	switch state {
	case "enrolled":
		return EnrollmentCompleted
	case "deprovisioning":
		return DeprovisionRequested
	case "deprovisioned":
		return DeprovisionCompleted
	case "wiped":
		return WipeCompleted
	}
	return ""
}

// MaxValue bounds one inventory value in InventoryChanged.
const MaxValue = 256

// Inventory is the event of a device's stored inventory changing:
// changed maps each key whose stored value changed to its new value ("" for
// a removed one); appsChanged says whether its app list changed. The
// values are those the privacy filter stored. It reports false when
// nothing changed.
func Inventory(org storage.OrgID, device string, changed map[string]string, appsChanged bool, at time.Time) (Event, bool) {
	if len(changed) == 0 && !appsChanged {
		return Event{}, false
	}
	data := make(map[string]string, min(len(changed), MaxData-1)+1)
	for _, k := range slices.Sorted(maps.Keys(changed)) {
		if len(data) == MaxData-2 {
			data["more"] = strconv.Itoa(len(changed) - (MaxData - 2))
			break
		}
		data["value."+truncate(k, MaxDataKey-len("value."))] = truncate(changed[k], MaxValue)
	}
	if appsChanged {
		data["apps"] = "changed"
	}
	return Event{ID: NewID(), Org: org, Kind: InventoryChanged, Time: at, Device: device, Actor: "device:" + device, Data: data}, true
}

// Compliance is the event of a device going out of policy (reason says
// why) or back in.
func Compliance(org storage.OrgID, device, actor string, inPolicy bool, reason string, at time.Time) Event {
	data := map[string]string{"in_policy": strconv.FormatBool(inPolicy)}
	if reason != "" {
		data["reason"] = truncate(reason, MaxDataValue)
	}
	return Event{ID: NewID(), Org: org, Kind: ComplianceChanged, Time: at, Device: device, Actor: actor, Data: data}
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
