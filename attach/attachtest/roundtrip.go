package attachtest

import (
	"bytes"
	"errors"
	"io"
	"maps"
	"strings"
	"testing"

	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore"
)

// Put, Get, Stat and List agree on the bytes and the ref's fields.
func testRoundTrip(t *testing.T, e *env) {
	a := e.session("s1", nil)
	body := random(1, 70_000)
	opts := attach.PutOptions{MediaType: "image/png", Label: "plot", Metadata: map[string]string{"width": "640"}}
	ref := e.put(a, body, opts)
	e.mustGet(a, ref.ID, body)
	rc, got, err := a.Get(e.Ctx, ref.ID, nil)
	e.Must(err)
	rc.Close()
	st, err := a.Stat(e.Ctx, ref.ID)
	e.Must(err)
	for _, r := range []attach.Ref{got, st} {
		if r.ID != ref.ID || r.Size != int64(len(body)) || r.MediaType != "image/png" || r.Label != "plot" ||
			!maps.Equal(r.Metadata, opts.Metadata) || !r.CommittedAt.IsZero() {
			t.Fatalf("ref %+v, want %+v", r, ref)
		}
	}
	if ref.URI() != "lash-attachment://sha256/"+ref.ID {
		t.Fatalf("URI %q", ref.URI())
	}
	list, err := a.List(e.Ctx)
	e.Must(err)
	if len(list) != 1 || list[0].ID != ref.ID {
		t.Fatalf("List = %+v", list)
	}
	if n := len(e.uploads()); n != 0 {
		t.Fatalf("%d upload intents left after a put", n)
	}
	if row := e.row("s1", ref.ID); row.Data.Encoding != manifest.EncodingRaw || row.Data.StoredSize != int64(len(body)) {
		t.Fatalf("binary data stored as %+v", row.Data)
	}
}

// A body larger than a part goes multipart and comes back whole.
func testRoundTripMultipart(t *testing.T, e *env) {
	a := e.session("s1", &attach.Options{PartSize: objstore.MinPartSize, Concurrency: 3})
	body := random(2, 3*objstore.MinPartSize+12345)
	ref := e.put(a, body, attach.PutOptions{MediaType: "application/octet-stream"})
	e.mustGet(a, ref.ID, body)
	if n := len(e.incomplete()); n != 0 {
		t.Fatalf("%d multipart uploads left", n)
	}
}

// Compressible media types are stored zstd-seekable when that saves space;
// other content and DisableCompression store raw; readers get the original.
func testCompression(t *testing.T, e *env) {
	a := e.session("s1", nil)
	doc := text(3, 2*1<<20+777)
	ref := e.put(a, doc, attach.PutOptions{MediaType: "text/markdown; charset=utf-8"})
	row := e.row("s1", ref.ID)
	if row.Data.Encoding != manifest.EncodingZstdSeekable || row.Data.StoredSize >= int64(len(doc))/2 {
		t.Fatalf("text stored as %+v (%d bytes)", row.Data, len(doc))
	}
	e.mustGet(a, ref.ID, doc)
	noise := random(4, 100_000)
	ref = e.put(a, noise, attach.PutOptions{MediaType: "application/json"})
	if row := e.row("s1", ref.ID); row.Data.Encoding != manifest.EncodingRaw {
		t.Fatalf("incompressible json stored as %+v", row.Data)
	}
	e.mustGet(a, ref.ID, noise)
	small := []byte(`{"a":1}`)
	ref = e.put(a, small, attach.PutOptions{MediaType: "application/json"})
	e.mustGet(a, ref.ID, small)
	raw := e.session("s2", &attach.Options{DisableCompression: true})
	doc2 := text(5, 300_000)
	ref = e.put(raw, doc2, attach.PutOptions{MediaType: "text/plain"})
	if row := e.row("s2", ref.ID); row.Data.Encoding != manifest.EncodingRaw {
		t.Fatalf("DisableCompression stored %+v", row.Data)
	}
}

