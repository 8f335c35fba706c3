package appleschema

import (
	"fmt"
	"regexp"
	"strings"
)

// This file is a reader for the subset of YAML used by Apple's
// device-management schema files: block mappings and sequences, plain,
// quoted and block scalars (also spanning lines), anchors and aliases.
// gopkg.in/yaml.v3 is only an indirect dependency of the module and may
// not be added, so the schema test carries its own reader. Scalars stay
// strings; the schema check compares them as text.

type yamlLine struct {
	n      int // 1-based line number, for errors
	indent int
	text   string // without indentation
}

type yamlReader struct {
	lines   []yamlLine
	pos     int
	anchors map[string]any
	open    map[string]bool // anchors being defined
}

// yamlRecursion stands for an alias used inside its own anchor's value
// (the home screen layout schema nests folders in folders). Go values
// cannot refer to themselves, so the recursion is cut there.
type yamlRecursion string

// parseYAML parses a document into map[string]any, []any and string.
func parseYAML(src string) (any, error) {
	r := &yamlReader{anchors: map[string]any{}, open: map[string]bool{}}
	for i, l := range strings.Split(strings.ReplaceAll(src, "\t", "    "), "\n") {
		trimmed := strings.TrimLeft(l, " ")
		if trimmed == "" || strings.HasPrefix(trimmed, "#") || trimmed == "---" {
			// Blank lines matter only inside block scalars; keep them
			// there by recording them with a huge indent.
			r.lines = append(r.lines, yamlLine{n: i + 1, indent: 1 << 30, text: ""})
			continue
		}
		r.lines = append(r.lines, yamlLine{n: i + 1, indent: len(l) - len(trimmed), text: strings.TrimRight(trimmed, " ")})
	}
	r.skipBlank()
	if r.pos >= len(r.lines) {
		return nil, nil
	}
	v, err := r.node(r.lines[r.pos].indent)
	if err != nil {
		return nil, err
	}
	r.skipBlank()
	if r.pos < len(r.lines) {
		return nil, fmt.Errorf("yaml line %d: unexpected content", r.lines[r.pos].n)
	}
	return v, nil
}

func (r *yamlReader) skipBlank() {
	for r.pos < len(r.lines) && r.lines[r.pos].text == "" {
		r.pos++
	}
}

// peek returns the next non-blank line, if any.
func (r *yamlReader) peek() (yamlLine, bool) {
	r.skipBlank()
	if r.pos >= len(r.lines) {
		return yamlLine{}, false
	}
	return r.lines[r.pos], true
}

func isDash(text string) bool { return text == "-" || strings.HasPrefix(text, "- ") }

var keyPattern = regexp.MustCompile(`^([A-Za-z0-9_$.()<>/-][A-Za-z0-9_$.()<> /-]*):(?: |$)`)

func (r *yamlReader) node(indent int) (any, error) {
	l, _ := r.peek()
	if isDash(l.text) {
		return r.sequence(indent)
	}
	return r.mapping(indent)
}

func (r *yamlReader) mapping(indent int) (any, error) {
	m := map[string]any{}
	for {
		l, ok := r.peek()
		if !ok || l.indent < indent {
			return m, nil
		}
		if l.indent > indent || isDash(l.text) {
			return nil, fmt.Errorf("yaml line %d: bad indentation", l.n)
		}
		k := keyPattern.FindStringSubmatch(l.text)
		if k == nil {
			return nil, fmt.Errorf("yaml line %d: expected key: %q", l.n, l.text)
		}
		r.pos++
		v, err := r.value(indent, strings.TrimSpace(l.text[len(k[0]):]), true)
		if err != nil {
			return nil, err
		}
		m[k[1]] = v
	}
}

