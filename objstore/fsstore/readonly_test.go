package fsstore

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/objstoretest"
)

// tree describes every entry under dir (directories too) with its size and
// modification time, so that any creation, removal or write shows.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		out = append(out, fmt.Sprintf("%s %v %d %d", rel, fi.Mode(), fi.Size(), fi.ModTime().UnixNano()))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// writes tries every write on s and fails the test unless each is refused
// with ErrReadOnly.
func writes(t *testing.T, s *Store) {
	t.Helper()
	refused := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, objstore.ErrReadOnly) {
			t.Errorf("%s on a read-only store = %v, want ErrReadOnly", what, err)
		}
	}
	_, err := s.Put(ctx, "k", []byte("v"), nil)
	refused("Put", err)
	_, err = s.Put(ctx, "new", []byte("v"), &objstore.PutOptions{IfNoneMatch: true})
	refused("create-only Put", err)
	refused("Delete", s.Delete(ctx, "k", nil))
	refused("DeleteMany", s.DeleteMany(ctx, []string{"k", "j"}))
	_, err = s.Upload(ctx, "big", bytes.NewReader(make([]byte, objstore.MinPartSize+1)), &objstore.UploadOptions{PartSize: objstore.MinPartSize})
	refused("Upload", err)
	refused("AbortUpload", s.AbortUpload(ctx, "big", "0123456789abcdef0123456789abcdef"))
}

// TestReadOnlyMissingDirCreatesNothing: a read-only open of a directory that
// does not exist is an empty store and creates nothing, not even the
// directory.
func TestReadOnlyMissingDirCreatesNothing(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "no", "such", "store")
	s, err := Open(dir, &Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("Open read-only: %v", err)
	}
	if _, err := s.Head(ctx, "k"); !errors.Is(err, objstore.ErrNotExist) {
		t.Errorf("Head = %v, want ErrNotExist", err)
	}
	if got, err := objstoretest.ListAll(ctx, s, "", nil); err != nil || len(got) != 0 {
		t.Errorf("List = %v, %v; want nothing", got, err)
	}
	if got, err := objstoretest.ListAllUploads(ctx, s, ""); err != nil || len(got) != 0 {
		t.Errorf("ListUploads = %v, %v; want nothing", got, err)
	}
	writes(t, s)
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if got := tree(t, parent); !slices.Equal(got, tree(t, parent)) || len(got) != 1 {
		t.Errorf("the parent holds %q after a read-only open, want nothing created", got)
	}
	if _, err := os.Stat(filepath.Join(parent, "no")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("read-only Open created %s", filepath.Join(parent, "no"))
	}
}

// TestReadOnlyExistingStoreWritesNothing: a read-only open of a store with
// objects, a stale temp file and an incomplete upload reads everything and
// changes nothing in its tree (no lock file, no cleanup, no write).
func TestReadOnlyExistingStoreWritesNothing(t *testing.T) {
	dir := t.TempDir()
	rw, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rw.Put(ctx, "k", []byte("v"), nil); err != nil {
		t.Fatal(err)
	}
	rw.Close()
	// Lock files come and go with read-write opens; a read-only one must
	// not need them.
	if err := os.RemoveAll(filepath.Join(dir, "locks")); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, "tmp", "stale.tmp")
	if err := os.WriteFile(stale, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	old := rw.clock().Add(-2 * StaleTempAge)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	before := tree(t, dir)

	s, err := Open(dir, &Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("Open read-only: %v", err)
	}
	if got := mustRead(t, s, "k"); got != "v" {
		t.Errorf("k = %q", got)
	}
	writes(t, s)
	s.Close()
	if after := tree(t, dir); !slices.Equal(before, after) {
		t.Errorf("a read-only open changed the tree:\nbefore %q\nafter  %q", before, after)
	}
}
