package mdm

import (
	"fmt"

	"github.com/openomm/omm/internal/plistlimit"
)

// ResultLimits bounds command result bodies. The largest legitimate ones are
// app and profile lists of a full device.
var ResultLimits = plistlimit.Limits{MaxSize: 4 << 20, MaxDepth: 24, MaxValues: 1 << 18}

// Status is a device's answer to the server's last command.
type Status string

// Statuses a device reports.
const (
	// Acknowledged: the command ran; its result is in the body.
	Acknowledged Status = "Acknowledged"
	// Error: the command failed; ErrorChain says why.
	Error Status = "Error"
	// CommandFormatError: the device could not understand the command.
	CommandFormatError Status = "CommandFormatError"
	// Idle: no result; the device asks for the next command.
	Idle Status = "Idle"
	// NotNow: the device cannot run the command now (locked, busy); it
	// will check in again later and the command must be resent then.
	NotNow Status = "NotNow"
)

// ErrorChainItem is one entry of a failed command's ErrorChain.
type ErrorChainItem struct {
	ErrorCode            int
	ErrorDomain          string
	LocalizedDescription string
	USEnglishDescription string
}

// Result is a decoded command result (the body a device sends to the server
// URL). Only the envelope is read here; Body keeps the whole plist, and
// Decoded the whole plist as decoded, for the package that owns the
// command's answer (inventory filters it before anything is stored).
type Result struct {
	Channel
	Status      Status
	CommandUUID string
	// RequestType is echoed by some devices; it is informational.
	RequestType string
	ErrorChain  []ErrorChainItem
	Body        []byte
	// Decoded is Body as ParseResult decoded it, so that the package
	// reading the answer need not decode Body again; nil in a Result made
	// otherwise.
	Decoded *Decoded
}

// Decoded is a command result's plist as decoded within ResultLimits: its
// top dictionary, shared and not to be modified, and what was measured of
// it, against which a reader checks limits stricter than ResultLimits.
type Decoded struct {
	Dict  map[string]any
	stats plistlimit.Stats
}

// Within reports what plistlimit.Check would report of the plist under
// lim, for lim no looser than ResultLimits in any bound.
func (d *Decoded) Within(lim plistlimit.Limits) error { return d.stats.Within(lim) }

// ParseResult decodes a command result within ResultLimits. A result other
// than Idle must name its CommandUUID; the status must be one of the five
// Apple defines.
func ParseResult(body []byte) (*Result, error) {
	var dict map[string]any
	st, err := plistlimit.UnmarshalMeasured(body, &dict, ResultLimits)
	if err != nil {
		return nil, fmt.Errorf("%w: command result: %w", ErrMalformed, err)
	}
	if dict == nil {
		return nil, fmt.Errorf("%w: command result is not a dictionary", ErrMalformed)
	}
	var w struct {
		UDID, EnrollmentID, UserID, EnrollmentUserID, Status, CommandUUID, RequestType string
	}
	for _, f := range []struct {
		key string
		to  *string
	}{{"UDID", &w.UDID}, {"EnrollmentID", &w.EnrollmentID}, {"UserID", &w.UserID}, {"EnrollmentUserID", &w.EnrollmentUserID},
		{"Status", &w.Status}, {"CommandUUID", &w.CommandUUID}, {"RequestType", &w.RequestType}} {
		if *f.to, err = stringField(dict, f.key); err != nil {
			return nil, err
		}
	}
	chain, err := errorChain(dict["ErrorChain"])
	if err != nil {
		return nil, err
	}
	status := Status(w.Status)
	switch status {
	case Acknowledged, Error, CommandFormatError, NotNow:
		if w.CommandUUID == "" {
			return nil, fmt.Errorf("%w: %s result without CommandUUID", ErrMalformed, status)
		}
	case Idle:
	case "":
		return nil, fmt.Errorf("%w: command result without Status", ErrMalformed)
	default:
		return nil, fmt.Errorf("%w: unknown status %q", ErrMalformed, truncate(w.Status))
	}
	r := &Result{
		Channel:     Channel{UDID: w.UDID, EnrollmentID: w.EnrollmentID, UserID: w.UserID, EnrollmentUserID: w.EnrollmentUserID},
		Status:      status,
		CommandUUID: w.CommandUUID,
		RequestType: w.RequestType,
		ErrorChain:  chain,
		Body:        body,
		Decoded:     &Decoded{Dict: dict, stats: st},
	}
	if r.Device() == "" {
		return nil, fmt.Errorf("%w: command result without UDID or EnrollmentID", ErrMalformed)
	}
	return r, nil
}

// stringField reads an envelope string: absent is empty, another type is
// malformed.
func stringField(m map[string]any, key string) (string, error) {
	v, ok := m[key]
	if !ok {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%w: command result: %s is not a string", ErrMalformed, key)
	}
	return s, nil
}

// errorChain reads a result's ErrorChain: absent is none, anything but an
// array of dictionaries with fields of their types is malformed.
func errorChain(v any) ([]ErrorChainItem, error) {
	if v == nil {
		return nil, nil
	}
	items, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%w: command result: ErrorChain is not an array", ErrMalformed)
	}
	chain := make([]ErrorChainItem, 0, len(items))
	for _, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%w: command result: ErrorChain holds a %T", ErrMalformed, it)
		}
		var e ErrorChainItem
		var err error
		switch c := m["ErrorCode"].(type) {
		case nil:
		case int64:
			e.ErrorCode = int(c)
		case uint64:
			e.ErrorCode = int(c)
		default:
			return nil, fmt.Errorf("%w: command result: ErrorCode is not an integer", ErrMalformed)
		}
		if e.ErrorDomain, err = stringField(m, "ErrorDomain"); err != nil {
			return nil, err
		}
		if e.LocalizedDescription, err = stringField(m, "LocalizedDescription"); err != nil {
			return nil, err
		}
		if e.USEnglishDescription, err = stringField(m, "USEnglishDescription"); err != nil {
			return nil, err
		}
		chain = append(chain, e)
	}
	return chain, nil
}
