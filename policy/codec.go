package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Limits on a stored policy body (see [Policy.MarshalBody]). A valid policy
// stays well inside them; they bound what a corrupted or hostile row can
// cost to decode.
const (
	MaxBodyBytes = 1 << 20
	maxBodyDepth = 8
)

// body is the part of a policy SQL stores as one JSON document beside the
// columns it is queried and ordered by.
type body struct {
	Groups     []string          `json:"groups"`
	Agreement  string            `json:"agreement,omitempty"`
	RequireMFA bool              `json:"require_mfa,omitempty"`
	Rules      map[Platform]Rule `json:"rules"`
}

// MarshalBody encodes p's target groups, agreement, MFA requirement and rules as the JSON
// document the SQL backends store. Call it on a validated policy.
func (p Policy) MarshalBody() ([]byte, error) {
	p = p.Normalize()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keeps the size predictable: '<' stays one byte
	if err := enc.Encode(body{Groups: p.Groups, Agreement: p.Agreement, RequireMFA: p.RequireMFA, Rules: p.Rules}); err != nil {
		return nil, fmt.Errorf("policy %q: encode body: %w", p.ID, err)
	}
	if buf.Len() > MaxBodyBytes {
		return nil, fmt.Errorf("policy %q: body is %d bytes, at most %d allowed", p.ID, buf.Len(), MaxBodyBytes)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// UnmarshalBody decodes a document written by [Policy.MarshalBody] into p's
// Groups, Agreement and Rules. It refuses documents over MaxBodyBytes,
// nested deeper than a policy ever is, with unknown fields or trailing
// data; the fields are not validated (call [Policy.Validate] for that).
func (p *Policy) UnmarshalBody(data []byte) error {
	if len(data) > MaxBodyBytes {
		return fmt.Errorf("policy body is %d bytes, at most %d allowed", len(data), MaxBodyBytes)
	}
	if err := checkDepth(data, maxBodyDepth); err != nil {
		return fmt.Errorf("policy body: %w", err)
	}
	var b body
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return fmt.Errorf("policy body: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("policy body: trailing data after the document")
	}
	p.Groups, p.Agreement, p.RequireMFA, p.Rules = b.Groups, b.Agreement, b.RequireMFA, b.Rules
	*p = p.Normalize()
	return nil
}

// checkDepth fails when JSON data nests objects and arrays deeper than max,
// before anything is allocated for them. Strings are skipped so that
// brackets inside them do not count.
func checkDepth(data []byte, max int) error {
	depth, inString, escaped := 0, false, false
	for _, c := range data {
		switch {
		case inString && escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case inString && c == '"':
			inString = false
		case inString:
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			if depth > max {
				return fmt.Errorf("nested deeper than %d levels", max)
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return nil
}
