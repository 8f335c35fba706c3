package plistlimit

import (
	"bytes"
	"encoding/xml"
	"errors"
	"strings"
	"testing"

	"github.com/micromdm/plist"
)

// scanSeeds are XML inputs that exercise every branch of scanXML.
var scanSeeds = []string{
	sampleXML,
	`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0"><dict><key>Status</key><string>Idle</string><key>On</key><true/><key>Off</key><false /></dict></plist>`,
	`<plist><!-- a <dict> in a comment --><array><string>a &lt; b</string><dict/></array></plist>`,
	`<plist version="1.0>"><array><string>x</string></array></plist>`,
	`<plist><array a="1"/></plist>`,
	`<plist><string><![CDATA[<dict>]]></string></plist>`,
	`<!DOCTYPE plist [<!ENTITY a "b">]><plist><string>&a;</string></plist>`,
	`<plist><dict><key>a</key></plist>`,
	`<plist><a></b></plist>`,
	`<plist></plist></plist>`,
	`<plist><>`,
	`<plist`,
	`<plist><?pi`,
	`<plist><!--`,
	`</plist>`,
	`plain text`,
	deepXML(40),
	"<plist><true/></plist><?>",
	"<plist><true/></plist><!-- -- -->",
	"<plist><true/></plist><a b/>",
}

// TestScanXML: on the seeds the scan either leaves the input to the
// tokenizer or measures what the tokenizer measures; on well-formed
// plists it decides itself.
func TestScanXML(t *testing.T) {
	for _, s := range scanSeeds {
		agreeWithTokenizer(t, []byte(s))
	}
	for _, s := range scanSeeds[:4] {
		if _, ok, err := scanXML([]byte(s), Limits{}.withDefaults()); !ok || err != nil {
			t.Errorf("scanXML(%.60q) = %v, %v; want it measured", s, ok, err)
		}
	}
	if _, ok, err := scanXML([]byte(deepXML(40)), Limits{}.withDefaults()); !ok || !errors.Is(err, ErrTooDeep) {
		t.Errorf("scanXML(40 levels) = %v, %v; want ErrTooDeep", ok, err)
	}
	wide := "<plist><array>" + strings.Repeat("<true/>", 100) + "</array></plist>"
	if _, ok, err := scanXML([]byte(wide), Limits{MaxValues: 50}.withDefaults()); !ok || !errors.Is(err, ErrTooMany) {
		t.Errorf("scanXML(102 elements, limit 50) = %v, %v; want ErrTooMany", ok, err)
	}
}

// FuzzScanXML: whatever the input, the scan never lets the decoder build
// more elements or levels than it counted: for input the decoder reads,
// it counts at least what the tokenizer finds up to the end of the root
// element (the decoder reads no further), and exactly what the tokenizer
// finds in the whole input when that is well-formed — so Stats.Within
// answers as before. After the root, markup the tokenizer refuses may
// pass the scan: the decoder never reads it, and it only adds to the
// counts.
func FuzzScanXML(f *testing.F) {
	for _, s := range scanSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(agreeWithTokenizer)
}

func agreeWithTokenizer(t *testing.T, data []byte) {
	t.Helper()
	for _, lim := range []Limits{{}, {MaxDepth: 3}, {MaxValues: 8}, {MaxDepth: 2, MaxValues: 4}} {
		lim = lim.withDefaults()
		got, ok, err := scanXML(data, lim)
		if !ok {
			continue
		}
		if err != nil {
			if !errors.Is(err, ErrTooDeep) && !errors.Is(err, ErrTooMany) {
				t.Fatalf("limits %+v: scanXML error wraps no limit's sentinel: %v", lim, err)
			}
			continue // refused: at worst, ill-formed input refused for a limit rather than as malformed
		}
		if want, werr := checkXML(data, lim); werr == nil && got != want {
			t.Fatalf("limits %+v: scanXML measured %+v, the tokenizer %+v", lim, got, want)
		}
		var v any
		if plist.Unmarshal(data, &v) != nil {
			continue
		}
		depth, values, read := rootCounts(data)
		if !read {
			t.Fatalf("the decoder read %.80q, the tokenizer cannot", data)
		}
		if got.depth < depth || got.values < values {
			t.Fatalf("limits %+v: scanXML measured depth %d and %d elements, the decoder read %d levels and %d elements",
				lim, got.depth, got.values, depth, values)
		}
	}
}

// rootCounts tokenizes data up to the end of its root element, as the
// decoder reads it, and counts the elements and levels.
func rootCounts(data []byte) (depth, values int, ok bool) {
	d := xml.NewDecoder(bytes.NewReader(data))
	for level := 0; ; {
		tok, err := d.Token()
		if err != nil {
			return 0, 0, false
		}
		switch tok.(type) {
		case xml.StartElement:
			level++
			values++
			depth = max(depth, level)
		case xml.EndElement:
			if level--; level == 0 {
				return depth, values, true
			}
		}
	}
}
