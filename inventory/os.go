package inventory

import "github.com/openomm/omm/policy"

// OS is what the inventory knows of a device's operating system: its
// platform and the version it last reported ("17.4.1"), empty while none
// is stored. Apple renamed and added result keys over the years, and
// changed units; the filter and the report read a device's values by it.
type OS struct {
	Platform Platform
	Version  string
}

// OSOf returns the OS of device d, whose stored values are vals.
func OSOf(d Device, vals []Value) OS {
	o := OS{Platform: d.Platform}
	for _, v := range vals {
		if v.Key == KeyOSVersion {
			o.Version = v.Value
		}
	}
	return o
}

// Before reports whether the version is known and older than v
// ("11.7.10" is before "12").
func (o OS) Before(v string) bool {
	c, known := o.compare(v)
	return known && c < 0
}

// compare compares the version with v; known is false when the version is
// empty or not a dotted number (v is one of the contract's own).
func (o OS) compare(v string) (c int, known bool) {
	have, err := policy.ParseVersion(o.Version)
	if err != nil {
		return 0, false
	}
	want, err := policy.ParseVersion(v)
	if err != nil {
		return 0, false
	}
	return have.Compare(want), true
}

// appleFamily maps iPadOS to iOS, whose version numbers it shares and
// under whose name Apple's schema lists it.
func appleFamily(p Platform) Platform {
	if p == PlatformIPadOS {
		return PlatformIOS
	}
	return p
}
