package inventory

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Display is a stored value put into words for people. The stored value
// stays exactly what the device reported; only its presentation changes.
type Display struct {
	// Text is the value in words: "Block-level and file-level
	// encryption", "On", "128 GB"; a list's entries joined by commas.
	Text string
	// Items are the entries of a list value, in stored order, for a
	// page to show as a list.
	Items []string
}

// emptyEntry stands for an empty string in a list's words.
const emptyEntry = "(empty)"

// Apple's HardwareEncryptionCaps bits.
const (
	encryptionBlockLevel = 1
	encryptionFileLevel  = 2
)

// macOSGigabytesSince is the first macOS reporting capacities in base-10
// gigabytes; earlier versions report base-2 gibibytes (Apple's schema).
const macOSGigabytesSince = "12"

// DisplayValue puts v into words for a device running os: a bit mask or
// an enumeration decoded, a boolean in the attribute's words (True,
// False), a capacity with the unit its OS reports in, a list as its
// entries. A value it cannot decode is shown as stored, marked so.
func DisplayValue(v Value, os OS) Display {
	a, ok := attributeFor(v.Key)
	if !ok {
		return Display{Text: v.Value}
	}
	switch {
	case a.Kind == KindBool:
		return Display{Text: boolWords(a, v.Value)}
	case a.Kind == KindList:
		var items []string
		if err := json.Unmarshal([]byte(v.Value), &items); err != nil {
			return Display{Text: v.Value}
		}
		if len(items) == 0 {
			return Display{Text: "None"}
		}
		words := make([]string, len(items))
		for i, item := range items {
			words[i] = item
			if item == "" {
				// An empty entry is still an entry: a blank would read
				// as no value at all.
				words[i] = emptyEntry
			}
		}
		return Display{Text: strings.Join(words, ", "), Items: items}
	case v.Key == KeyCapacity || v.Key == KeyAvailableCapacity:
		return Display{Text: capacity(v.Value, os)}
	case v.Key == KeyEncryption:
		return Display{Text: encryption(v.Value, os)}
	case v.Key == KeySecurityPosture:
		return Display{Text: enumWords(v.Value)}
	}
	return Display{Text: v.Value}
}

func boolWords(a Attribute, s string) string {
	yes, no := a.True, a.False
	if yes == "" {
		yes, no = "Yes", "No"
	}
	switch s {
	case "true":
		return yes
	case "false":
		return no
	}
	return unreadable(s)
}

// capacity shows a capacity with its unit, rounded to two decimals.
func capacity(s string, os OS) string {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return unreadable(s)
	}
	n := strconv.FormatFloat(math.Round(f*100)/100, 'f', -1, 64)
	if math.Abs(f) >= 1e15 {
		// No storage is that large; in full it would be hundreds of digits.
		n = strconv.FormatFloat(f, 'g', 6, 64)
	}
	switch {
	case os.Platform != PlatformMacOS:
		return n + " GB"
	}
	switch c, known := os.compare(macOSGigabytesSince); {
	case !known:
		return n + " GB or GiB (the unit depends on the macOS version, which is not known)"
	case c < 0:
		return n + " GiB"
	}
	return n + " GB"
}

// encryption puts the encryption value into words in its platform's
// terms: Apple's hardware encryption bit mask (iPhone, iPad), FileVault
// on or off (Mac), Android's encryption status.
func encryption(s string, os OS) string {
	switch os.Platform {
	case PlatformIOS, PlatformIPadOS:
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return unreadable(s)
		}
		var parts []string
		if n&encryptionBlockLevel != 0 {
			parts = append(parts, "block-level")
		}
		if n&encryptionFileLevel != 0 {
			parts = append(parts, "file-level")
		}
		switch {
		case n&^(encryptionBlockLevel|encryptionFileLevel) != 0:
			return unreadable(s)
		case len(parts) == 0:
			return "No hardware encryption"
		}
		w := strings.Join(parts, " and ") + " encryption"
		return strings.ToUpper(w[:1]) + w[1:]
	case PlatformMacOS:
		switch s {
		case "true":
			return "FileVault on"
		case "false":
			return "FileVault off"
		}
		return unreadable(s)
	case PlatformAndroid:
		switch s {
		case "ACTIVE", "ACTIVE_PER_USER":
			return "Encrypted" + strings.TrimPrefix(enumWords(s), "Active")
		case "ACTIVATING":
			return "Encrypting"
		case "ACTIVE_DEFAULT_KEY":
			return "Encrypted (with the default key: no passcode protects it)"
		case "INACTIVE":
			return "Not encrypted"
		case "UNSUPPORTED":
			return "Encryption not supported"
		}
		return enumWords(s)
	}
	return s
}

// enumWords puts an enumeration value of Google's API ("ACTIVE_PER_USER")
// into words ("Active per user").
func enumWords(s string) string {
	if s == "" || strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != "" {
		return s
	}
	w := strings.ToLower(strings.ReplaceAll(s, "_", " "))
	return strings.ToUpper(w[:1]) + w[1:]
}

func unreadable(s string) string {
	return fmt.Sprintf("%s (not a value this version knows how to read)", s)
}
