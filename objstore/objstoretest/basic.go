package objstoretest

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/stowage-dev/stowage/objstore"
)

// testNotFound: reads of a missing key fail with ErrNotExist; deleting it
// succeeds.
func testNotFound(t *testing.T, h *Harness) {
	s := h.newStore(t)
	ctx := t.Context()
	const key = "missing/key"
	wantErr(t, "get missing", getErr(ctx, s, key, nil), objstore.ErrNotExist)
	wantErr(t, "ranged get missing", getErr(ctx, s, key, &objstore.GetOptions{Range: &objstore.Range{Offset: 1, Length: 2}}), objstore.ErrNotExist)
	wantErr(t, "get missing with IfNoneMatch", getErr(ctx, s, key, &objstore.GetOptions{IfNoneMatch: "0123456789abcdef0123456789abcdef"}), objstore.ErrNotExist)
	_, err := s.Head(ctx, key)
	wantErr(t, "head missing", err, objstore.ErrNotExist)
	if err := s.Delete(ctx, key, nil); err != nil {
		t.Errorf("delete missing: %v, want nil", err)
	}
	if err := s.DeleteMany(ctx, []string{key, key + "2"}); err != nil {
		t.Errorf("delete many missing: %v, want nil", err)
	}
	if keys := ListKeys(t, s, "", nil); len(keys) != 0 {
		t.Errorf("list after operations on a missing key: %q, want nothing", keys)
	}
}

// testRoundTrip: Put, Head and Get agree on content, size, ETag, content
// type, metadata and ModTime; an overwrite replaces all of them.
func testRoundTrip(t *testing.T, h *Harness) {
	s := h.newStore(t)
	ctx := t.Context()
	const key = "round/trip"
	data := PatternBytes(Seed(t), 1000)
	md := map[string]string{"owner": "alice", "session-id": "s-42", "note": "a b=c;d"}
	const ctype = "text/plain; charset=utf-8"

	before := h.now()
	put := MustPut(t, s, key, data, &objstore.PutOptions{ContentType: ctype, Metadata: md})
	after := h.now()
	if put.Key != key || put.Size != int64(len(data)) || put.ETag == "" {
		t.Errorf("put returned key %q size %d etag %q, want %q %d and an ETag", put.Key, put.Size, put.ETag, key, len(data))
	}

	head, err := s.Head(ctx, key)
	if err != nil {
		t.Fatalf("head: %v", err)
	}
	checkInfo(t, "head", head, key, int64(len(data)), put.ETag, ctype, md)
	wantTime(t, "head ModTime", head.ModTime, before, after)

	info := wantContent(t, s, key, data)
	checkInfo(t, "get", info, key, int64(len(data)), put.ETag, ctype, md)

	// An overwrite without options replaces content, metadata and type.
	data2 := append([]byte("v2:"), data...)
	put2 := MustPut(t, s, key, data2, nil)
	if put2.ETag == put.ETag {
		t.Errorf("overwrite with new content kept ETag %q", put.ETag)
	}
	head2, err := s.Head(ctx, key)
	if err != nil {
		t.Fatalf("head after overwrite: %v", err)
	}
	checkInfo(t, "head after overwrite", head2, key, int64(len(data2)), put2.ETag, "application/octet-stream", nil)
	wantContent(t, s, key, data2)
}

// checkInfo compares an ObjectInfo from Head or Get with what was written.
func checkInfo(t *testing.T, what string, got objstore.ObjectInfo, key string, size int64, etag, ctype string, md map[string]string) {
	t.Helper()
	if got.Key != key {
		t.Errorf("%s: Key = %q, want %q", what, got.Key, key)
	}
	if got.Size != size {
		t.Errorf("%s: Size = %d, want %d", what, got.Size, size)
	}
	if got.ETag != etag {
		t.Errorf("%s: ETag = %q, want %q (the one the write returned)", what, got.ETag, etag)
	}
	if got.ContentType != ctype {
		t.Errorf("%s: ContentType = %q, want %q", what, got.ContentType, ctype)
	}
	if !maps.Equal(got.Metadata, md) {
		t.Errorf("%s: Metadata = %v, want %v", what, got.Metadata, md)
	}
	if got.IsPrefix {
		t.Errorf("%s: IsPrefix set on an object", what)
	}
}

// testRange: ranged gets return exactly the requested bytes (truncated at the
// end of the object, as S3 does) and the full object size; unsatisfiable
// ranges fail with ErrInvalidArgument.
func testRange(t *testing.T, h *Harness) {
	s := h.newStore(t)
	ctx := t.Context()
	const key = "ranged"
	data := PatternBytes(Seed(t), 1000)
	put := MustPut(t, s, key, data, nil)
	for _, c := range []struct {
		off, n     int64
		start, end int
	}{
		{0, -1, 0, 1000}, {0, 1000, 0, 1000}, {0, 10, 0, 10}, {1, 1, 1, 2}, {10, 90, 10, 100},
		{500, -1, 500, 1000}, {990, 10, 990, 1000}, {999, 1, 999, 1000}, {995, 100, 995, 1000},
	} {
		r := &objstore.Range{Offset: c.off, Length: c.n}
		got, info, err := ReadAll(ctx, s, key, &objstore.GetOptions{Range: r})
		if err != nil {
			t.Errorf("range %+v: %v", *r, err)
			continue
		}
		if !bytes.Equal(got, data[c.start:c.end]) {
			t.Errorf("range %+v: got %d bytes %s, want bytes [%d:%d]", *r, len(got), abbrev(got), c.start, c.end)
		}
		if info.Size != int64(len(data)) || info.ETag != put.ETag {
			t.Errorf("range %+v: info size %d etag %q, want the full object's %d %q", *r, info.Size, info.ETag, len(data), put.ETag)
		}
	}
	for _, r := range []objstore.Range{{Offset: 1000, Length: 1}, {Offset: 1000, Length: -1}, {Offset: 5000, Length: 10}, {Offset: -1, Length: 10}} {
		wantErr(t, fmt.Sprintf("range %+v of a 1000-byte object", r), getErr(ctx, s, key, &objstore.GetOptions{Range: &r}), objstore.ErrInvalidArgument)
	}
}