// Ranged reads return exactly the requested bytes, raw or compressed.
func testRanges(t *testing.T, e *env) {
	a := e.session("s1", nil)
	frame := int64(1 << 20)
	for _, c := range []struct {
		name string
		body []byte
		mt   string
	}{
		{"raw", random(6, int(2*frame+5000)), "application/octet-stream"},
		{"compressed", text(7, int(3*frame+5000)), "text/plain"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ref := e.put(a, c.body, attach.PutOptions{MediaType: c.mt})
			size := int64(len(c.body))
			for _, r := range []attach.Range{
				{Offset: 0, Length: 10}, {Offset: 5, Length: -1}, {Offset: frame - 3, Length: 6},
				{Offset: frame, Length: frame}, {Offset: 1, Length: 2*frame + 10}, {Offset: size - 1, Length: 1},
				{Offset: size - 10, Length: 1000}, {Offset: size, Length: -1}, {Offset: 100, Length: 0},
				{Offset: 0, Length: -1},
			} {
				got, err := e.get(a, ref.ID, &r)
				e.Must(err)
				end := size
				if r.Length >= 0 {
					end = min(size, r.Offset+r.Length)
				}
				if want := c.body[r.Offset:end]; !bytes.Equal(got, want) {
					t.Fatalf("range %+v: %d bytes, want %d (equal prefix %d)", r, len(got), len(want), commonPrefix(got, want))
				}
			}
			for _, r := range []attach.Range{{Offset: -1, Length: 1}, {Offset: size + 1, Length: 1}} {
				_, err := e.get(a, ref.ID, &r)
				wantErr(t, "out-of-bounds range", err, attach.ErrInvalidRange)
			}
		})
	}
}

// An empty attachment has the digest of nothing and reads back empty.
func testZeroBytes(t *testing.T, e *env) {
	a := e.session("s1", nil)
	for _, mt := range []string{"text/plain", "application/octet-stream"} {
		ref := e.put(a, nil, attach.PutOptions{MediaType: mt})
		if ref.ID != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" || ref.Size != 0 {
			t.Fatalf("empty attachment: %+v", ref)
		}
		e.mustGet(a, ref.ID, nil)
		got, err := e.get(a, ref.ID, &attach.Range{Offset: 0, Length: -1})
		e.Must(err)
		if len(got) != 0 {
			t.Fatalf("ranged read of nothing: %d bytes", len(got))
		}
	}
}

// A new manifest and attachment store over the store's data (another
// process) sees and reads everything.
func testReopen(t *testing.T, e *env) {
	a := e.session("s1", nil)
	body, doc := random(8, 50_000), text(9, 200_000)
	r1 := e.put(a, body, attach.PutOptions{MediaType: "application/octet-stream"})
	r2 := e.put(a, doc, attach.PutOptions{MediaType: "text/plain"})
	obj := e.Obj
	if e.h.Reopen != nil {
		obj = e.h.Reopen(t, e.Obj)
	}
	e2 := newEnv(t, e.h, obj)
	b := e2.session("s1", nil)
	e2.mustGet(b, r1.ID, body)
	e2.mustGet(b, r2.ID, doc)
	list, err := b.List(e2.Ctx)
	e2.Must(err)
	if len(list) != 2 {
		t.Fatalf("reopened List = %+v", list)
	}
}

// Bytes that no longer hash to their id fail a full read with ErrChecksum.
func testChecksum(t *testing.T, e *env) {
	a := e.session("s1", nil)
	for _, c := range []struct {
		body []byte
		mt   string
	}{{random(10, 40_000), "application/octet-stream"}, {text(11, 40_000), "text/plain"}} {
		ref := e.put(a, c.body, attach.PutOptions{MediaType: c.mt})
		e.flipStoredByte("s1", ref.ID, func(n int) int { return n / 3 })
		_, err := e.get(a, ref.ID, nil)
		wantErr(t, "read of corrupted "+c.mt, err, attach.ErrChecksum)
	}
}

