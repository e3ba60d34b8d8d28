// Command funclen enforces the style rule that no function is longer than
// 80 lines: it parses every .go file under the given directories (default
// "."; test files included; directories named testdata or starting with
// "." skipped) and fails listing each function or method whose declaration,
// from its func keyword to its closing brace, spans more than 80 lines.
//
//	go run ./internal/tools/funclen [dir ...]
//
// There are no exceptions. It exits 1 on any finding, 2 on a parse error.
package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// maxLines is the longest a function may be.
const maxLines = 80

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// long is a function over maxLines: its name ("path/file.go:Recv.Name" or
// "path/file.go:Name") and its length.
type long struct {
	name  string
	lines int
}

// run scans dirs and reports to out; it returns the exit code.
func run(dirs []string, out, errw io.Writer) int {
	if len(dirs) == 0 {
		dirs = []string{"."}
	}
	var found []long
	for _, dir := range dirs {
		f, err := scan(dir)
		if err != nil {
			fmt.Fprintln(errw, "funclen:", err)
			return 2
		}
		found = append(found, f...)
	}
	return report(found, out)
}

// report prints the long functions, sorted, and returns the exit code.
func report(found []long, out io.Writer) int {
	sort.Slice(found, func(i, j int) bool { return found[i].name < found[j].name })
	for _, f := range found {
		fmt.Fprintf(out, "%s is %d lines long (at most %d): split it\n", f.name, f.lines, maxLines)
	}
	if len(found) > 0 {
		return 1
	}
	return 0
}

// scan returns the long functions of the .go files under root, named by
// their path relative to root.
func scan(root string) ([]long, error) {
	var found []long
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != root && (n == "testdata" || strings.HasPrefix(n, ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		file, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		found = append(found, longFuncs(fset, file, filepath.ToSlash(rel))...)
		return nil
	})
	return found, err
}

// longFuncs returns the functions and methods of file over maxLines.
func longFuncs(fset *token.FileSet, file *ast.File, rel string) []long {
	var found []long
	for _, decl := range file.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok {
			continue
		}
		lines := fset.Position(fn.End()).Line - fset.Position(fn.Pos()).Line + 1
		if lines > maxLines {
			found = append(found, long{name: rel + ":" + funcName(fn), lines: lines})
		}
	}
	return found
}

// funcName is Name, or Recv.Name for a method (pointer and type
// parameters dropped).
func funcName(fn *ast.FuncDecl) string {
	if fn.Recv == nil || len(fn.Recv.List) == 0 {
		return fn.Name.Name
	}
	t := fn.Recv.List[0].Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	switch x := t.(type) {
	case *ast.IndexExpr:
		t = x.X
	case *ast.IndexListExpr:
		t = x.X
	}
	if id, ok := t.(*ast.Ident); ok {
		return id.Name + "." + fn.Name.Name
	}
	return fn.Name.Name
}
