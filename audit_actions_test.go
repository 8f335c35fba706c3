package omm

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// auditActionLike matches a string that reads as an audit action: dotted
// lowercase words ("device.lock") or a family prefix ending in a dot
// ("device.state."). Form URLs ("/admin/...") and device actions ("lock")
// do not match.
var auditActionLike = regexp.MustCompile(`^[a-z][a-z0-9_-]*\.([a-z0-9_-]+\.?)*$`)

// auditLiteralChecker finds audit actions written as string literals
// where the project rule wants a named constant.
type auditLiteralChecker struct {
	fset *token.FileSet
	// calls maps a function or method name to the indexes of its string
	// parameters named "action": the helpers that build audit entries.
	calls map[string][]int
	// keyed counts the Action fields looked at, so a walk that saw no code
	// cannot pass unnoticed.
	keyed int
	found []string
}

// learn records the functions of f taking a string parameter named action.
func (c *auditLiteralChecker) learn(f *ast.File) {
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok {
			continue
		}
		i := 0
		for _, p := range fn.Type.Params.List {
			n := max(len(p.Names), 1)
			if t, ok := p.Type.(*ast.Ident); ok && t.Name == "string" {
				for j, name := range p.Names {
					if name.Name == "action" && !slices.Contains(c.calls[fn.Name.Name], i+j) {
						c.calls[fn.Name.Name] = append(c.calls[fn.Name.Name], i+j)
					}
				}
			}
			i += n
		}
	}
}

// check reports the audit-action literals f hands to an Action field, an
// action variable or an audit helper's action parameter.
func (c *auditLiteralChecker) check(f *ast.File) {
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.KeyValueExpr:
			if k, ok := n.Key.(*ast.Ident); ok && (k.Name == "Action" || k.Name == "action") {
				c.keyed++
				c.literal(n.Value, "field "+k.Name)
			}
		case *ast.AssignStmt:
			for i, l := range n.Lhs {
				if i >= len(n.Rhs) {
					break
				}
				if id, ok := l.(*ast.Ident); ok && id.Name == "action" {
					c.literal(n.Rhs[i], "variable action")
				}
				if sel, ok := l.(*ast.SelectorExpr); ok && sel.Sel.Name == "Action" {
					c.literal(n.Rhs[i], "field Action")
				}
			}
		case *ast.ValueSpec:
			for i, id := range n.Names {
				if id.Name == "action" && i < len(n.Values) {
					c.literal(n.Values[i], "variable action")
				}
			}
		case *ast.CallExpr:
			var name string
			switch fn := n.Fun.(type) {
			case *ast.Ident:
				name = fn.Name
			case *ast.SelectorExpr:
				name = fn.Sel.Name
			}
			for _, i := range c.calls[name] {
				if i < len(n.Args) {
					c.literal(n.Args[i], "argument action of "+name)
				}
			}
		}
		return true
	})
}

// literal records e when it is, or starts with, a string literal that
// reads as an audit action ("device.state." + string(to) counts).
func (c *auditLiteralChecker) literal(e ast.Expr, where string) {
	for {
		switch x := e.(type) {
		case *ast.ParenExpr:
			e = x.X
			continue
		case *ast.BinaryExpr:
			if x.Op == token.ADD {
				e = x.X
				continue
			}
		case *ast.BasicLit:
			if s, err := strconv.Unquote(x.Value); err == nil && x.Kind == token.STRING && auditActionLike.MatchString(s) {
				c.found = append(c.found, c.fset.Position(x.Pos()).String()+": "+where+" is the literal "+x.Value)
			}
		}
		return
	}
}

// TestAuditActionsAreNamedConstants enforces the rule "named constants,
// not bare strings, for audit actions": no non-test file of the module
// gives an audit action as a string literal. Test files, and test-support
// packages (directories ending in "test", such as storage/storagetest),
// may keep literals.
func TestAuditActionsAreNamedConstants(t *testing.T) {
	c := &auditLiteralChecker{fset: token.NewFileSet(), calls: map[string][]int{}}
	var files []*ast.File
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != "." && (name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") ||
				strings.HasPrefix(name, "_") || strings.HasSuffix(name, "test")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(c.fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		files = append(files, f)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		c.learn(f)
	}
	for _, f := range files {
		c.check(f)
	}
	// The walk must have seen the audit code, or the test proves nothing.
	for _, fn := range []string{"entry", "sessionEntry", "queue", "advance"} {
		if len(c.calls[fn]) == 0 {
			t.Errorf("no audit helper %s found; the walk missed the module's code", fn)
		}
	}
	if c.keyed < 20 {
		t.Errorf("only %d Action fields seen in %d files; the walk missed the module's code", c.keyed, len(files))
	}
	for _, f := range c.found {
		t.Errorf("%s; use a named ActionXxx constant of the package that owns the action", f)
	}
}

// TestAuditLiteralCheckerFindsLiterals shows the checker flags each way a
// literal action reaches an audit entry and leaves constants and other
// strings alone.
func TestAuditLiteralCheckerFindsLiterals(t *testing.T) {
	const src = `package p

const ActionLock = "device.lock"

type entry struct{ Action string }
type form struct{ Action string }

func (s *S) audit(org, actor, action string, n int) entry { return entry{Action: action} }

func f(s *S, to string) {
	_ = entry{Action: "device.lock"}                 // flagged
	_ = entry{Action: "device.state." + to}          // flagged
	_ = entry{Action: ActionLock}                    // constant
	_ = form{Action: "/admin/devices/lock"}          // a URL
	_ = entry{Action: "lock"}                        // not dotted
	action := "catalog.install.request"              // flagged
	e := entry{}; e.Action = "auth.signout"          // flagged
	var action2 = "x.y"                              // not named action
	s.audit("org", "me", "auth.signin.success", 1)   // flagged
	s.audit("org", "auth.signin.success", ActionLock, 1) // actor, not action
	_, _, _ = action, action2, e
}
`
	c := &auditLiteralChecker{fset: token.NewFileSet(), calls: map[string][]int{}}
	f, err := parser.ParseFile(c.fset, "p.go", src, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	c.learn(f)
	c.check(f)
	var lines []int
	for _, s := range c.found {
		// "p.go:LINE:COL: ..."
		n, _ := strconv.Atoi(strings.Split(s, ":")[1])
		lines = append(lines, n)
	}
	if want := []int{11, 12, 16, 17, 19}; !slices.Equal(lines, want) {
		t.Errorf("flagged lines %v, want %v:\n%s", lines, want, strings.Join(c.found, "\n"))
	}
}
