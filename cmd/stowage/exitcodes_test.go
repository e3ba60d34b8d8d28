package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNotTransientExits2: what retrying never fixes exits 2, not 1 ("retry
// later"), for every inspect subject and attach action alike: a missing
// session (the same for head, log, refs and graph; on main 1, 1, 0 with an
// empty table, and 1), a leaf that is not a node (on main 0: "0 nodes"), an
// invalid id, an attachment the session does not hold, a range past the
// end, an operation the store does not support. No message names a file
// path of the store.
func TestNotTransientExits2(t *testing.T) {
	storeURL, id := inspectFixture(t)
	dir := strings.TrimPrefix(storeURL, "file://")
	env := map[string]string{"STOWAGE_STORE": storeURL}
	for _, args := range [][]string{
		{"inspect", "head", "nosuch"},
		{"inspect", "log", "nosuch"},
		{"inspect", "log", "nosuch", "--json"},
		{"inspect", "refs", "nosuch"},
		{"inspect", "refs", "nosuch", "--json"},
		{"inspect", "graph", "nosuch"},
		{"inspect", "graph", "s1", "--leaf", "nonode"},
		{"inspect", "graph", "s1", "--active", "--leaf", "nonode"},
		{"inspect", "graph", "s1", "--leaf", "nonode", "--json"},
		{"inspect", "head", "../x"},
		{"inspect", "log", "../x"},
		{"inspect", "cat", "nosuch", id},
		{"inspect", "cat", "s1", strings.Repeat("0", 64)},
		{"inspect", "cat", "s1", id, "--range", "200:1"},
		{"attach", "--session", "s1", "grant-put", "--sha256", id, "--size", "100"},
		{"attach", "--session", "s1", "grant-get", "--id", id},
		{"attach", "--session", "../x", "grant-get", "--id", id},
	} {
		code, out, stderr := stowageCmd(t, env, args...)
		if code != exitUsage {
			t.Errorf("%q: exit %d, want %d\n%s%s", args, code, exitUsage, out, stderr)
		}
		if strings.Contains(stderr, dir) || strings.Contains(stderr, ".o:") {
			t.Errorf("%q names a file of the store: %s", args, stderr)
		}
	}
	// The same outcome, in the same words, for each subject.
	for _, what := range []string{"head", "log", "refs", "graph"} {
		if _, _, stderr := stowageCmd(t, env, "inspect", what, "nosuch"); !strings.Contains(stderr, "session nosuch: no such session") {
			t.Errorf("inspect %s nosuch: %s", what, stderr)
		}
	}
}

// TestAttachOnAStoreThatCannotPresignCreatesNothing: attach on a file store
// is refused before the store is opened for writing, so the directory a
// mistyped URL names is not created (on main it was, with a store in it).
func TestAttachOnAStoreThatCannotPresignCreatesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nonexist")
	code, _, stderr := stowageCmd(t, nil, "attach", "--store", "file://"+dir, "--session", "ada",
		"grant-put", "--sha256", strings.Repeat("ab", 32), "--size", "13")
	if code != exitUsage || !strings.Contains(stderr, "presign") {
		t.Errorf("exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("attach created %s: %v", dir, err)
	}
}

// TestFsckCorruptFileObjectIsAProblem: a file store's head whose object
// file is damaged (its content, or its trailer) is a problem found, exit 3,
// reported as on S3 ("head does not decode"), not a failed check (on main:
// exit 1, "retry later", and no problem list).
func TestFsckCorruptFileObjectIsAProblem(t *testing.T) {
	for name, at := range map[string]func(size int64) int64{
		"content": func(int64) int64 { return 10 },
		"trailer": func(size int64) int64 { return size - 40 },
	} {
		t.Run(name, func(t *testing.T) {
			storeURL, _ := inspectFixture(t)
			file := filepath.Join(strings.TrimPrefix(storeURL, "file://"), "objects", "sessions%2f.d", "s1%2f.d", "head.o")
			f, err := os.OpenFile(file, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			st, err := f.Stat()
			if err == nil {
				_, err = f.WriteAt([]byte("XXXXXXX"), at(st.Size()))
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				t.Fatal(err)
			}
			code, out, stderr := stowageCmd(t, nil, "fsck", "--store", storeURL)
			if code != exitProblems || !strings.Contains(out, "1 PROBLEMS") || !strings.Contains(out, "head does not decode") {
				t.Fatalf("exit %d\n%s%s", code, out, stderr)
			}
		})
	}
}
