package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// tree lists every path under root with its kind and content.
func tree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if e.IsDir() {
			out[rel] = "dir"
			return nil
		}
		b, err := os.ReadFile(p)
		out[rel] = "file " + string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestNoStoreCreatesNothing: the sweeper (not only its dry run) at a
// directory that holds no store (missing, empty, or of unrelated files)
// exits 2 and leaves the tree as it was; on main the read-write open
// created the directory and a file store's layout (format, objects/, tmp/,
// uploads/, locks/) before the store was refused.
func TestNoStoreCreatesNothing(t *testing.T) {
	for name, setup := range map[string]func(dir string) string{
		"missing": func(dir string) string { return filepath.Join(dir, "ne") },
		"empty":   func(dir string) string { return dir },
		"unrelated": func(dir string) string {
			if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o644); err != nil {
				t.Fatal(err)
			}
			return dir
		},
	} {
		for _, extra := range [][]string{nil, {"--dry-run"}} {
			parent := t.TempDir()
			target := setup(parent)
			before := tree(t, parent)
			code, _, stderr := runCmd(t, append([]string{"--store", "file://" + target}, extra...), nil)
			if code != exitUsage || !strings.Contains(stderr, "no stowage store at") {
				t.Errorf("%s %v: exit %d, want %d\n%s", name, extra, code, exitUsage, stderr)
			}
			if after := tree(t, parent); !reflect.DeepEqual(before, after) {
				t.Errorf("%s %v: the sweeper changed the tree:\nbefore %v\nafter  %v", name, extra, before, after)
			}
		}
	}
}
