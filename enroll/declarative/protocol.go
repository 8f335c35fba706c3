package declarative

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/openomm/omm/storage"
)

// ErrMalformed: a DeclarativeManagement message the device sent is not
// well formed (an unknown endpoint, a status report that is not JSON or
// breaks a limit). It wraps storage.ErrInvalid: the check-in endpoint
// answers 400.
var ErrMalformed = fmt.Errorf("declarative: malformed message: %w", storage.ErrInvalid)

// Kind is a declaration's class: the second part of its type
// ("com.apple.configuration.…") and of the endpoint that fetches it.
type Kind string

// The declaration kinds.
const (
	KindActivation    Kind = "activation"
	KindConfiguration Kind = "configuration"
	KindAsset         Kind = "asset"
	KindManagement    Kind = "management"
)

// kinds lists the kinds in the order the declaration items list them.
var kinds = [...]Kind{KindActivation, KindConfiguration, KindAsset, KindManagement}

// Endpoints of a DeclarativeManagement check-in message.
const (
	EndpointTokens = "tokens"
	EndpointItems  = "declaration-items"
	EndpointStatus = "status"
	// endpointDeclaration starts "declaration/<kind>/<identifier>".
	endpointDeclaration = "declaration/"
)

// maxEndpoint bounds the endpoint a device names: the longest is a
// declaration's kind and identifier (at most 64 bytes each, per Apple).
const maxEndpoint = 256

// Endpoint is a parsed DeclarativeManagement endpoint: one of the named
// endpoints, or a declaration to fetch.
type Endpoint struct {
	// Name is EndpointTokens, EndpointItems, EndpointStatus or
	// "declaration".
	Name string
	// Kind and Identifier name the declaration a "declaration" endpoint
	// fetches.
	Kind       Kind
	Identifier string
}

// ParseEndpoint parses the Endpoint of a DeclarativeManagement message.
func ParseEndpoint(s string) (Endpoint, error) {
	if len(s) > maxEndpoint || !utf8.ValidString(s) {
		return Endpoint{}, fmt.Errorf("%w: endpoint longer than %d bytes or not UTF-8", ErrMalformed, maxEndpoint)
	}
	switch s {
	case EndpointTokens, EndpointItems, EndpointStatus:
		return Endpoint{Name: s}, nil
	}
	rest, ok := strings.CutPrefix(s, endpointDeclaration)
	if !ok {
		return Endpoint{}, fmt.Errorf("%w: unknown endpoint %q", ErrMalformed, s)
	}
	kind, id, _ := strings.Cut(rest, "/")
	k := Kind(kind)
	switch {
	case !validKind(k):
		return Endpoint{}, fmt.Errorf("%w: unknown declaration kind %q", ErrMalformed, kind)
	case id == "":
		return Endpoint{}, fmt.Errorf("%w: declaration endpoint without identifier", ErrMalformed)
	}
	return Endpoint{Name: "declaration", Kind: k, Identifier: id}, nil
}

func validKind(k Kind) bool {
	for _, x := range kinds {
		if k == x {
			return true
		}
	}
	return false
}

// SyncTokens are the server's synchronisation tokens: the device compares
// DeclarationsToken with the one it holds and fetches the declaration
// items when they differ.
type SyncTokens struct {
	DeclarationsToken string    `json:"DeclarationsToken"`
	Timestamp         time.Time `json:"Timestamp"`
}

// TokensResponse answers the tokens endpoint, and is the Data of the
// DeclarativeManagement command.
type TokensResponse struct {
	SyncTokens SyncTokens `json:"SyncTokens"`
}

// Item is one declaration in the declaration items.
type Item struct {
	Identifier  string `json:"Identifier"`
	ServerToken string `json:"ServerToken"`
}

// ItemsResponse answers the declaration-items endpoint: every declaration
// of the device, by kind, and the declarations token.
type ItemsResponse struct {
	Declarations      Manifest `json:"Declarations"`
	DeclarationsToken string   `json:"DeclarationsToken"`
}

// Manifest lists the declarations by kind; every list is present, empty
// or not.
type Manifest struct {
	Activations    []Item `json:"Activations"`
	Configurations []Item `json:"Configurations"`
	Assets         []Item `json:"Assets"`
	Management     []Item `json:"Management"`
}

