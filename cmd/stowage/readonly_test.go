package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stowage-dev/stowage/internal/testenv"
	"github.com/stowage-dev/stowage/internal/testenv/s3env"
	"github.com/stowage-dev/stowage/objstore/openurl"
)

// readOnlyRuns are the read-only commands, as a user types them.
var readOnlyRuns = [][]string{
	{"fsck"},
	{"fsck", "--deep", "--json"},
	{"inspect", "sessions"},
	{"inspect", "head", "s1"},
	{"inspect", "log", "s1", "--json"},
	{"inspect", "graph", "s1"},
	{"inspect", "refs", "s1"},
}

// snapshot lists every object under the store (key, size, ETag).
func snapshot(t *testing.T, storeURL string) []string {
	t.Helper()
	s, err := openurl.Open(context.Background(), storeURL, &openurl.Options{ReadOnly: true, SkipProbe: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var out []string
	for o, err := range s.List(context.Background(), "", nil) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s %d %s", o.Key, o.Size, o.ETag))
	}
	return out
}

// TestReadOnlyCommandsWriteNothing runs fsck and inspect against a store on
// each S3 server and on a file store: the objects are the same afterwards
// (on main they opened read-write: probe PUTs on S3, lock files on file:).
func TestReadOnlyCommandsWriteNothing(t *testing.T) {
	check := func(t *testing.T, storeURL string) {
		before := snapshot(t, storeURL)
		for _, args := range readOnlyRuns {
			if code, _, stderr := stowageCmd(t, map[string]string{"STOWAGE_STORE": storeURL}, args...); code != exitOK {
				t.Fatalf("%q: exit %d: %s", args, code, stderr)
			}
		}
		if after := snapshot(t, storeURL); !slices.Equal(before, after) {
			t.Fatalf("read-only commands changed the store:\nbefore %q\nafter  %q", before, after)
		}
	}
	t.Run("file", func(t *testing.T) {
		dir := t.TempDir()
		storeURL := "file://" + dir
		seedFixture(t, storeURL)
		before := tree(t, dir)
		check(t, storeURL)
		if after := tree(t, dir); !slices.Equal(before, after) {
			t.Fatalf("read-only commands changed the directory tree:\nbefore %q\nafter  %q", before, after)
		}
	})
	testenv.ForEachServer(t, func(t *testing.T, srv testenv.Server) {
		s3env.Env(t, srv)
		prefix := strings.TrimSuffix(testenv.UniquePrefix(t), "/")
		direct := s3env.URL(srv, "s3store", prefix)
		seedFixture(t, direct)
		// The commands talk to the server through a proxy that records
		// every request that is not a GET or HEAD: none may be sent.
		watch := testenv.WatchWrites(t, srv)
		watched := srv
		watched.Endpoint = watch.Endpoint
		check(t, s3env.URL(watched, "s3store", prefix))
		if w := watch.Writes(5); len(w) > 0 {
			t.Fatalf("read-only commands sent writes: %q", w)
		}
	})
}

// TestReadOnlyCommandsCreateNothing: fsck and inspect of a file: path that
// does not exist create nothing there (on main they created a store).
func TestReadOnlyCommandsCreateNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "typo")
	for _, args := range [][]string{{"fsck"}, {"inspect", "sessions"}} {
		stowageCmd(t, map[string]string{"STOWAGE_STORE": "file://" + dir}, args...)
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Fatalf("%q created %s: %v", args, dir, err)
		}
	}
}

// tree lists every file and directory under dir with its size and
// modification time: lock files and directories included.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		out = append(out, fmt.Sprintf("%s %d %d", path, info.Size(), info.ModTime().UnixNano()))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestNoStoreAtURL: fsck and inspect of a target that holds no stowage
// store (a typo in the prefix or path) exit 2 with "no stowage store at
// URL", on a file store and on each S3 server; on main fsck said "clean"
// and exited 0.
func TestNoStoreAtURL(t *testing.T) {
	check := func(t *testing.T, storeURL string) {
		for _, args := range [][]string{{"fsck"}, {"fsck", "--json"}, {"inspect", "sessions"}} {
			code, out, stderr := stowageCmd(t, map[string]string{"STOWAGE_STORE": storeURL}, args...)
			if code != exitUsage || !strings.Contains(out+stderr, "no stowage store at") {
				t.Fatalf("%q at %s: exit %d\n%s%s", args, storeURL, code, out, stderr)
			}
		}
	}
	t.Run("file", func(t *testing.T) {
		check(t, "file://"+t.TempDir())
		check(t, "file://"+filepath.Join(t.TempDir(), "typo"))
	})
	testenv.ForEachServer(t, func(t *testing.T, srv testenv.Server) {
		s3env.Env(t, srv)
		q := url.Values{"endpoint": {srv.Endpoint}, "region": {srv.Region}, "quirks": {srv.Name}}
		storeURL := "s3://" + srv.Bucket + "/" + strings.TrimSuffix(testenv.UniquePrefix(t), "/")
		seedFixture(t, storeURL+"?"+q.Encode())
		check(t, storeURL+"-typo?"+q.Encode())
	})
}
