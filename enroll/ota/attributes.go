package ota

import (
	"fmt"

	"github.com/openomm/omm/internal/plistlimit"
	"github.com/openomm/omm/inventory"
)

// attributeLimits bound the plist a device signs: about ten short strings.
var attributeLimits = plistlimit.Limits{MaxSize: 16 << 10, MaxDepth: 4, MaxValues: 64}

// posted is a device's attribute post after the privacy filter.
type posted struct {
	challenge string
	udid      string
	// values maps inventory keys to what the device reported.
	values map[string]string
	// dropped counts keys the contract does not let the org keep.
	dropped int
}

// otaKeys maps the DeviceAttributes names the privacy contract requests to
// its inventory keys; built from the contract, so that what is kept is
// exactly what was asked for.
func otaKeys() map[string]inventory.Key {
	m := map[string]inventory.Key{}
	for _, a := range inventory.Contract() {
		if a.OTA != "" {
			m[a.OTA] = a.Key
		}
	}
	return m
}

// parseAttributes reads the signed plist and keeps only the contract's
// attributes, the UDID and the challenge. Anything else a device adds (an
// IMEI, a MAC address) is dropped before it can be stored.
func parseAttributes(content []byte, keys map[string]inventory.Key) (posted, error) {
	var raw map[string]any
	if err := plistlimit.Unmarshal(content, &raw, attributeLimits); err != nil {
		return posted{}, fmt.Errorf("%w: attributes: %w", ErrBody, err)
	}
	p := posted{values: map[string]string{}}
	for k, v := range raw {
		str, ok := v.(string)
		if !ok || len(str) > maxValueLen {
			p.dropped++
			continue
		}
		switch k {
		case "CHALLENGE":
			p.challenge = str
		case "UDID":
			p.udid = str
		default:
			if key, ok := keys[k]; ok {
				p.values[string(key)] = str
			} else {
				p.dropped++
			}
		}
	}
	if p.udid == "" || !printable(p.udid) {
		return posted{}, fmt.Errorf("%w: attributes without a usable UDID", ErrBody)
	}
	return p, nil
}

const maxValueLen = 256

func printable(s string) bool {
	for _, c := range s {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}
