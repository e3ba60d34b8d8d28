package attachtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore"
)

// roots returns the data keys the manifest roots.
func (e *env) roots() []string {
	e.T.Helper()
	var out []string
	e.Must(e.M.WalkRoots(e.Ctx, func(r manifest.Root) error {
		out = append(out, r.DataKey)
		return nil
	}))
	return out
}

func (e *env) forgetAged(cutoff time.Time) int {
	e.T.Helper()
	n, err := e.M.ForgetAgedUncommitted(e.Ctx, cutoff)
	e.Must(err)
	return n
}

// A writer that dies after its upload intent and before any byte leaves an
// intent that roots its (absent) data until it is aged and owner-dead.
func testCrashBeforeBytes(t *testing.T, e *env) {
	u, err := e.M.BeginUpload(e.Ctx, "s1", manifest.Owner{}, "")
	e.Must(err)
	ut, err := e.M.BeginUpload(e.Ctx, "s1", manifest.TurnOwner("t1"), "")
	e.Must(err)
	if r := e.roots(); !slices.Contains(r, u.DataKey) || !slices.Contains(r, ut.DataKey) {
		t.Fatalf("roots %v lack the crashed uploads", r)
	}
	if n := e.forgetAged(u.IntentAt.Add(-time.Millisecond)); n != 0 {
		t.Fatalf("fresh intents forgotten: %d", n)
	}
	later := e.Clock.Advance(time.Hour)
	if n := e.forgetAged(later); n != 1 {
		t.Fatalf("forgot %d, want the ownerless one", n)
	}
	e.Turns.Add("s1", "t2", later) // a later turn committed: t1 is dead
	if n := e.forgetAged(later); n != 1 {
		t.Fatalf("forgot %d, want the dead turn's", n)
	}
	if r := e.roots(); len(r) != 0 {
		t.Fatalf("roots after forgetting: %v", r)
	}
}

// A writer that dies after its bytes and before its ref leaves data that
// no session can read, rooted by its intent until that dies.
func testCrashBeforeRef(t *testing.T, e *env) {
	body := random(30, 3000)
	u, err := e.M.BeginUpload(e.Ctx, "s1", manifest.TurnOwner("t1"), "")
	e.Must(err)
	_, err = e.Obj.Upload(e.Ctx, u.DataKey, bytes.NewReader(body), nil)
	e.Must(err)
	a := e.session("s1", nil)
	_, _, err = a.Get(e.Ctx, digest(body), nil)
	wantErr(t, "Get of unreferenced bytes", err, attach.ErrNotFound)
	if list, err := a.List(e.Ctx); err != nil || len(list) != 0 {
		t.Fatalf("List = %v, %v", list, err)
	}
	far := e.Clock.Advance(24 * time.Hour)
	if n := e.forgetAged(far); n != 0 || !slices.Contains(e.roots(), u.DataKey) {
		t.Fatal("a live turn's upload lost its root")
	}
	e.Turns.Add("s1", "t2", far)
	if n := e.forgetAged(far); n != 1 || slices.Contains(e.roots(), u.DataKey) {
		t.Fatal("a dead turn's upload is still rooted")
	}
}

// checkNoTrace checks that failed puts left no ref, no data object and no
// multipart upload, and that each left an aborted upload intent.
func (e *env) checkNoTrace(sid string, wantAborted int) {
	e.T.Helper()
	rows, err := e.M.SessionRows(e.Ctx, sid)
	e.Must(err)
	if len(rows) != 0 {
		e.T.Fatalf("failed puts left %d rows", len(rows))
	}
	if keys := e.keys(manifest.DataPrefix); len(keys) != 0 {
		e.T.Fatalf("failed puts left data: %v", keys)
	}
	if ups := e.incomplete(); len(ups) != 0 {
		e.T.Fatalf("failed puts left multipart uploads: %v", ups)
	}
	ups := e.uploads()
	for _, u := range ups {
		if u.State != manifest.UploadAborted {
			e.T.Fatalf("upload intent %s is %q, want aborted", u.ID, u.State)
		}
	}
	if len(ups) != wantAborted {
		e.T.Fatalf("%d upload intents, want %d", len(ups), wantAborted)
	}
}

// Bodies over the limit fail with a *TooLargeError and leave no trace.
func testMaxSize(t *testing.T, e *env) {
	a := e.session("s1", &attach.Options{MaxSize: 6 << 20, PartSize: objstore.MinPartSize})
	fails := 0
	for _, c := range []struct {
		body []byte
		mt   string
	}{
		{random(31, 6<<20+1), "application/octet-stream"},
		{text(32, 7<<20), "text/plain"},
	} {
		_, err := a.Put(e.Ctx, bytes.NewReader(c.body), attach.PutOptions{MediaType: c.mt})
		var tl *attach.TooLargeError
		if !errors.Is(err, attach.ErrTooLarge) || !errors.As(err, &tl) || tl.Limit != 6<<20 {
			t.Fatalf("Put of %d bytes: %v, want a TooLargeError of limit %d", len(c.body), err, 6<<20)
		}
		fails++
	}
	_, err := a.PutKnown(e.Ctx, digest([]byte("big")), 7<<20, func() (io.Reader, error) {
		t.Fatal("PutKnown opened a body it knew too large")
		return nil, nil
	}, attach.PutOptions{})
	wantErr(t, "PutKnown over the limit", err, attach.ErrTooLarge)
	e.checkNoTrace("s1", fails)
	small := e.session("s2", &attach.Options{MaxSize: 1000})
	e.put(small, random(33, 1000), attach.PutOptions{})
	_, err = small.Put(e.Ctx, bytes.NewReader(random(34, 1001)), attach.PutOptions{})
	wantErr(t, "Put of limit+1 bytes", err, attach.ErrTooLarge)
}

