package plistlimit

import (
	"bytes"
	"encoding/base64"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// A fast path for MDM messages as devices write them: an XML plist whose
// root is a dictionary, decoded into a map[string]any. encoding/xml's
// tokenizer was about a tenth of an idle check-in's server CPU and of a
// command result's; this reads such a message in one pass without it. It
// accepts only a strict subset of what the decoder reads — the prolog and
// the DOCTYPE as Apple writes them (each may be left out, and the prolog's
// encoding), no attributes but the plist version, no entities, comments or
// CDATA, no carriage return inside text, the scalar elements written as
// Apple writes them (<true/>, digits in an <integer>) — and gives up on
// anything else, which then takes the decoder's path.
// FuzzXMLDict checks that whatever it accepts, the decoder decodes to the
// same dictionary.

var (
	fastProlog     = [][]byte{[]byte(`<?xml version="1.0" encoding="UTF-8"?>`), []byte(`<?xml version="1.0"?>`)}
	fastDoctype    = []byte(`<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">`)
	fastPlistStart = [][]byte{[]byte(`<plist version="1.0">`), []byte(`<plist>`)}
)

// fastMaxDepth bounds the reader's recursion on its own: the limits
// measured before it bound the nesting too, but the reader does not rely
// on a caller for its stack.
const fastMaxDepth = 32

// decodeXMLDict decodes data as the decoder would into a map[string]any
// when data is a plist the fast path reads; ok is false, and nothing is
// decided, otherwise.
func decodeXMLDict(data []byte) (m map[string]any, ok bool) {
	p := fastParser{rest: data}
	if p.oneOf(fastProlog) {
		p.space()
	}
	if p.literal(fastDoctype) {
		p.space()
	}
	if !p.oneOf(fastPlistStart) {
		return nil, false
	}
	p.space()
	if !p.literal([]byte("<dict>")) {
		return nil, false
	}
	if m, ok = p.dict(1); !ok {
		return nil, false
	}
	p.space()
	if !p.literal([]byte("</plist>")) {
		return nil, false
	}
	p.space()
	return m, len(p.rest) == 0
}

type fastParser struct{ rest []byte }

// dict reads a dictionary's entries after its <dict>, and its </dict>.
func (p *fastParser) dict(depth int) (map[string]any, bool) {
	if depth > fastMaxDepth {
		return nil, false
	}
	m := map[string]any{}
	for {
		p.space()
		if p.literal([]byte("</dict>")) {
			return m, true
		}
		key, ok := p.element("key")
		if !ok {
			return nil, false
		}
		p.space()
		v, ok := p.value(depth)
		if !ok {
			return nil, false
		}
		m[key] = v
	}
}

// array reads an array's values after its <array>, and its </array>; an
// empty array is an empty slice, as the decoder makes it.
func (p *fastParser) array(depth int) ([]any, bool) {
	if depth > fastMaxDepth {
		return nil, false
	}
	a := []any{}
	for {
		p.space()
		if p.literal([]byte("</array>")) {
			return a, true
		}
		v, ok := p.value(depth)
		if !ok {
			return nil, false
		}
		a = append(a, v)
	}
}

// value reads one value inside a container at depth, typed as the
// decoder types it for an interface.
func (p *fastParser) value(depth int) (any, bool) {
	if len(p.rest) < 3 || p.rest[0] != '<' {
		return nil, false
	}
	switch p.rest[1] {
	case 's':
		return p.element("string")
	case 'd':
		switch {
		case p.literal([]byte("<dict>")):
			return p.dict(depth + 1)
		case bytes.HasPrefix(p.rest, []byte("<date>")):
			return p.date()
		case bytes.HasPrefix(p.rest, []byte("<data>")):
			return p.data()
		}
	case 'a':
		if p.literal([]byte("<array>")) {
			return p.array(depth + 1)
		}
	case 'i':
		return p.integer()
	case 'r':
		return p.real()
	case 't':
		if p.literal([]byte("<true/>")) {
			return true, true
		}
	case 'f':
		if p.literal([]byte("<false/>")) {
			return false, true
		}
	}
	return nil, false
}

// integer reads <integer> with decimal digits and an optional minus: with
// the minus it is an int64 ("-0" too), without a uint64, as in the
// decoder.
func (p *fastParser) integer() (any, bool) {
	text, ok := p.element("integer")
	if !ok || !onlyBytes(strings.TrimPrefix(text, "-"), "0123456789") {
		return nil, false
	}
	if strings.HasPrefix(text, "-") {
		i, err := strconv.ParseInt(text, 10, 64)
		return i, err == nil
	}
	u, err := strconv.ParseUint(text, 10, 64)
	return u, err == nil
}

// real reads <real> in decimal notation as a float64.
func (p *fastParser) real() (any, bool) {
	text, ok := p.element("real")
	if !ok || !onlyBytes(text, "0123456789.eE+-") {
		return nil, false
	}
	f, err := strconv.ParseFloat(text, 64)
	return f, err == nil
}

// date reads <date> as the decoder does: RFC 3339 through time.Time's
// UnmarshalText.
func (p *fastParser) date() (any, bool) {
	text, ok := p.element("date")
	if !ok || !onlyBytes(text, "0123456789TZ:.+-") {
		return nil, false
	}
	var t time.Time
	err := t.UnmarshalText([]byte(text)) // before t is read: the order within a return is unspecified
	return t, err == nil
}

// data reads <data>: base64 with white space in it; empty is a nil slice,
// as in the decoder.
func (p *fastParser) data() (any, bool) {
	text, ok := p.element("data")
	if !ok || !onlyBytes(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/= \t\n") {
		return nil, false
	}
	if text == "" {
		return []byte(nil), true
	}
	b, err := base64.StdEncoding.DecodeString(dataSpace.Replace(text))
	return b, err == nil
}

// dataSpace removes the white space <data> may hold.
var dataSpace = strings.NewReplacer("\t", "", "\n", "", " ", "")

// onlyBytes reports whether every byte of s is one of set's.
func onlyBytes(s, set string) bool {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(set, s[i]) < 0 {
			return false
		}
	}
	return true
}

