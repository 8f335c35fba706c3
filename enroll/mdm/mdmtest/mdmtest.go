// Package mdmtest plays the device side of the Apple MDM protocol, for
// tests and simulators: it signs a message the way a device that proves
// its identity with an Mdm-Signature header does (instead of a TLS client
// certificate), and it reads the commands a server answers with, behind
// size and nesting limits. It pairs with enroll/scep/sceptest (the
// device's SCEP side) and enroll/ota/otatest (its OTA side).
//
// It uses the SDK's own CMS code, so a signature it makes proves the
// protocol shape, not interoperability; the check-in tests cover real
// devices' messages.
package mdmtest

import (
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/openomm/omm/enroll/mdm"
	"github.com/openomm/omm/internal/cms"
	"github.com/openomm/omm/internal/plistlimit"
)

// SignatureHeader is the HTTP header that carries a device's signature
// over a check-in or command-result body.
const SignatureHeader = "Mdm-Signature"

// Signature returns the Mdm-Signature header value for body: the base64
// of a detached CMS SignedData (SHA-256) by key, whose certificate is
// cert — the identity the device got from the org's SCEP CA.
func Signature(body []byte, key crypto.Signer, cert *x509.Certificate) (string, error) {
	sig, err := cms.SignDetached(body, key, cert, nil)
	if err != nil {
		return "", fmt.Errorf("mdmtest: Mdm-Signature: %w", err)
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// Command is an MDM command as a device reads it.
type Command struct {
	UUID        string
	RequestType string
	// Body is the Command dictionary, RequestType included.
	Body map[string]any
}

// Limits bound a command a device reads. A zero field means its default.
type Limits struct {
	// MaxSize bounds the body in bytes (default 2 MiB: an InstallProfile
	// with certificates and icons stays far below).
	MaxSize int
	// MaxDepth bounds the nesting of plist elements (default 16).
	MaxDepth int
}

// Default limits of DecodeCommand.
const (
	DefaultMaxSize  = 2 << 20
	DefaultMaxDepth = 16
)

// Errors of DecodeCommand, each also wrapping mdm.ErrMalformed.
var (
	// ErrTooLarge: the body is larger than Limits.MaxSize.
	ErrTooLarge = plistlimit.ErrTooLarge
	// ErrTooDeep: the plist nests deeper than Limits.MaxDepth.
	ErrTooDeep = plistlimit.ErrTooDeep
	// ErrNoRequestType: a well-formed plist without a CommandUUID or a
	// Command.RequestType.
	ErrNoRequestType = errors.New("mdmtest: command without CommandUUID or RequestType")
)

// DecodeCommand reads a command the server sent (the answer to a check-in
// at the server URL), after checking its size and nesting against lim.
// Every error wraps mdm.ErrMalformed.
func DecodeCommand(data []byte, lim Limits) (Command, error) {
	if lim.MaxSize <= 0 {
		lim.MaxSize = DefaultMaxSize
	}
	if lim.MaxDepth <= 0 {
		lim.MaxDepth = DefaultMaxDepth
	}
	var raw struct {
		CommandUUID string
		Command     map[string]any
	}
	if err := plistlimit.Unmarshal(data, &raw, plistlimit.Limits{MaxSize: lim.MaxSize, MaxDepth: lim.MaxDepth}); err != nil {
		return Command{}, fmt.Errorf("%w: command: %w", mdm.ErrMalformed, err)
	}
	rt, _ := raw.Command["RequestType"].(string)
	if raw.CommandUUID == "" || rt == "" {
		return Command{}, fmt.Errorf("%w: %w", mdm.ErrMalformed, ErrNoRequestType)
	}
	return Command{UUID: raw.CommandUUID, RequestType: rt, Body: raw.Command}, nil
}
