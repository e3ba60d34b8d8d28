package objstoretest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stowage-dev/stowage/objstore"
)

// manyKeys is the key set of the listing case: 2500 keys, more than two pages
// of S3's 1000, in three shapes: 2400 under "a/", 50 one level deeper under
// "b/", 50 at the top.
func manyKeys() []string {
	keys := make([]string, 0, 2500)
	for i := range 2400 {
		keys = append(keys, fmt.Sprintf("a/%04d", i))
	}
	for i := range 50 {
		keys = append(keys, fmt.Sprintf("b/x%02d/y", i))
	}
	for i := range 50 {
		keys = append(keys, fmt.Sprintf("c%02d", i))
	}
	return keys // already in byte order
}

// putAll writes one small distinct body per key with a few goroutines and
// returns the ETags. It is set-up, not the test: a put the server answers
// 5xx (rclone does, now and then, under these 16 writers) is sent again,
// as the product's retry layer would.
func putAll(t *testing.T, s objstore.Store, keys []string) map[string]string {
	const workers = 16
	etags := make(map[string]string, len(keys))
	var mu sync.Mutex
	errs := Race(workers, func(w int) error {
		for i := w; i < len(keys); i += workers {
			body := []byte(strings.Repeat("x", i%7) + keys[i])
			info, err := s.Put(t.Context(), keys[i], body, nil)
			for try := 0; try < 3 && errors.Is(err, objstore.ErrUnavailable); try++ {
				info, err = s.Put(t.Context(), keys[i], body, nil)
			}
			if err != nil {
				return fmt.Errorf("put %q: %w", keys[i], err)
			}
			mu.Lock()
			etags[keys[i]] = info.ETag
			mu.Unlock()
		}
		return nil
	})
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return etags
}

// testManyKeys: listing across pages in order, StartAfter, restarting a
// listing, delimiter roll-up, and DeleteMany of every key.
func testManyKeys(t *testing.T, h *Harness) {
	s := h.newStore(t)
	keys := manyKeys()
	l := &keyListing{s: s, keys: keys, etags: putAll(t, s, keys)}
	t.Run("Full", l.full)
	t.Run("Prefix", l.prefixes)
	t.Run("StartAfter", l.startAfter)
	t.Run("Restart", l.restart)
	t.Run("Delimiter", l.delimiter)
	t.Run("DeleteMany", l.deleteMany)
}

// keyListing is the store of testManyKeys holding keys (manyKeys) with
// their ETags.
type keyListing struct {
	s     objstore.Store
	keys  []string
	etags map[string]string
}

// after returns the keys strictly after k.
func (l *keyListing) after(k string) []string {
	i, _ := slices.BinarySearch(l.keys, k)
	if i < len(l.keys) && l.keys[i] == k {
		i++
	}
	return l.keys[i:]
}

// list fails t unless the listing of prefix with opts is want.
func (l *keyListing) list(t *testing.T, prefix string, opts *objstore.ListOptions, want []string) {
	t.Helper()
	if got := ListKeys(t, l.s, prefix, opts); !slices.Equal(got, want) {
		t.Errorf("list %q %+v: got %d keys %s, want %d keys %s", prefix, opts, len(got), firstLast(got), len(want), firstLast(want))
	}
}

