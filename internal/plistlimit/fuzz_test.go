package plistlimit

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the fuzz seed corpus in testdata/fuzz")

func FuzzUnmarshal(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		var v any
		err := Unmarshal(data, &v, Limits{})
		if err != nil && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrTooDeep) &&
			!errors.Is(err, ErrTooMany) && !errors.Is(err, ErrMalformed) {
			t.Fatalf("error wraps no sentinel: %v", err)
		}
		checkWithin(t, data)
	})
}

// checkWithin: what Measure measured under the default limits tells, for
// stricter ones, what Check would say of data.
func checkWithin(t *testing.T, data []byte) {
	t.Helper()
	st, err := Measure(data, Limits{})
	if err != nil {
		return
	}
	for _, lim := range []Limits{{}, {MaxSize: len(data) - 1}, {MaxSize: len(data)}, {MaxDepth: 2}, {MaxDepth: 3}, {MaxDepth: 4},
		{MaxValues: 1}, {MaxValues: 4}, {MaxValues: 16}, {MaxSize: 64, MaxDepth: 3, MaxValues: 8}} {
		want, got := Check(data, lim), st.Within(lim)
		if (want == nil) != (got == nil) {
			t.Fatalf("limits %+v: Check says %v, Within %v", lim, want, got)
		}
		if got != nil && !errors.Is(got, ErrTooLarge) && !errors.Is(got, ErrTooDeep) && !errors.Is(got, ErrTooMany) {
			t.Fatalf("limits %+v: Within's error wraps no limit's sentinel: %v", lim, got)
		}
	}
}

// seeds is the corpus; the name prefix says what Check must return.
func seeds() map[string][]byte {
	return map[string][]byte{
		"valid-xml":               []byte(sampleXML),
		"valid-binary":            sampleBinary(),
		"deep-xml":                []byte(deepXML(5000)),
		"deep-binary":             chain(200),
		"many-binary-laughs":      laughs(48),
		"malformed-binary-cycle":  encodeBinary([]bobj{barray(1), barray(0)}, 0),
		"malformed-binary-offby1": encodeBinary([]bobj{barray(2), btrue()}, 0),
		"malformed-xml":           []byte("<plist><dict><key>a</key></plist>"),
	}
}

func TestFuzzSeeds(t *testing.T) {
	checkSeedCorpus(t, filepath.Join("testdata", "fuzz", "FuzzUnmarshal"), seeds())
	want := map[string]error{"valid": nil, "deep": ErrTooDeep, "many": ErrTooMany, "malformed": ErrMalformed}
	for name, data := range seeds() {
		prefix, _, _ := strings.Cut(name, "-")
		if err := Check(data, Limits{}); !errors.Is(err, want[prefix]) {
			t.Errorf("%s: Check = %v, want %v", name, err, want[prefix])
		}
		checkWithin(t, data)
	}
}

// checkSeedCorpus writes seeds into the fuzz corpus directory dir under
// -update, and checks that dir holds exactly them, each as written.
func checkSeedCorpus(t *testing.T, dir string, seeds map[string][]byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, data := range seeds {
			if err := os.WriteFile(filepath.Join(dir, name), fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(seeds) {
		t.Fatalf("%d seeds on disk, %d expected (go test -run %s -update)", len(entries), len(seeds), t.Name())
	}
	for _, e := range entries {
		data, ok := seeds[e.Name()]
		if !ok {
			t.Fatalf("unknown seed %s", e.Name())
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data) {
			t.Errorf("%s is stale (go test -run %s -update)", e.Name(), t.Name())
		}
	}
}

// TestWithin: measured under loose limits, valid input is found within
// them and not within tight ones, each bound on its own, as Check finds.
func TestWithin(t *testing.T) {
	for name, data := range map[string][]byte{"xml": []byte(sampleXML), "binary": sampleBinary()} {
		st, err := Measure(data, Limits{})
		if err != nil {
			t.Fatalf("%s: Measure: %v", name, err)
		}
		for _, tt := range []struct {
			lim  Limits
			want error
		}{
			{Limits{}, nil},
			{Limits{MaxSize: len(data) - 1}, ErrTooLarge},
			{Limits{MaxDepth: 1}, ErrTooDeep},
			{Limits{MaxValues: 2}, ErrTooMany},
		} {
			if got := st.Within(tt.lim); !errors.Is(got, tt.want) || (tt.want == nil) != (got == nil) {
				t.Errorf("%s: Within(%+v) = %v, want %v", name, tt.lim, got, tt.want)
			}
			if got := Check(data, tt.lim); !errors.Is(got, tt.want) || (tt.want == nil) != (got == nil) {
				t.Errorf("%s: Check(%+v) = %v, want %v", name, tt.lim, got, tt.want)
			}
		}
	}
}
