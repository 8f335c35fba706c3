package plistlimit

import "bytes"

// A fast path for the commonest MDM message: an XML plist whose root is a
// dictionary of plain strings (a device's Idle, an Acknowledged without
// payload, most check-in messages). encoding/xml's tokenizer was about a
// tenth of an idle check-in's server CPU; this reads such a message in one
// pass without it. It accepts only a strict subset of what the decoder
// reads — one prolog and one DOCTYPE as Apple writes them, no attributes
// but the plist version, no entities, comments, CDATA or non-ASCII text —
// and gives up on anything else, which then takes the decoder's path.
// FuzzFlatDict checks that whatever it accepts, the decoder decodes to the
// same dictionary.

var (
	flatProlog     = [][]byte{[]byte(`<?xml version="1.0" encoding="UTF-8"?>`), []byte(`<?xml version="1.0"?>`)}
	flatDoctype    = []byte(`<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">`)
	flatPlistStart = [][]byte{[]byte(`<plist version="1.0">`), []byte(`<plist>`)}
)

// decodeFlatDict decodes data as the decoder would into a map[string]any
// when data is a plist the fast path reads; ok is false, and nothing is
// decided, otherwise.
func decodeFlatDict(data []byte) (m map[string]any, ok bool) {
	p := flatParser{rest: data}
	if p.oneOf(flatProlog) {
		p.space()
	}
	if p.literal(flatDoctype) {
		p.space()
	}
	if !p.oneOf(flatPlistStart) {
		return nil, false
	}
	p.space()
	if !p.literal([]byte("<dict>")) {
		return nil, false
	}
	m = map[string]any{}
	for {
		p.space()
		if p.literal([]byte("</dict>")) {
			break
		}
		key, ok := p.element("key")
		if !ok {
			return nil, false
		}
		p.space()
		value, ok := p.element("string")
		if !ok {
			return nil, false
		}
		m[key] = value
	}
	p.space()
	if !p.literal([]byte("</plist>")) {
		return nil, false
	}
	p.space()
	return m, len(p.rest) == 0
}

type flatParser struct{ rest []byte }

// literal consumes lit if the input continues with it.
func (p *flatParser) literal(lit []byte) bool {
	if !bytes.HasPrefix(p.rest, lit) {
		return false
	}
	p.rest = p.rest[len(lit):]
	return true
}

func (p *flatParser) oneOf(lits [][]byte) bool {
	for _, lit := range lits {
		if p.literal(lit) {
			return true
		}
	}
	return false
}

// space consumes XML white space, which the decoder skips between
// elements.
func (p *flatParser) space() {
	i := 0
	for i < len(p.rest) && (p.rest[i] == ' ' || p.rest[i] == '\t' || p.rest[i] == '\n' || p.rest[i] == '\r') {
		i++
	}
	p.rest = p.rest[i:]
}

// element consumes <name>text</name> and returns text, which must be
// printable ASCII, tab or newline, without '&' (no entity to expand) or
// "]]>" (which XML forbids in text): text the decoder returns as it is.
func (p *flatParser) element(name string) (string, bool) {
	if len(p.rest) < 2*len(name)+5 || p.rest[0] != '<' || string(p.rest[1:1+len(name)]) != name || p.rest[1+len(name)] != '>' {
		return "", false
	}
	text := p.rest[2+len(name):]
	end := bytes.IndexByte(text, '<')
	if end < 0 {
		return "", false
	}
	for _, c := range text[:end] {
		if (c < 0x20 && c != '\t' && c != '\n') || c > 0x7e || c == '&' {
			return "", false
		}
	}
	if bytes.Contains(text[:end], []byte("]]>")) {
		return "", false
	}
	after := text[end:]
	if len(after) < len(name)+3 || after[1] != '/' || string(after[2:2+len(name)]) != name || after[2+len(name)] != '>' {
		return "", false
	}
	p.rest = after[3+len(name):]
	return string(text[:end]), true
}