// Limits on a status report, the only sizeable input of the channel. A
// report of every item a device is subscribed to is a few kilobytes; the
// check-in body that carries it is bounded by the check-in limits too.
const (
	MaxStatusSize   = 256 << 10
	MaxStatusDepth  = 12
	MaxStatusValues = 4096 // JSON values (objects, arrays, scalars) in one report
	// maxDeclarationStatuses bounds the declarations a report may describe.
	maxDeclarationStatuses = 1000
	// maxReasonText bounds a reason's code and description as kept.
	maxReasonText = 256
	// maxReasons bounds the reasons kept per declaration.
	maxReasons = 8
)

// Reason is a device's reason for a declaration's state (Apple's
// StatusReason): a code such as "Error.ConfigurationCannotBeApplied" and
// a description. Its details are not kept.
type Reason struct {
	Code        string `json:"code"`
	Description string `json:"description,omitempty"`
}

// DeclarationStatus is what the device reports of one declaration it
// processed (the management.declarations status item).
type DeclarationStatus struct {
	Kind        Kind   `json:"kind"`
	Identifier  string `json:"identifier"`
	ServerToken string `json:"server-token"`
	Active      bool   `json:"active"`
	// Valid is "valid", "invalid" or "unknown" (not checked yet).
	Valid   string   `json:"valid"`
	Reasons []Reason `json:"reasons,omitempty"`
}

// Validity values of a declaration's status.
const (
	Valid   = "valid"
	Invalid = "invalid"
	Unknown = "unknown"
)

// Report is a decoded status report.
type Report struct {
	// Items are the status items the device reported, by name (the
	// dotted path Apple's schema names them by), with their values as
	// JSON decodes them (numbers as json.Number). The protocol's own
	// items (management.*) are not among them.
	Items map[string]any
	// Declarations is the management.declarations item: nil when the
	// report does not carry it.
	Declarations []DeclarationStatus
	// Errors names the status items the device could not report.
	Errors []string
	// Full is set on a full report (the device's daily safety sync):
	// every item, not only the changed ones.
	Full bool
	// Unknown counts values outside any status item Apple defines; they
	// are dropped.
	Unknown int
}

// statusWire is a status report as the device sends it.
type statusWire struct {
	StatusItems map[string]any `json:"StatusItems"`
	Errors      []struct {
		StatusItem string `json:"StatusItem"`
	} `json:"Errors"`
	FullReport bool `json:"FullReport"`
}

// ParseStatus decodes a status report within the limits above: size,
// nesting and the number of values are checked before anything is built.
func ParseStatus(data []byte) (Report, error) {
	if len(data) > MaxStatusSize {
		return Report{}, fmt.Errorf("%w: status report of %d bytes, at most %d", ErrMalformed, len(data), MaxStatusSize)
	}
	if err := checkJSON(data); err != nil {
		return Report{}, fmt.Errorf("%w: status report: %w", ErrMalformed, err)
	}
	var w statusWire
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&w); err != nil {
		return Report{}, fmt.Errorf("%w: status report: %w", ErrMalformed, err)
	}
	if w.StatusItems == nil {
		return Report{}, fmt.Errorf("%w: status report without StatusItems", ErrMalformed)
	}
	r := Report{Items: map[string]any{}, Full: w.FullReport}
	for _, e := range w.Errors {
		if e.StatusItem != "" && len(r.Errors) < len(statusItemNames) {
			r.Errors = append(r.Errors, truncate(e.StatusItem, maxReasonText))
		}
	}
	flatten("", w.StatusItems, &r)
	if v, ok := r.Items[itemDeclarations]; ok {
		delete(r.Items, itemDeclarations)
		decl, err := declarationStatuses(v)
		if err != nil {
			return Report{}, err
		}
		r.Declarations = decl
	}
	for name := range r.Items {
		if strings.HasPrefix(name, "management.") {
			delete(r.Items, name) // the protocol's own, not the inventory's
		}
	}
	return r, nil
}

// checkJSON walks data as JSON tokens: one value, nested at most
// MaxStatusDepth deep, of at most MaxStatusValues values.
func checkJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	depth, values := 0, 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
			values++
			if depth > MaxStatusDepth {
				return fmt.Errorf("nested deeper than %d levels", MaxStatusDepth)
			}
		case json.Delim('}'), json.Delim(']'):
			depth--
		default:
			values++
		}
		if values > MaxStatusValues {
			return fmt.Errorf("more than %d values", MaxStatusValues)
		}
		if depth == 0 && dec.More() {
			return errors.New("trailing data after the report")
		}
	}
	if values == 0 {
		return errors.New("empty")
	}
	return nil
}

