package stowage_test

import (
	"bytes"
	"context"
	"io"
	"iter"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stowage-dev/stowage"
	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/gc"
	"github.com/stowage-dev/stowage/internal/testenv"
	"github.com/stowage-dev/stowage/internal/testenv/s3env"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/fsstore"
	"github.com/stowage-dev/stowage/objstore/memstore"
	"github.com/stowage-dev/stowage/objstore/openurl"
	"github.com/stowage-dev/stowage/session"
)

// pauseList is one actor's view of the object store: its first List of
// prefix announces itself on reached and waits for resume (a fault point).
type pauseList struct {
	objstore.Store
	prefix  string
	once    sync.Once
	reached chan struct{}
	resume  chan struct{}
}

func (p *pauseList) List(ctx context.Context, prefix string, opts *objstore.ListOptions) iter.Seq2[objstore.ObjectInfo, error] {
	if prefix == p.prefix {
		p.once.Do(func() {
			close(p.reached)
			<-p.resume
		})
	}
	return p.Store.List(ctx, prefix, opts)
}

// raceBackends opens a fresh, empty store per backend: memory, files and
// each configured S3 server (under a fresh prefix).
func raceBackends(t *testing.T, run func(t *testing.T, objs objstore.Store)) {
	t.Run("mem", func(t *testing.T) { run(t, memstore.New(nil)) })
	t.Run("file", func(t *testing.T) {
		fs, err := fsstore.Open(t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { fs.Close() })
		run(t, fs)
	})
	testenv.ForEachServer(t, func(t *testing.T, srv testenv.Server) {
		s3env.Env(t, srv)
		prefix := strings.TrimSuffix(testenv.UniquePrefix(t), "/")
		st, err := openurl.Open(t.Context(), s3env.URL(srv, "s3store", prefix), nil)
		if err != nil {
			t.Fatalf("open %s: %v", srv.Name, err)
		}
		t.Cleanup(func() { st.Close() })
		run(t, st)
	})
}

// raceOpen returns a function that opens a stowage store on objects.
func raceOpen(t *testing.T) func(objstore.Store) *stowage.Store {
	return func(o objstore.Store) *stowage.Store {
		st, err := stowage.OpenStore(t.Context(), o, stowage.Config{})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
}

// racePut returns a function that puts an attachment of body in session
// "s" and returns its id.
func racePut(t *testing.T) func(*stowage.Store, string) string {
	return func(st *stowage.Store, body string) string {
		a, err := attach.New(st.Manifest(), "s", nil)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := a.Put(t.Context(), strings.NewReader(body), attach.PutOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return ref.ID
	}
}

// raceCommit returns a function that commits revision 1 of session "s"
// (expected revision 0) naming the attachments ids.
func raceCommit(t *testing.T) func(*stowage.Store, ...string) {
	return func(st *stowage.Store, ids ...string) {
		h, _ := st.Session("s")
		var zero uint64
		res, err := h.CommitRuntimeState(t.Context(), session.RuntimeCommit{SessionID: "s", ExpectedHeadRevision: &zero,
			Graph:                  session.GraphDelta{Kind: session.DeltaAppend, Leaf: "n", Nodes: []session.NodeRecord{{NodeID: "n", Kind: session.PayloadEvent, Event: []byte(`{}`)}}},
			CommittedAttachmentIDs: ids})
		if err != nil || res.HeadRevision != 1 || len(res.UnbackedAttachmentIDs) != 0 {
			t.Fatalf("commit naming %s: %+v %v", ids, res, err)
		}
	}
}

// TestDeleteSessionRacingRecreation: p1 puts A in s and commits revision 1;
// p2's DeleteSession lands its tombstone and stalls just before it lists
// the session's manifest markers; p3 re-creates s, puts B and commits at
// expected revision 0 (acknowledged); p2 resumes. B's row belongs to the
// new incarnation: it must still be readable, and survive a sweep.
func TestDeleteSessionRacingRecreation(t *testing.T) {
	raceBackends(t, func(t *testing.T, objs objstore.Store) {
		ctx := t.Context()
		open, put, commitWith := raceOpen(t), racePut(t), raceCommit(t)
		p1 := open(objs)
		a := put(p1, "attachment A")
		commitWith(p1, a)

		p2objs := &pauseList{Store: objs, prefix: manifest.SessionPrefix + "s/", reached: make(chan struct{}), resume: make(chan struct{})}
		p2 := open(p2objs)
		done := make(chan error, 1)
		go func() { done <- p2.DeleteSession(ctx, "s") }()
		select {
		case <-p2objs.reached:
		case err := <-done:
			t.Fatalf("DeleteSession returned %v without listing the session's markers", err)
		}

		// The new incarnation commits B, and A again (the same bytes as the
		// deleted incarnation's A: the same row key), then puts C, which no
		// commit names yet.
		p3 := open(objs)
		b := put(p3, "attachment B")
		commitWith(p3, b, put(p3, "attachment A"))
		c := put(p3, "attachment C")

		close(p2objs.resume)
		if err := <-done; err != nil {
			t.Fatalf("DeleteSession: %v", err)
		}

		readable := func(when string) {
			at, _ := attach.New(p3.Manifest(), "s", nil)
			for id, body := range map[string]string{b: "attachment B", a: "attachment A"} {
				rc, _, err := at.Get(ctx, id, nil)
				if err != nil {
					t.Fatalf("%s: %q, named by the acknowledged revision 1 of the re-created session: %v", when, body, err)
				}
				got, err := io.ReadAll(rc)
				rc.Close()
				if err != nil || !bytes.Equal(got, []byte(body)) {
					t.Fatalf("%s: %q reads %q, %v", when, body, got, err)
				}
			}
		}
		readable("after the delete returned")
		if ok, err := p3.Manifest().HoldsRef(ctx, "s", c); !ok || err != nil {
			t.Fatalf("the re-created session's uncommitted put is gone: %v", err)
		}

		h, _ := p3.Session("s")
		if r, err := h.LoadSession(ctx, session.FullGraph()); err != nil || r == nil || r.HeadRevision != 1 {
			t.Fatalf("re-created session: %+v %v", r, err)
		}
		sw := &gc.Sweeper{Store: objs, Grace: -1, Holder: "race", ForgetDeadIntents: true,
			Clock: func() time.Time { return time.Now().Add(time.Hour) }}
		if _, err := sw.Run(ctx); err != nil {
			t.Fatalf("sweep: %v", err)
		}
		readable("after a sweep")
	})
}
