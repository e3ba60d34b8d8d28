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

func check(t *testing.T, dir string) (int, string) {
	t.Helper()
	var out, errw bytes.Buffer
	code := run([]string{dir}, &out, &errw)
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
	if code, out := check(t, dir); code != 0 || out != "" {
		t.Fatalf("functions of %d lines: exit %d\n%s", maxLines, code, out)
	}
	writeFile(t, dir, "sub/long_test.go", maxLines+1)
	code, out := check(t, dir)
	want := fmt.Sprintf("sub/long_test.go:Long is %d lines long (at most %d): split it\nsub/long_test.go:T.M is %[1]d lines long (at most %[2]d): split it\n", maxLines+1, maxLines)
	if code != 1 || out != want {
		t.Fatalf("exit %d, output:\n%s\nwant exit 1, output:\n%s", code, out, want)
	}
}

// TestParseError: a file that does not parse is exit 2.
func TestParseError(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bad.go"), []byte("package p\nfunc {"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out := check(t, dir); code != 2 {
		t.Fatalf("exit %d, want 2\n%s", code, out)
	}
}