func (l *keyListing) full(t *testing.T) {
	infos, err := ListAll(t.Context(), l.s, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != len(l.keys) {
		t.Fatalf("listed %d objects, want %d", len(infos), len(l.keys))
	}
	for i, info := range infos {
		k := l.keys[i]
		if info.Key != k || info.Size != int64(i%7+len(k)) || info.ETag != l.etags[k] || info.IsPrefix {
			t.Fatalf("entry %d: %+v, want key %q size %d etag %q", i, info, k, i%7+len(k), l.etags[k])
		}
	}
}

func (l *keyListing) prefixes(t *testing.T) {
	keys := l.keys
	l.list(t, "a/", nil, keys[:2400])
	l.list(t, "a/23", nil, keys[2300:2400])
	l.list(t, "b/x07/", nil, []string{"b/x07/y"})
	l.list(t, "c", nil, keys[2450:])
	l.list(t, "d", nil, nil)
}

func (l *keyListing) startAfter(t *testing.T) {
	for _, sa := range []string{"", "a/0000", "a/0999", "a/1000", "a/1234", "a/1234~", "a/2399", "b/", "b/x49/y", "c48", "c49", "zzz"} {
		l.list(t, "", &objstore.ListOptions{StartAfter: sa}, l.after(sa))
	}
	l.list(t, "a/", &objstore.ListOptions{StartAfter: "a/2397"}, []string{"a/2398", "a/2399"})
	l.list(t, "b/", &objstore.ListOptions{StartAfter: "a/9"}, l.keys[2400:2450])
	l.list(t, "a/", &objstore.ListOptions{StartAfter: "b/"}, nil)
}

// restart stops a listing after n entries and restarts it after the last
// key seen: the pieces make the whole, whatever the page boundaries.
func (l *keyListing) restart(t *testing.T) {
	for _, n := range []int{777, 1000, 1001} {
		var got []string
		for sa := ""; ; {
			var page []string
			for info, err := range l.s.List(t.Context(), "", &objstore.ListOptions{StartAfter: sa}) {
				if err != nil {
					t.Fatalf("list after %q: %v", sa, err)
				}
				page = append(page, info.Key)
				if len(page) == n {
					break
				}
			}
			got = append(got, page...)
			if len(page) < n {
				break
			}
			sa = page[len(page)-1]
		}
		if !slices.Equal(got, l.keys) {
			t.Errorf("listing restarted every %d entries: got %d keys %s", n, len(got), firstLast(got))
		}
	}
}

func (l *keyListing) delimiter(t *testing.T) {
	keys := l.keys
	infos, err := ListAll(t.Context(), l.s, "", &objstore.ListOptions{Delimiter: "/"})
	if err != nil {
		t.Fatal(err)
	}
	want := append([]string{"a/", "b/"}, keys[2450:]...)
	var got []string
	for _, info := range infos {
		got = append(got, info.Key)
		if info.IsPrefix != strings.HasSuffix(info.Key, "/") {
			t.Errorf("%q: IsPrefix = %v", info.Key, info.IsPrefix)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("list \"\" by \"/\": got %s, want %s", firstLast(got), firstLast(want))
	}
	var subdirs []string
	for i := range 50 {
		subdirs = append(subdirs, fmt.Sprintf("b/x%02d/", i))
	}
	l.list(t, "b/", &objstore.ListOptions{Delimiter: "/"}, subdirs)
	l.list(t, "b/", &objstore.ListOptions{Delimiter: "/", StartAfter: "b/x24/y"}, subdirs[25:])
	l.list(t, "a/", &objstore.ListOptions{Delimiter: "/"}, keys[:2400])
	l.list(t, "", &objstore.ListOptions{Delimiter: "x"}, append(keys[:2400:2400], append([]string{"b/x"}, keys[2450:]...)...))
}

func (l *keyListing) deleteMany(t *testing.T) {
	batch := slices.Clone(l.keys)
	for i := range 10 {
		batch = append(batch, fmt.Sprintf("missing/%d", i))
	}
	rand.New(rand.NewPCG(Seed(t), 0)).Shuffle(len(batch), func(i, j int) { batch[i], batch[j] = batch[j], batch[i] })
	if err := l.s.DeleteMany(t.Context(), batch); err != nil {
		t.Fatalf("delete many: %v", err)
	}
	l.list(t, "", nil, nil)
	if err := l.s.DeleteMany(t.Context(), batch[:1500]); err != nil {
		t.Errorf("delete many of deleted keys: %v", err)
	}
	if err := l.s.DeleteMany(t.Context(), nil); err != nil {
		t.Errorf("delete many of no keys: %v", err)
	}
}

// firstLast renders a long key list for an error message.
func firstLast(keys []string) string {
	if len(keys) <= 6 {
		return fmt.Sprintf("%q", keys)
	}
	return fmt.Sprintf("%q ... %q", keys[:3], keys[len(keys)-3:])
}
