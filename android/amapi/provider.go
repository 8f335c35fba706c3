package amapi

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// ErrNotFound is returned by a Provider for a resource that does not exist.
var ErrNotFound = errors.New("amapi: resource not found")

// EnrollmentTokenRequest is what enrollmentTokens.create needs.
type EnrollmentTokenRequest struct {
	// PolicyName is "enterprises/{e}/policies/{p}".
	PolicyName string
	// AdditionalData is returned with the enrolled device
	// (enrollmentTokenData); the SDK puts its own token ID there.
	AdditionalData string
	Duration       time.Duration
	OneTimeOnly    bool
}

// EnrollmentToken is the created token: Name is its resource name, Value
// what the device needs (QR extras bundle, enrollment link).
type EnrollmentToken struct {
	Name  string
	Value string
}

// Operation is a long-running operation returned by issueCommand.
type Operation struct {
	Name string
	Done bool
	// Error is the failure, empty on success or while running.
	Error string
}

// Provider is the part of the Android Management API the work-profile path
// calls. Implementations must be safe for concurrent use; an unknown
// resource yields an error wrapping ErrNotFound.
type Provider interface {
	// PatchPolicy creates or replaces enterprises/{e}/policies/{id} and
	// returns its resource name.
	PatchPolicy(ctx context.Context, enterprise, id string, p Policy) (string, error)
	// CreateEnrollmentToken creates a token under enterprise.
	CreateEnrollmentToken(ctx context.Context, enterprise string, r EnrollmentTokenRequest) (EnrollmentToken, error)
	// Device returns the Device resource name as raw JSON (it is outside
	// input: the caller filters it through the inventory).
	Device(ctx context.Context, name string) (json.RawMessage, error)
	// DeleteDevice deletes the device: a fully managed device is factory
	// reset, a work profile is removed (personal data is untouched).
	DeleteDevice(ctx context.Context, name string) error
	// IssueCommand issues c to the device and returns the operation.
	IssueCommand(ctx context.Context, name string, c Command) (Operation, error)
}
