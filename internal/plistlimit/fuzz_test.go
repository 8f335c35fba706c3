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
	})
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
	dir := filepath.Join("testdata", "fuzz", "FuzzUnmarshal")
	if *update {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, data := range seeds() {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := map[string]error{"valid": nil, "deep": ErrTooDeep, "many": ErrTooMany, "malformed": ErrMalformed}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(seeds()) {
		t.Fatalf("%d seeds on disk, %d expected (go test -run TestFuzzSeeds -update)", len(entries), len(seeds()))
	}
	for _, e := range entries {
		data, ok := seeds()[e.Name()]
		if !ok {
			t.Fatalf("unknown seed %s", e.Name())
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data) {
			t.Errorf("%s is stale (go test -run TestFuzzSeeds -update)", e.Name())
		}
		prefix, _, _ := strings.Cut(e.Name(), "-")
		if err := Check(data, Limits{}); !errors.Is(err, want[prefix]) {
			t.Errorf("%s: Check = %v, want %v", e.Name(), err, want[prefix])
		}
	}
}