func (r *yamlReader) sequence(indent int) (any, error) {
	var s []any
	for {
		l, ok := r.peek()
		if !ok || l.indent < indent || !isDash(l.text) {
			if ok && l.indent > indent {
				return nil, fmt.Errorf("yaml line %d: bad indentation", l.n)
			}
			return s, nil
		}
		rest := strings.TrimSpace(strings.TrimPrefix(l.text, "-"))
		if keyPattern.MatchString(rest) {
			// "- key: v" starts a mapping indented past the dash: rewrite
			// this line as that mapping's first line.
			r.lines[r.pos] = yamlLine{n: l.n, indent: indent + 2, text: rest}
			v, err := r.mapping(indent + 2)
			if err != nil {
				return nil, err
			}
			s = append(s, v)
			continue
		}
		r.pos++
		v, err := r.value(indent, rest, false)
		if err != nil {
			return nil, err
		}
		s = append(s, v)
	}
}

// value reads what follows "key:" or "-" on a line at indent, plus any
// lines belonging to it.
func (r *yamlReader) value(indent int, rest string, inMapping bool) (any, error) {
	anchor := ""
	if strings.HasPrefix(rest, "&") {
		name, after, _ := strings.Cut(rest[1:], " ")
		anchor, rest = name, strings.TrimSpace(after)
	}
	if anchor != "" {
		r.open[anchor] = true
		defer delete(r.open, anchor)
	}
	var (
		v   any
		err error
	)
	switch {
	case strings.HasPrefix(rest, "*"):
		a, ok := r.anchors[rest[1:]]
		switch {
		case ok:
			v = a
		case r.open[rest[1:]]:
			v = yamlRecursion(rest[1:])
		default:
			return nil, fmt.Errorf("yaml: unknown alias %s", rest)
		}
	case rest == "":
		next, ok := r.peek()
		switch {
		case ok && next.indent > indent:
			v, err = r.node(next.indent)
		case ok && inMapping && next.indent == indent && isDash(next.text):
			v, err = r.sequence(indent) // "key:" followed by "- item" at the same indent
		default:
			v = ""
		}
	case rest[0] == '|' || rest[0] == '>':
		v = r.blockScalar(indent, rest)
	case rest[0] == '\'' || rest[0] == '"':
		v, err = r.quoted(indent, rest)
	default:
		v = r.plain(indent, rest)
	}
	if err != nil {
		return nil, err
	}
	if anchor != "" {
		r.anchors[anchor] = v
	}
	return v, nil
}

// continuation collects the following lines indented past indent.
func (r *yamlReader) continuation(indent int) []string {
	var out []string
	for r.pos < len(r.lines) {
		l := r.lines[r.pos]
		if l.text != "" && l.indent <= indent {
			break
		}
		out = append(out, l.text)
		r.pos++
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}

func (r *yamlReader) plain(indent int, first string) string {
	parts := append([]string{first}, r.continuation(indent)...)
	return strings.Join(strings.Fields(strings.Join(parts, " ")), " ")
}

func (r *yamlReader) blockScalar(indent int, header string) string {
	lines := r.continuation(indent)
	if header[0] == '>' {
		return strings.Join(lines, " ")
	}
	return strings.Join(lines, "\n")
}

func (r *yamlReader) quoted(indent int, first string) (string, error) {
	q := first[0]
	text := first
	for !closed(text, q) {
		more := r.continuation(indent)
		if len(more) == 0 {
			return "", fmt.Errorf("yaml: unterminated quoted scalar %q", first)
		}
		text += " " + strings.Join(more, " ")
	}
	body := text[1:strings.LastIndexByte(text, q)]
	if q == '\'' {
		return strings.ReplaceAll(body, "''", "'"), nil
	}
	return strings.ReplaceAll(body, `\"`, `"`), nil
}

// closed reports whether a quoted scalar starting at s[0] ends in s.
func closed(s string, q byte) bool {
	for i := 1; i < len(s); i++ {
		if s[i] != q {
			continue
		}
		if q == '\'' && i+1 < len(s) && s[i+1] == '\'' {
			i++
			continue
		}
		if q == '"' && s[i-1] == '\\' {
			continue
		}
		return true
	}
	return false
}