// literal consumes lit if the input continues with it.
func (p *fastParser) literal(lit []byte) bool {
	if !bytes.HasPrefix(p.rest, lit) {
		return false
	}
	p.rest = p.rest[len(lit):]
	return true
}

func (p *fastParser) oneOf(lits [][]byte) bool {
	for _, lit := range lits {
		if p.literal(lit) {
			return true
		}
	}
	return false
}

// space consumes XML white space, which the decoder skips between
// elements.
func (p *fastParser) space() {
	i := 0
	for i < len(p.rest) && (p.rest[i] == ' ' || p.rest[i] == '\t' || p.rest[i] == '\n' || p.rest[i] == '\r') {
		i++
	}
	p.rest = p.rest[i:]
}

// element consumes <name>text</name> and returns text, which must be text
// the decoder returns as it is: printable ASCII, tab, newline or UTF-8 of
// characters XML allows, without '&' (no entity to expand) or "]]>"
// (which XML forbids in text).
func (p *fastParser) element(name string) (string, bool) {
	if len(p.rest) < 2*len(name)+5 || p.rest[0] != '<' || string(p.rest[1:1+len(name)]) != name || p.rest[1+len(name)] != '>' {
		return "", false
	}
	text := p.rest[2+len(name):]
	end := bytes.IndexByte(text, '<')
	if end < 0 || !plainText(text[:end]) {
		return "", false
	}
	after := text[end:]
	if len(after) < len(name)+3 || after[1] != '/' || string(after[2:2+len(name)]) != name || after[2+len(name)] != '>' {
		return "", false
	}
	p.rest = after[3+len(name):]
	return string(text[:end]), true
}

// plainText reports whether XML text b is of a kind that decodes to
// itself (it also refuses DEL, which would: a safe subset, not an exact
// one).
func plainText(b []byte) bool {
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			if (c < 0x20 && c != '\t' && c != '\n') || c == 0x7f || c == '&' {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 || !xmlChar(r) {
			return false
		}
		i += size
	}
	return !bytes.Contains(b, []byte("]]>"))
}

// xmlChar reports whether XML allows r (beyond ASCII) in a document.
func xmlChar(r rune) bool {
	return r >= 0x80 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}
