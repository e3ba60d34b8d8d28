package fsstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/objstoretest"
)

var ctx = context.Background()

// mustRead returns the content of the object under key.
func mustRead(t *testing.T, s *Store, key string) string {
	t.Helper()
	b, _ := objstoretest.MustGet(t, s, key)
	return string(b)
}

// files returns the regular files under dir, relative to it.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, path)
			out = append(out, rel)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSplitKeyAndNames(t *testing.T) {
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 1))
	alphabet := []string{"a", "z", "A", "0", "/", ".", "%", "-", " ", "é", "日", "~"}
	for i := 0; i < 2000; i++ {
		var b strings.Builder
		for n := 1 + rng.IntN(objstore.MaxKeyLen); b.Len() < n; {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		key := b.String()[:min(b.Len(), objstore.MaxKeyLen)]
		dirs, last := splitKey(key)
		if strings.Join(dirs, "")+last != key || last == "" {
			t.Fatalf("seed %d: split %q = %q + %q", seed, key, dirs, last)
		}
		path, _ := objectPath("/r/objects", key)
		if len(path) > 4095-maxRootLen+len("/r") {
			t.Fatalf("seed %d: path of %d bytes for %q", seed, len(path), key)
		}
		for j, p := range append(dirs, last) {
			suffix := dirSuffix
			if j == len(dirs) {
				suffix = fileSuffix
			}
			name := escapePiece(p) + suffix
			got, isDir, ok := decodeName(name)
			if !ok || got != p || isDir != (j < len(dirs)) || len(name) > 255 || strings.ContainsAny(name, "/\\") {
				t.Fatalf("seed %d: piece %q -> name %q -> %q %v %v", seed, p, name, got, isDir, ok)
			}
		}
	}
	for _, bad := range []string{"x", ".o", "%2.o", "%zz.o", "%61.o", "A.o", "a/b.d"} {
		if _, _, ok := decodeName(bad); ok {
			t.Errorf("decodeName(%q) accepted a name the layout never makes", bad)
		}
	}
}

// TestListMatchesModel puts random keys built to stress the layout (slashes,
// long pieces, bytes around '/' and '%') and checks random listings against
// a model computed from the sorted keys.
func TestListMatchesModel(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	s := openTemp(t, nil)
	atoms := []string{"a", "b", "/", ".", "!", "0", "%2f", "\u00e9", strings.Repeat("a/", maxSlashDepth/2+1),
		strings.Repeat("x", maxPiece-1), strings.Repeat("y", maxPiece+3)}
	randKey := func() string {
		var b strings.Builder
		for n := 1 + rng.IntN(6); n > 0; n-- {
			b.WriteString(atoms[rng.IntN(len(atoms))])
		}
		return b.String()
	}
	set := map[string]bool{}
	for len(set) < 150 {
		if k := randKey(); objstore.ValidateKey(k) == nil {
			set[k] = true
		}
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range set {
			if !yield(k) {
				return
			}
		}
	})
	for _, k := range keys {
		objstoretest.MustPut(t, s, k, []byte(k), nil)
	}
	model := func(prefix, startAfter, delim string) []string {
		var out []string
		for _, k := range keys {
			if !strings.HasPrefix(k, prefix) || k <= startAfter {
				continue
			}
			e := k
			if cp, ok := objstore.RollUp(k, prefix, delim); ok {
				e = cp
			}
			if e > startAfter && (len(out) == 0 || out[len(out)-1] != e) {
				out = append(out, e)
			}
		}
		return out
	}
	for i := 0; i < 300; i++ {
		var prefix, startAfter, delim string
		if rng.IntN(3) > 0 {
			k := keys[rng.IntN(len(keys))]
			prefix = k[:rng.IntN(len(k)+1)]
			for objstore.ValidatePrefix(prefix) != nil {
				prefix = prefix[:len(prefix)-1]
			}
		}
		switch rng.IntN(3) {
		case 0:
			startAfter = randKey()
		case 1:
			k := keys[rng.IntN(len(keys))]
			startAfter = k[:len(k)-rng.IntN(min(len(k), 3))]
		}
		if rng.IntN(2) == 0 {
			delim = []string{"/", "a", "//", "x"}[rng.IntN(4)]
		}
		opts := &objstore.ListOptions{StartAfter: startAfter, Delimiter: delim}
		if got, want := objstoretest.ListKeys(t, s, prefix, opts), model(prefix, startAfter, delim); !slices.Equal(got, want) {
			t.Fatalf("seed %d: list %q after %q by %q:\n got %q\nwant %q", seed, prefix, startAfter, delim, got, want)
		}
	}
}

