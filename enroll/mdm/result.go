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
// URL). Only the envelope is decoded here; Body keeps the whole plist for the
// package that owns the command's answer (inventory filters it before
// anything is stored).
type Result struct {
	Channel
	Status      Status
	CommandUUID string
	// RequestType is echoed by some devices; it is informational.
	RequestType string
	ErrorChain  []ErrorChainItem
	Body        []byte
}

type resultWire struct {
	UDID             string
	EnrollmentID     string
	UserID           string
	EnrollmentUserID string
	Status           Status
	CommandUUID      string
	RequestType      string
	ErrorChain       []ErrorChainItem
}

// ParseResult decodes a command result within ResultLimits. A result other
// than Idle must name its CommandUUID; the status must be one of the five
// Apple defines.
func ParseResult(body []byte) (*Result, error) {
	var w resultWire
	if err := plistlimit.Unmarshal(body, &w, ResultLimits); err != nil {
		return nil, fmt.Errorf("%w: command result: %w", ErrMalformed, err)
	}
	switch w.Status {
	case Acknowledged, Error, CommandFormatError, NotNow:
		if w.CommandUUID == "" {
			return nil, fmt.Errorf("%w: %s result without CommandUUID", ErrMalformed, w.Status)
		}
	case Idle:
	case "":
		return nil, fmt.Errorf("%w: command result without Status", ErrMalformed)
	default:
		return nil, fmt.Errorf("%w: unknown status %q", ErrMalformed, truncate(string(w.Status)))
	}
	r := &Result{
		Channel:     Channel{UDID: w.UDID, EnrollmentID: w.EnrollmentID, UserID: w.UserID, EnrollmentUserID: w.EnrollmentUserID},
		Status:      w.Status,
		CommandUUID: w.CommandUUID,
		RequestType: w.RequestType,
		ErrorChain:  w.ErrorChain,
		Body:        body,
	}
	if r.Device() == "" {
		return nil, fmt.Errorf("%w: command result without UDID or EnrollmentID", ErrMalformed)
	}
	return r, nil
}
