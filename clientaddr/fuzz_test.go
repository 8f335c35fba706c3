package clientaddr_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/openomm/omm/clientaddr"
)

// FuzzRightmost reads arbitrary header values (split into lines at \n):
// it never panics, an answer is a valid address the trust rule does not
// accept (or, every hop trusted, one it does), and a failure is
// ErrInvalid. The seed corpus is in testdata/fuzz/FuzzRightmost too.
func FuzzRightmost(f *testing.F) {
	for _, s := range []string{"", "198.51.100.1", "1.1.1.1, 198.51.100.1, 10.0.0.5", "[2001:db8::1]:80,10.0.0.5",
		"unknown", ",,,", "10.0.0.5\n198.51.100.1", "fe80::1%eth0", "::ffff:1.2.3.4", strings.Repeat("10.0.0.5,", 40)} {
		f.Add(s)
	}
	trusted := clientaddr.New([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}).Trusts
	f.Fuzz(func(t *testing.T, in string) {
		a, err := clientaddr.Rightmost(strings.Split(in, "\n"), trusted)
		switch {
		case err != nil:
			if !errors.Is(err, clientaddr.ErrInvalid) || a.IsValid() {
				t.Fatalf("Rightmost(%q) = %v, %v", in, a, err)
			}
		case a.IsValid():
			if a.Zone() != "" || a.Is4In6() {
				t.Fatalf("Rightmost(%q) = %v: not normalised", in, a)
			}
			if trusted(a) && strings.Count(in, ",")+strings.Count(in, "\n")+1 > clientaddr.MaxHops {
				t.Fatalf("Rightmost(%q) = trusted %v beyond MaxHops", in, a)
			}
		}
	})
}