var errBoom = errors.New("attachtest: reader failed")

// failingReader fails every read with its error.
type failingReader struct{ err error }

func (f failingReader) Read([]byte) (int, error) { return 0, f.err }

// cancelAfter reads r and cancels the put's context once n bytes are read.
type cancelAfter struct {
	r      io.Reader
	n      int
	cancel context.CancelFunc
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	if c.n -= k; c.n <= 0 {
		c.cancel()
	}
	return k, err
}

// A reader that fails (or a context cancelled) mid-stream leaves an aborted
// upload and an aborted intent, never a ref.
func testFailingReader(t *testing.T, e *env) {
	a := e.session("s1", &attach.Options{PartSize: objstore.MinPartSize, Concurrency: 2})
	fails := 0
	// io.ErrUnexpectedEOF is what a net/http request body returns when its
	// client disconnects: it must fail the put like any other error, not
	// end the body (io.ReadFull returns it for a short read too).
	for _, fail := range []error{errBoom, io.ErrUnexpectedEOF} {
		for _, c := range []struct {
			name string
			head []byte // bytes before the failure
			mt   string
		}{
			{"at-once", nil, "application/octet-stream"},
			{"small", random(35, 10), "application/octet-stream"},
			{"at-part-end", random(35, objstore.MinPartSize), "application/octet-stream"},
			{"multipart", random(35, 2*objstore.MinPartSize+10), "application/octet-stream"},
			{"in-sample", text(36, 1000), "text/plain"},
			{"at-sample-end", text(36, 1<<20), "text/plain"},
			{"compressed", text(37, 3<<20), "text/plain"},
		} {
			r := io.MultiReader(bytes.NewReader(c.head), failingReader{fail})
			_, err := a.Put(e.Ctx, r, attach.PutOptions{MediaType: c.mt})
			wantErr(t, fmt.Sprintf("%s (%v)", c.name, fail), err, fail)
			fails++
		}
	}
	ctx, cancel := context.WithCancel(e.Ctx)
	defer cancel()
	r := &cancelAfter{r: bytes.NewReader(random(38, 3*objstore.MinPartSize)), n: objstore.MinPartSize + 1, cancel: cancel}
	_, err := a.Put(ctx, r, attach.PutOptions{})
	wantErr(t, "cancelled", err, context.Canceled)
	e.checkNoTrace("s1", fails+1)
}

// scribbler serves r and, at every Read, first overwrites every buffer it
// was handed before: a reader that keeps the slices a put gave it and
// changes them after the put hashed their bytes.
type scribbler struct {
	r    io.Reader
	kept [][]byte
}

func (s *scribbler) Read(p []byte) (int, error) {
	for _, b := range s.kept {
		for i := range b {
			b[i] ^= 0xff
		}
	}
	n, err := s.r.Read(p)
	s.kept = append(s.kept, p[:n])
	return n, err
}

// A caller's reader never holds a buffer whose bytes the put hashed and
// then stores: a reader that changes what it was handed after returning
// it does not make the stored bytes differ from the id (the hash of the
// bytes as read), which would make a digest's data wrong for every
// session that later deduplicates onto it. The put reads the stream into
// buffers of its own (attach/source.go) and hands on copies.
func testReaderScribblesAfterRead(t *testing.T, e *env) {
	a := e.session("s1", &attach.Options{PartSize: objstore.MinPartSize, Concurrency: 2})
	for _, c := range []struct {
		name string
		body []byte
		mt   string
	}{
		{"multipart", random(39, 2*objstore.MinPartSize+10), "application/octet-stream"},
		{"compressed", text(40, 3<<20), "text/plain"},
		{"small", random(41, 1000), "application/octet-stream"},
	} {
		ref, err := a.Put(e.Ctx, &scribbler{r: bytes.NewReader(slices.Clone(c.body))}, attach.PutOptions{MediaType: c.mt})
		e.Must(err)
		if want := digest(c.body); ref.ID != want {
			t.Fatalf("%s: id %.12s, want the digest of the bytes read %.12s", c.name, ref.ID, want)
		}
		rc, _, err := a.Get(e.Ctx, ref.ID, nil)
		e.Must(err)
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, c.body) {
			t.Fatalf("%s: read back %d bytes, %v: the stored bytes are not those the id names", c.name, len(got), err)
		}
	}
}