func TestListReadsOnlyPrefixDirectories(t *testing.T) {
	s := openTemp(t, nil)
	for _, k := range []string{"sessions/s1/head", "sessions/s1/seg/1", "sessions/s2/head", "data/x", "top"} {
		objstoretest.MustPut(t, s, k, []byte(k), nil)
	}
	var read []string
	readDir = func(name string) ([]os.DirEntry, error) {
		rel, _ := filepath.Rel(s.objects, name)
		read = append(read, rel)
		return os.ReadDir(name)
	}
	t.Cleanup(func() { readDir = os.ReadDir })
	if got := objstoretest.ListKeys(t, s, "sessions/s1/", nil); !slices.Equal(got, []string{"sessions/s1/head", "sessions/s1/seg/1"}) {
		t.Fatalf("list = %q", got)
	}
	want := []string{"sessions%2f.d/s1%2f.d", "sessions%2f.d/s1%2f.d/seg%2f.d"}
	if !slices.Equal(read, want) {
		t.Fatalf("directories read: %q, want %q", read, want)
	}
}

func TestKeysStayInsideAndDistinct(t *testing.T) {
	parent := t.TempDir()
	s, err := Open(filepath.Join(parent, "store"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	keys := []string{"a b", "dir", "dir/x", "..x", ".hidden", "a..b", "A", "a", "日本", "%2f", "x.o", "x.d", "x%2f.d/y",
		strings.Repeat("a/", objstore.MaxKeyLen/2-1) + "aa", strings.Repeat("é", objstore.MaxKeyLen/2)}
	for _, k := range []string{"../x", "a/../../x", "/x"} {
		if _, err := s.Put(ctx, k, nil, nil); !errors.Is(err, objstore.ErrInvalidKey) {
			t.Fatalf("put %q: %v", k, err)
		}
	}
	for _, k := range keys {
		objstoretest.MustPut(t, s, k, []byte("body of "+k), nil)
	}
	for _, k := range keys {
		if got := mustRead(t, s, k); got != "body of "+k {
			t.Errorf("%q holds %q", k, got)
		}
	}
	if ents, _ := os.ReadDir(parent); len(ents) != 1 {
		t.Fatalf("store wrote outside its directory: %v", ents)
	}
	if got := objstoretest.ListKeys(t, s, "", nil); !slices.Equal(got, slices.Sorted(slices.Values(keys))) {
		t.Fatalf("list = %q", got)
	}
	for _, k := range keys {
		if err := s.Delete(ctx, k, nil); err != nil {
			t.Fatal(err)
		}
	}
	// Deletes prune the directories they empty.
	if ents, err := os.ReadDir(s.objects); err != nil || len(ents) != 0 {
		t.Fatalf("objects/ after deleting everything: %v %v", ents, err)
	}
}

func TestReopenKeepsObjects(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	put := objstoretest.MustPut(t, s, "k", []byte("durable"), &objstore.PutOptions{ContentType: "text/plain", Metadata: map[string]string{"m": "v"}})
	s.Close()
	if _, err := s.Put(ctx, "k", nil, nil); !errors.Is(err, objstore.ErrClosed) {
		t.Fatalf("put after close: %v", err)
	}
	s2, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	head, err := s2.Head(ctx, "k")
	if err != nil || head.ETag != put.ETag || head.ContentType != "text/plain" || head.Metadata["m"] != "v" || !head.ModTime.Equal(put.ModTime) {
		t.Fatalf("after reopen: %+v %v, put %+v", head, err, put)
	}
	if err := os.WriteFile(filepath.Join(dir, "format"), []byte("something else\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, nil); err == nil {
		t.Fatal("opened a directory with a foreign format marker")
	}
}

func TestETagsAreUniquePerWrite(t *testing.T) {
	s := openTemp(t, nil)
	a := objstoretest.MustPut(t, s, "k", []byte("same"), nil)
	b := objstoretest.MustPut(t, s, "k", []byte("same"), nil)
	if a.ETag == b.ETag {
		t.Fatalf("identical writes share etag %q", a.ETag)
	}
	if _, err := s.Put(ctx, "k", []byte("same"), &objstore.PutOptions{IfMatch: a.ETag}); !errors.Is(err, objstore.ErrPreconditionFailed) {
		t.Fatalf("ABA: CAS on the first write's etag: %v", err)
	}
}

func TestCorruptionIsDetected(t *testing.T) {
	s := openTemp(t, nil)
	objstoretest.MustPut(t, s, "k", []byte("0123456789"), nil)
	path, _ := objectPath(s.objects, "k")
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("X"), 3) // flip content
	f.Close()
	rc, _, err := s.Get(ctx, "k", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(rc)
	rc.Close()
	if !errors.Is(err, objstore.ErrChecksum) {
		t.Fatalf("read of corrupt content: %v", err)
	}
	if err := os.Truncate(path, 20); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Head(ctx, "k"); !errors.Is(err, objstore.ErrChecksum) {
		t.Fatalf("head of truncated file: %v", err)
	}
	var listErr error
	for _, err := range s.List(ctx, "", nil) {
		listErr = err
	}
	if !errors.Is(listErr, objstore.ErrChecksum) {
		t.Fatalf("list of truncated file: %v", listErr)
	}
}

func TestStaleTempFilesAreInvisibleAndCleaned(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	objstoretest.MustPut(t, s, "k", []byte("v"), nil)
	s.Close()
	old := time.Now().Add(-2 * StaleTempAge)
	mk := func(path string, mtime time.Time) {
		if err := os.WriteFile(path, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	oldTmp, newTmp := filepath.Join(dir, "tmp", "old.tmp"), filepath.Join(dir, "tmp", "new.tmp")
	orphan := filepath.Join(dir, "uploads", strings.Repeat("ab", 16)+dataSuffix)
	mk(oldTmp, old)
	mk(newTmp, time.Now())
	mk(orphan, old)
	s, err = Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for path, want := range map[string]bool{oldTmp: false, newTmp: true, orphan: false} {
		if _, err := os.Stat(path); (err == nil) != want {
			t.Errorf("%s exists = %v, want %v", path, err == nil, want)
		}
	}
	if got := objstoretest.ListKeys(t, s, "", nil); !slices.Equal(got, []string{"k"}) {
		t.Fatalf("list = %q", got)
	}
}

func TestClockAndSetModTime(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	s := openTemp(t, &Options{Clock: func() time.Time { return t0 }})
	put := objstoretest.MustPut(t, s, "k", []byte("v"), nil)
	if !put.ModTime.Equal(t0) {
		t.Fatalf("ModTime %v, want the clock's %v", put.ModTime, t0)
	}
	old := t0.Add(-48 * time.Hour)
	if err := s.SetModTime("k", old); err != nil {
		t.Fatal(err)
	}
	for info, err := range s.List(ctx, "", nil) {
		if err != nil || !info.ModTime.Equal(old) || info.ETag != put.ETag {
			t.Fatalf("listed %+v %v", info, err)
		}
	}
	if mustRead(t, s, "k") != "v" {
		t.Fatal("content changed")
	}
	if err := s.SetModTime("missing", old); !errors.Is(err, objstore.ErrNotExist) {
		t.Fatalf("missing: %v", err)
	}
}

func TestUploadFilesAndAbort(t *testing.T) {
	s := openTemp(t, nil)
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := s.Upload(ctx, "up", pr, nil)
		done <- err
	}()
	if _, err := pw.Write(make([]byte, copyBufferSize+1)); err != nil { // one chunk is on disk
		t.Fatal(err)
	}
	ups, err := objstoretest.ListAllUploads(ctx, s, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(ups) != 1 || ups[0].Key != "up" {
		t.Fatalf("uploads = %+v", ups)
	}
	if got := files(t, s.uploadsDir); len(got) != 2 {
		t.Fatalf("uploads/ holds %q, want a record and content", got)
	}
	if err := s.AbortUpload(ctx, "up", ups[0].UploadID); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if err := <-done; !errors.Is(err, objstore.ErrNotExist) {
		t.Fatalf("aborted upload: %v", err)
	}
	if got := files(t, s.uploadsDir); len(got) != 0 {
		t.Fatalf("uploads/ after abort: %q", got)
	}
	if got := files(t, s.objects); len(got) != 0 {
		t.Fatalf("objects/ after abort: %q", got)
	}
	for _, id := range []string{"../objects", strings.Repeat("AB", 16), ""} {
		if err := s.AbortUpload(ctx, "up", id); err != nil {
			t.Errorf("abort of malformed id %q: %v", id, err)
		}
	}
}

func TestDeleteManyReportsCancellation(t *testing.T) {
	s := openTemp(t, nil)
	objstoretest.MustPut(t, s, "a", nil, nil)
	err := s.DeleteMany(ctx, []string{"a", "bad\x00key"})
	var dme *objstore.DeleteManyError
	if !errors.As(err, &dme) || len(dme.Failed) != 1 || !errors.Is(err, objstore.ErrInvalidKey) {
		t.Fatalf("delete many: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	objstoretest.MustPut(t, s, "b", nil, nil)
	if err := s.DeleteMany(cctx, []string{"b"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled delete many: %v", err)
	}
	if got := objstoretest.ListKeys(t, s, "", nil); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("keys = %q", got)
	}
}

func Example() {
	dir, _ := os.MkdirTemp("", "fsstore-example")
	defer os.RemoveAll(dir)
	s, err := Open(dir, nil)
	if err != nil {
		panic(err)
	}
	defer s.Close()
	ctx := context.Background()
	v1, _ := s.Put(ctx, "sessions/s1/head", []byte("rev 1"), &objstore.PutOptions{IfNoneMatch: true})
	_, err = s.Put(ctx, "sessions/s1/head", []byte("rev 1 again"), &objstore.PutOptions{IfNoneMatch: true})
	fmt.Println(errors.Is(err, objstore.ErrPreconditionFailed))
	_, err = s.Put(ctx, "sessions/s1/head", []byte("rev 2"), &objstore.PutOptions{IfMatch: v1.ETag})
	fmt.Println(err)
	// Output:
	// true
	// <nil>
}

// Puts and deletes of keys that share parent directories race: a delete
// prunes a parent a concurrent put is creating or about to rename into.
// Every put must still succeed (each key has its own lock stripe, so only
// the directory handling keeps them apart).
func TestConcurrentPutDeleteSharedDirectories(t *testing.T) {
	s, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const writers, rounds = 8, 150
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				key := fmt.Sprintf("p/q/r/s/w%d-%d", w, i)
				if _, err := s.Put(ctx, key, []byte("x"), nil); err != nil {
					errs <- fmt.Errorf("put %s: %w", key, err)
					return
				}
				if err := s.Delete(ctx, key, nil); err != nil {
					errs <- fmt.Errorf("delete %s: %w", key, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
