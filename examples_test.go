package omm_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestExamplesUseExportedAPIsOnly: no file under examples/ (tests
// included) imports an internal package of the module; what the examples
// need is exported by the SDK and its test-helper packages.
func TestExamplesUseExportedAPIsOnly(t *testing.T) {
	t.Parallel()
	files := 0
	err := filepath.WalkDir("examples", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		files++
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if p == "github.com/openomm/omm/internal" || strings.HasPrefix(p, "github.com/openomm/omm/internal/") {
				t.Errorf("%s imports %s", path, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 50 {
		t.Fatalf("only %d Go files under examples/: wrong directory?", files)
	}
}