// testGetIfNoneMatch: a matching ETag gives ErrNotModified and no body; a
// changed object gives the new body.
func testGetIfNoneMatch(t *testing.T, h *Harness) {
	s := h.newStore(t)
	ctx := t.Context()
	const key = "revalidate"
	v1 := MustPut(t, s, key, []byte("version one"), nil)
	rc, _, err := s.Get(ctx, key, &objstore.GetOptions{IfNoneMatch: v1.ETag})
	if rc != nil {
		rc.Close()
		t.Errorf("get with matching IfNoneMatch returned a body")
	}
	wantErr(t, "get with matching IfNoneMatch", err, objstore.ErrNotModified)

	got, info, err := ReadAll(ctx, s, key, &objstore.GetOptions{IfNoneMatch: "0123456789abcdef0123456789abcdef"})
	if err != nil || string(got) != "version one" || info.ETag != v1.ETag {
		t.Errorf("get with other IfNoneMatch: %q etag %q err %v, want the object", got, info.ETag, err)
	}

	v2 := MustPut(t, s, key, []byte("version two"), nil)
	got, info, err = ReadAll(ctx, s, key, &objstore.GetOptions{IfNoneMatch: v1.ETag})
	if err != nil || string(got) != "version two" || info.ETag != v2.ETag {
		t.Errorf("get changed object with old IfNoneMatch: %q etag %q err %v, want %q etag %q", got, info.ETag, err, "version two", v2.ETag)
	}
}

// testDelete: delete removes exactly one key and is idempotent.
func testDelete(t *testing.T, h *Harness) {
	s := h.newStore(t)
	ctx := t.Context()
	for _, k := range []string{"dir/a", "dir/x", "dirx"} {
		MustPut(t, s, k, []byte(k), nil)
	}
	for i := range 2 {
		if err := s.Delete(ctx, "dir/a", nil); err != nil {
			t.Errorf("delete #%d: %v", i+1, err)
		}
	}
	wantMissing(t, s, "dir/a")
	wantErr(t, "get deleted", getErr(ctx, s, "dir/a", nil), objstore.ErrNotExist)
	if keys := ListKeys(t, s, "", nil); !slices.Equal(keys, []string{"dir/x", "dirx"}) {
		t.Errorf("after deleting %q: keys %q, want [dir/x dirx]", "dir/a", keys)
	}
	if err := s.Delete(ctx, "dir", nil); err != nil { // never existed; must not touch dir/x
		t.Errorf("delete missing %q: %v", "dir", err)
	}
	wantContent(t, s, "dir/x", []byte("dir/x"))
}

// testZeroByte: empty objects by Put and by Upload.
func testZeroByte(t *testing.T, h *Harness) {
	s := h.newStore(t)
	ctx := t.Context()
	put := MustPut(t, s, "empty/put", nil, &objstore.PutOptions{IfNoneMatch: true})
	if put.Size != 0 {
		t.Errorf("put empty: size %d", put.Size)
	}
	_, err := s.Put(ctx, "empty/put", []byte{}, &objstore.PutOptions{IfNoneMatch: true})
	wantErr(t, "create-only put over an empty object", err, objstore.ErrPreconditionFailed)
	up, err := s.Upload(ctx, "empty/upload", OnlyReader(bytes.NewReader(nil)), nil)
	if err != nil {
		t.Fatalf("upload empty: %v", err)
	}
	if up.Size != 0 || up.ETag == "" {
		t.Errorf("upload empty: size %d etag %q", up.Size, up.ETag)
	}
	for key, etag := range map[string]string{"empty/put": put.ETag, "empty/upload": up.ETag} {
		info := wantContent(t, s, key, nil)
		head, err := s.Head(ctx, key)
		if err != nil {
			t.Errorf("head %q: %v", key, err)
		}
		if info.Size != 0 || head.Size != 0 || head.ETag != etag {
			t.Errorf("%q: get size %d, head size %d etag %q, want 0 0 %q", key, info.Size, head.Size, head.ETag, etag)
		}
	}
	// S3 answers any range of an empty object with 416.
	wantErr(t, "range of an empty object", getErr(ctx, s, "empty/put", &objstore.GetOptions{Range: &objstore.Range{Offset: 0, Length: -1}}), objstore.ErrInvalidArgument)
	infos, err := ListAll(ctx, s, "empty/", nil)
	if err != nil || len(infos) != 2 || infos[0].Size != 0 || infos[1].Size != 0 {
		t.Errorf("list empty objects: %+v, %v; want two of size 0", infos, err)
	}
}
