package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeFile writes a Go file of package p under dir with a function of n
// lines (func line and closing brace included) and a method of n lines.
func writeFile(t *testing.T, dir, name string, n int) {
	t.Helper()
	var b strings.Builder
	b.WriteString("package p\n\ntype T struct{}\n\nfunc Long() {\n")
	for range n - 2 {
		b.WriteString("\t_ = 1\n")
	}
	b.WriteString("}\n\nfunc (*T) M() {\n")
	for range n - 2 {
		b.WriteString("\t_ = 1\n")
	}
	b.WriteString("}\n")
	if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func check(t *testing.T, dir string, allow map[string]bool) (int, string) {
	t.Helper()
	var out, errw bytes.Buffer
	code := run([]string{dir}, allow, &out, &errw)
	return code, out.String() + errw.String()
}

// TestLimit: 80 lines pass; 81 lines fail, named by file, receiver and
// function, test files and subdirectories included; testdata and hidden
// directories are skipped.
func TestLimit(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "ok.go", maxLines)
	writeFile(t, dir, "testdata/skip.go", 200)
	writeFile(t, dir, ".hidden/skip.go", 200)
	if code, out := check(t, dir, nil); code != 0 || out != "" {
		t.Fatalf("functions of %d lines: exit %d\n%s", maxLines, code, out)
	}
	writeFile(t, dir, "sub/long_test.go", maxLines+1)
	code, out := check(t, dir, nil)
	want := fmt.Sprintf("sub/long_test.go:Long is %d lines long (at most %d): split it\nsub/long_test.go:T.M is %[1]d lines long (at most %[2]d): split it\n", maxLines+1, maxLines)
	if code != 1 || out != want {
		t.Fatalf("exit %d, output:\n%s\nwant exit 1, output:\n%s", code, out, want)
	}
}

// TestAllowlist: an allowed function passes; an entry that names no long
// function fails, so the list only shrinks.
func TestAllowlist(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "long.go", maxLines+5)
	allow := map[string]bool{"long.go:Long": true, "long.go:T.M": true}
	if code, out := check(t, dir, allow); code != 0 {
		t.Fatalf("allowed functions: exit %d\n%s", code, out)
	}
	allow["gone.go:F"] = true
	if code, out := check(t, dir, allow); code != 1 || !strings.Contains(out, "gone.go:F is allowed") {
		t.Fatalf("stale entry: exit %d\n%s", code, out)
	}
}

// TestParseError: a file that does not parse is exit 2.
func TestParseError(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bad.go"), []byte("package p\nfunc {"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out := check(t, dir, nil); code != 2 {
		t.Fatalf("exit %d, want 2\n%s", code, out)
	}
}