// io.Copy of a Get (the body's WriteTo, which reads ahead while it
// hashes) delivers every byte of an attachment of several read-ahead
// chunks, fails with ErrChecksum when the bytes no longer hash to the id,
// and returns a failing writer's error, after which the body reads nothing.
func testCopyStreams(t *testing.T, e *env) {
	a := e.session("s1", nil)
	body := random(12, 3_500_000) // several read-ahead chunks of 1 MiB
	ref := e.put(a, body, attach.PutOptions{})
	copyOut := func(w io.Writer) error {
		rc, _, err := a.Get(e.Ctx, ref.ID, nil)
		e.Must(err)
		defer rc.Close()
		_, err = io.Copy(w, rc)
		if err != nil {
			if n, rerr := rc.Read(make([]byte, 10)); n != 0 || rerr == nil {
				t.Fatalf("read after a failed copy: %d bytes, %v", n, rerr)
			}
		}
		return err
	}
	var got bytes.Buffer
	e.Must(copyOut(&got))
	if !bytes.Equal(got.Bytes(), body) {
		t.Fatalf("copied %d bytes, not the %d put", got.Len(), len(body))
	}
	errFull := errors.New("writer full")
	if err := copyOut(&failingWriter{room: 1_500_000, err: errFull}); !errors.Is(err, errFull) {
		t.Fatalf("copy into a failing writer: %v", err)
	}
	e.flipStoredByte("s1", ref.ID, func(n int) int { return n - 100 })
	wantErr(t, "copy of corrupted bytes", copyOut(io.Discard), attach.ErrChecksum)
}

// failingWriter takes room bytes, then fails with err.
type failingWriter struct {
	room int
	err  error
}

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.room {
		n := w.room
		w.room = 0
		return n, w.err
	}
	w.room -= len(p)
	return len(p), nil
}

// flipStoredByte flips a bit of the stored bytes of session sid's
// attachment id, at the offset at picks from their length.
func (e *env) flipStoredByte(sid, id string, at func(n int) int) {
	row := e.row(sid, id)
	rc, _, err := e.Obj.Get(e.Ctx, row.Data.Key, nil)
	e.Must(err)
	stored, err := io.ReadAll(rc)
	rc.Close()
	e.Must(err)
	stored[at(len(stored))] ^= 0x40
	_, err = e.Obj.Put(e.Ctx, row.Data.Key, stored, nil)
	e.Must(err)
}

// Malformed ids are rejected before touching storage.
func testHostileIDs(t *testing.T, e *env) {
	a := e.session("s1", nil)
	good := digest([]byte("x"))
	for _, id := range []string{"", "../" + good[3:], strings.ToUpper(good), good[:63], good + "/x", "..", "sha256:" + good} {
		_, _, err := a.Get(e.Ctx, id, nil)
		wantErr(t, "Get("+id+")", err, attach.ErrInvalidID)
		_, err = a.Stat(e.Ctx, id)
		wantErr(t, "Stat("+id+")", err, attach.ErrInvalidID)
		wantErr(t, "Delete("+id+")", a.Delete(e.Ctx, id), attach.ErrInvalidID)
		_, err = a.PutKnown(e.Ctx, id, 1, func() (io.Reader, error) { return strings.NewReader("x"), nil }, attach.PutOptions{})
		wantErr(t, "PutKnown("+id+")", err, attach.ErrInvalidID)
	}
	for _, sid := range []string{"", "a/b", "..", "a b", strings.Repeat("x", 200)} {
		_, err := attach.New(e.M, sid, nil)
		wantErr(t, "New("+sid+")", err, attach.ErrInvalidID)
	}
	_, err := a.Put(e.Ctx, strings.NewReader("x"), attach.PutOptions{Owner: manifest.Owner{Kind: manifest.OwnerTurn, ID: "t\x00"}})
	wantErr(t, "Put with a hostile owner", err, attach.ErrInvalidID)
	if keys := e.keys(""); len(keys) != 0 {
		t.Fatalf("rejected calls left %v", keys)
	}
}
