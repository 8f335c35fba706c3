package policy

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/openomm/omm/storage"
)

// Version is a parsed dotted OS version ("17.4.1", Android "12") or an
// Android API level (one component, "31").
type Version struct {
	parts [maxVersionParts]int
	n     int
}

const (
	maxVersionParts = 4
	maxVersionLen   = 32
	maxPartDigits   = 6
)

// ParseVersion parses 1–4 dot-separated decimal numbers. Anything else
// (empty parts, signs, suffixes such as "beta") is ErrInvalid.
func ParseVersion(s string) (Version, error) {
	var v Version
	if s == "" || len(s) > maxVersionLen {
		return v, fmt.Errorf("%w: OS version %q: want 1–%d dot-separated numbers", storage.ErrInvalid, s, maxVersionParts)
	}
	for part := range strings.SplitSeq(s, ".") {
		if v.n == maxVersionParts || part == "" || len(part) > maxPartDigits || strings.Trim(part, "0123456789") != "" {
			return Version{}, fmt.Errorf("%w: OS version %q: want 1–%d dot-separated numbers", storage.ErrInvalid, s, maxVersionParts)
		}
		n, err := strconv.Atoi(part)
		if err != nil {
			return Version{}, fmt.Errorf("%w: OS version %q: %v", storage.ErrInvalid, s, err)
		}
		v.parts[v.n] = n
		v.n++
	}
	return v, nil
}

// APILevel returns an Android API level as a one-component Version, so that
// levels compare through [Version.Compare] like releases do.
func APILevel(level int) Version {
	return Version{parts: [maxVersionParts]int{max(level, 0)}, n: 1}
}

// Compare returns -1, 0 or +1 as v is older than, equal to or newer than w.
// Components compare numerically ("17.10" is newer than "17.4.1") and
// missing components count as zero ("17" equals "17.0.0").
func (v Version) Compare(w Version) int {
	for i := range maxVersionParts {
		switch {
		case v.parts[i] < w.parts[i]:
			return -1
		case v.parts[i] > w.parts[i]:
			return 1
		}
	}
	return 0
}

// String returns the version as parsed, without padding zeros.
func (v Version) String() string {
	s := make([]string, v.n)
	for i := range v.n {
		s[i] = strconv.Itoa(v.parts[i])
	}
	return strings.Join(s, ".")
}
