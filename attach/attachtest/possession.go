package attachtest

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/manifest"
)

// errNoBytes is what a body opener of a session that does not have the
// bytes returns.
var errNoBytes = errors.New("attachtest: this session does not have the bytes")

// refuseOpen is a body opener that only fails, counting its calls.
func refuseOpen(calls *int) func() (io.Reader, error) {
	return func() (io.Reader, error) {
		*calls++
		return nil, errNoBytes
	}
}

// A digest is not a capability: a session that knows only the digest of
// bytes another session put and committed gets neither a ref nor the bytes
// from PutKnown. It adopts them only after streaming the same bytes through
// the hash (proof of possession), which uploads nothing. The digest-only
// shortcut stays for a session that itself holds a live ref.
func testPutKnownNeedsPossession(t *testing.T, e *env) {
	a, b := e.session("s1", nil), e.session("s2", nil)
	body := random(30, 20_000)
	ref := e.put(a, body, attach.PutOptions{})
	e.Must(e.M.FinishCommit(e.Ctx, "s1", []string{ref.ID}, e.Clock.Now()))

	calls := 0
	_, err := b.PutKnown(e.Ctx, ref.ID, int64(len(body)), refuseOpen(&calls), attach.PutOptions{})
	if !errors.Is(err, errNoBytes) || calls != 1 {
		t.Fatalf("B's PutKnown of A's digest without the bytes = %v after %d opens, want the opener's error after 1", err, calls)
	}
	e.wantNoRef(b, ref.ID)

	// Other bytes of the same size are no proof either.
	forged := random(31, len(body))
	_, err = b.PutKnown(e.Ctx, ref.ID, int64(len(body)), func() (io.Reader, error) { return bytes.NewReader(forged), nil }, attach.PutOptions{})
	wantErr(t, "B's PutKnown of A's digest with other bytes", err, attach.ErrChecksum)
	e.wantNoRef(b, ref.ID)

	// The same bytes are: B adopts A's data and uploads nothing.
	opens := 0
	got, err := b.PutKnown(e.Ctx, ref.ID, -1, func() (io.Reader, error) {
		opens++
		return bytes.NewReader(body), nil
	}, attach.PutOptions{Label: "b"})
	e.Must(err)
	if got.ID != ref.ID || got.Size != int64(len(body)) || opens != 1 {
		t.Fatalf("proven PutKnown: ref %+v after %d opens", got, opens)
	}
	if e.row("s2", ref.ID).Data != e.row("s1", ref.ID).Data {
		t.Fatal("proven PutKnown did not adopt the existing data")
	}
	if keys := e.keys(manifest.DataPrefix); len(keys) != 1 {
		t.Fatalf("proven PutKnown uploaded: data objects %v", keys)
	}
	if n := len(e.incomplete()); n != 0 {
		t.Fatalf("proven PutKnown left %d multipart uploads", n)
	}
	if n := len(e.uploads()); n != 0 {
		t.Fatalf("proven PutKnown left %d upload intents", n)
	}
	e.mustGet(b, ref.ID, body)

	// A session with a live ref of its own needs no proof.
	calls = 0
	again, err := a.PutKnown(e.Ctx, ref.ID, int64(len(body)), refuseOpen(&calls), attach.PutOptions{Label: "a2"})
	e.Must(err)
	if again.ID != ref.ID || calls != 0 {
		t.Fatalf("own-ref PutKnown: %+v after %d opens", again, calls)
	}
}

// wantNoRef checks that a holds no ref to id and cannot read or stat it.
func (e *env) wantNoRef(a *attach.Store, id string) {
	e.T.Helper()
	if e.Holds(a.SessionID(), id) {
		e.T.Fatalf("session %s holds a ref to %s", a.SessionID(), id[:8])
	}
	_, _, err := a.Get(e.Ctx, id, nil)
	wantErr(e.T, "Get without a ref", err, attach.ErrNotFound)
	_, err = a.Stat(e.Ctx, id)
	wantErr(e.T, "Stat without a ref", err, attach.ErrNotFound)
}
