package logkeys

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func root(t *testing.T) string {
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		t.Fatalf("no go.mod at %s", dir)
	}
	return dir
}

// documented returns the keys in the first column of the "Log keys" table.
func documented(t *testing.T, dir string) map[string]bool {
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash("docs/operations.md")))
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(b), "\n## Log keys\n")
	if !ok {
		t.Fatal(`docs/operations.md has no "Log keys" section`)
	}
	sec, _, _ = strings.Cut(sec, "\n## ")
	keys := map[string]bool{}
	cell := regexp.MustCompile("`([a-z_]+)`")
	for _, line := range strings.Split(sec, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		first, _, _ := strings.Cut(line[1:], "|")
		for _, m := range cell.FindAllStringSubmatch(first, -1) {
			keys[m[1]] = true
		}
	}
	return keys
}

// logged is a key passed to a logger, and where.
type logged struct{ key, at string }

// keysIn returns the string-literal keys of the log calls in file f: the
// key-value pairs of Debug/Info/Warn/Error (and their Context forms) and
// With, and the keys of slog's attribute constructors. Calls to
// slog.Duration are reported with key "slog.Duration".
func keysIn(fset *token.FileSet, f *ast.File) []logged {
	var out []logged
	add := func(e ast.Expr) {
		if bl, ok := e.(*ast.BasicLit); ok && bl.Kind == token.STRING {
			k, _ := strconv.Unquote(bl.Value)
			out = append(out, logged{k, fset.Position(bl.Pos()).String()})
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		args := call.Args
		if id, ok := sel.X.(*ast.Ident); ok && id.Name == "slog" {
			switch sel.Sel.Name {
			case "Duration":
				out = append(out, logged{"slog.Duration", fset.Position(call.Pos()).String()})
			case "String", "Int", "Int64", "Uint64", "Float64", "Bool", "Time", "Any", "Group":
				if len(args) > 0 {
					add(args[0])
				}
			}
			return true
		}
		switch sel.Sel.Name {
		case "Debug", "Info", "Warn", "Error":
			if len(args) > 0 {
				args = args[1:]
			}
		case "DebugContext", "InfoContext", "WarnContext", "ErrorContext":
			if len(args) > 1 {
				args = args[2:]
			}
		case "With":
		default:
			return true
		}
		for i := 0; i < len(args); i++ {
			if bl, ok := args[i].(*ast.BasicLit); ok && bl.Kind == token.STRING {
				add(bl)
				i++ // skip the value
			}
		}
		return true
	})
	return out
}

func TestOneVocabulary(t *testing.T) {
	dir := root(t)
	vocab := documented(t, dir)
	if len(vocab) < 20 {
		t.Fatalf("the Log keys table lists only %d keys", len(vocab))
	}
	fset := token.NewFileSet()
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != dir && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			return err
		}
		for _, k := range keysIn(fset, f) {
			n++
			switch {
			case k.key == "slog.Duration":
				t.Errorf("%s: slog.Duration logs nanoseconds in JSON; log d.String()", k.at)
			case !vocab[k.key]:
				t.Errorf("%s: log key %q is not in docs/operations.md, \"Log keys\"", k.at, k.key)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 50 {
		t.Fatalf("found only %d log keys: the scan is broken", n)
	}
}

// TestScanCatches shows the scan sees a stray key and a slog.Duration.
func TestScanCatches(t *testing.T) {
	src := `package p
func f(l *slog.Logger) {
	l.InfoContext(ctx, "msg", "session", sid, "err", err)
	l.LogAttrs(ctx, 0, "msg", slog.Duration("delay", d), slog.String("op", op))
}`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "p.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range keysIn(fset, f) {
		got = append(got, k.key)
	}
	if strings.Join(got, " ") != "session err slog.Duration op" {
		t.Fatalf("keys %v", got)
	}
}
