package policy_test

import (
	"errors"
	"testing"

	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

func TestVersionCompare(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"17.4.1", "17.10", -1},
		{"17.10", "17.4.1", 1},
		{"17.4.1", "17.4.1", 0},
		{"17", "17.0.0", 0},
		{"17.0.1", "17", 1},
		{"16.7.8", "17.0", -1},
		{"9", "10", -1}, // numeric, not lexical
		{"12", "12.1", -1},
		{"8.1.0", "8.1", 0},
		{"14.2.1.3", "14.2.1", 1},
		{"010", "10", 0},
		{"28", "29", -1}, // API levels compare the same way
	}
	for _, tt := range tests {
		a, err := policy.ParseVersion(tt.a)
		if err != nil {
			t.Fatalf("ParseVersion(%q): %v", tt.a, err)
		}
		b, err := policy.ParseVersion(tt.b)
		if err != nil {
			t.Fatalf("ParseVersion(%q): %v", tt.b, err)
		}
		if got := a.Compare(b); got != tt.want {
			t.Errorf("%s vs %s = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := b.Compare(a); got != -tt.want {
			t.Errorf("%s vs %s = %d, want %d (antisymmetry)", tt.b, tt.a, got, -tt.want)
		}
	}
	if policy.APILevel(28).Compare(policy.APILevel(29)) != -1 || policy.APILevel(31).Compare(policy.APILevel(31)) != 0 {
		t.Errorf("APILevel comparison is wrong")
	}
}

func TestParseVersionRejects(t *testing.T) {
	for _, s := range []string{"", ".", "17.", ".17", "17..1", "17.4 beta", "v17", "-1", "+1", "17.x",
		"1.2.3.4.5", "1234567", "17.4.1\n", "１７", "000000000000000000000000000000001"} {
		if v, err := policy.ParseVersion(s); !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("ParseVersion(%q) = %v, %v; want ErrInvalid", s, v, err)
		}
	}
}

func TestVersionString(t *testing.T) {
	for in, want := range map[string]string{"17.4.1": "17.4.1", "017.04": "17.4", "12": "12"} {
		v, err := policy.ParseVersion(in)
		if err != nil {
			t.Fatal(err)
		}
		if v.String() != want {
			t.Errorf("ParseVersion(%q).String() = %q, want %q", in, v.String(), want)
		}
	}
}