// flatten walks the nested StatusItems object ({"device": {"identifier":
// {"serial-number": …}}}) and collects each status item under its dotted
// name; values outside every item are counted as unknown.
func flatten(prefix string, m map[string]any, r *Report) {
	for k, v := range m {
		name := k
		if prefix != "" {
			name = prefix + "." + k
		}
		if isStatusItem(name) {
			r.Items[name] = v
			continue
		}
		sub, ok := v.(map[string]any)
		if ok && isItemPrefix(name) {
			flatten(name, sub, r)
			continue
		}
		r.Unknown += countValues(v)
	}
}

// countValues counts the scalar values in v.
func countValues(v any) int {
	switch x := v.(type) {
	case map[string]any:
		n := 0
		for _, e := range x {
			n += countValues(e)
		}
		return n
	case []any:
		n := 0
		for _, e := range x {
			n += countValues(e)
		}
		return n
	}
	return 1
}

// declarationStatuses reads the management.declarations item.
func declarationStatuses(v any) ([]DeclarationStatus, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: management.declarations is not an object", ErrMalformed)
	}
	out := []DeclarationStatus{}
	for _, k := range kinds {
		list, ok := m[string(k)+"s"].([]any)
		if k == KindManagement {
			list, ok = m["management"].([]any)
		}
		if !ok {
			continue
		}
		for _, e := range list {
			d, ok := e.(map[string]any)
			if !ok {
				continue
			}
			s := DeclarationStatus{Kind: k}
			s.Identifier, _ = d["identifier"].(string)
			s.ServerToken, _ = d["server-token"].(string)
			s.Active, _ = d["active"].(bool)
			s.Valid, _ = d["valid"].(string)
			if s.Identifier == "" || len(s.Identifier) > MaxIdentifier || len(s.ServerToken) > MaxIdentifier {
				continue
			}
			if s.Valid != Valid && s.Valid != Invalid {
				s.Valid = Unknown
			}
			reasons, _ := d["reasons"].([]any)
			for _, x := range reasons {
				rm, ok := x.(map[string]any)
				if !ok || len(s.Reasons) == maxReasons {
					continue
				}
				code, _ := rm["code"].(string)
				desc, _ := rm["description"].(string)
				if code != "" {
					s.Reasons = append(s.Reasons, Reason{Code: truncate(code, maxReasonText), Description: truncate(desc, maxReasonText)})
				}
			}
			if len(out) == maxDeclarationStatuses {
				return nil, fmt.Errorf("%w: status of more than %d declarations", ErrMalformed, maxDeclarationStatuses)
			}
			out = append(out, s)
		}
	}
	return out, nil
}

// truncate shortens device-supplied text to at most n bytes of valid
// UTF-8.
func truncate(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// itemDeclarations is the status item of the declarations' states.
const itemDeclarations = "management.declarations"

// statusItemNames are the status items Apple's schema defines (the tests
// check the list against it), except its test items. A report's nested
// objects are read down to these names.
var statusItemNames = [...]string{
	"account.list.caldav", "account.list.carddav", "account.list.exchange", "account.list.google",
	"account.list.ldap", "account.list.mail.incoming", "account.list.mail.outgoing",
	"account.list.subscribed-calendar", "app.managed.list",
	"device.identifier.serial-number", "device.identifier.udid",
	"device.model.family", "device.model.identifier", "device.model.marketing-name", "device.model.number",
	"device.operating-system.build-version", "device.operating-system.family",
	"device.operating-system.marketing-name", "device.operating-system.supplemental.build-version",
	"device.operating-system.supplemental.extra-version", "device.operating-system.version",
	"device.power.battery-health", "diskmanagement.filevault.enabled",
	"management.client-capabilities", "management.declarations", "mdm.app",
	"passcode.is-compliant", "passcode.is-present",
	"screensharing.connection.group.unresolved-connection", "security.certificate.list",
	"services.background-task",
	"softwareupdate.beta-enrollment", "softwareupdate.device-id", "softwareupdate.failure-reason",
	"softwareupdate.install-reason", "softwareupdate.install-state", "softwareupdate.pending-version",
}

// StatusItemNames returns the status items a report is read down to,
// sorted: every item of Apple's schema but its test items.
func StatusItemNames() []string {
	out := slices.Clone(statusItemNames[:])
	slices.Sort(out)
	return out
}

func isStatusItem(name string) bool {
	for _, n := range statusItemNames {
		if n == name {
			return true
		}
	}
	return false
}

// isItemPrefix reports whether name leads to a status item
// ("device.identifier" to "device.identifier.udid").
func isItemPrefix(name string) bool {
	for _, n := range statusItemNames {
		if strings.HasPrefix(n, name+".") {
			return true
		}
	}
	return false
}
