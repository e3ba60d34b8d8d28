package main

import (
	"bytes"
	"context"
	"io"
	"iter"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/stowage-dev/stowage/internal/exitcode"
	"github.com/stowage-dev/stowage/marker"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/session"
)

// tripStore delivers a real SIGTERM to the process at the first request
// trip matches, then answers it as a request the cancellation cut short:
// it waits for the signal's context to be cancelled and fails with its
// error. No sleep: the request blocks on the cancellation itself.
type tripStore struct {
	objstore.Store
	ctx  context.Context // cancelled by the signal (exitcode.NotifyContext)
	trip func(key string) bool
	once sync.Once
}

func (s *tripStore) fire(key string) error {
	if !s.trip(key) {
		return nil
	}
	fired := false
	s.once.Do(func() { fired = true })
	if !fired {
		return nil
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		return err
	}
	<-s.ctx.Done()
	return s.ctx.Err()
}

func (s *tripStore) Get(ctx context.Context, key string, opts *objstore.GetOptions) (io.ReadCloser, objstore.ObjectInfo, error) {
	if err := s.fire(key); err != nil {
		return nil, objstore.ObjectInfo{}, err
	}
	return s.Store.Get(ctx, key, opts)
}

func (s *tripStore) Head(ctx context.Context, key string) (objstore.ObjectInfo, error) {
	if err := s.fire(key); err != nil {
		return objstore.ObjectInfo{}, err
	}
	return s.Store.Head(ctx, key)
}

func (s *tripStore) List(ctx context.Context, prefix string, opts *objstore.ListOptions) iter.Seq2[objstore.ObjectInfo, error] {
	return func(yield func(objstore.ObjectInfo, error) bool) {
		if err := s.fire(prefix); err != nil {
			yield(objstore.ObjectInfo{}, err)
			return
		}
		for o, err := range s.Store.List(ctx, prefix, opts) {
			if !yield(o, err) {
				return
			}
		}
	}
}

// afterOpen matches every request past opening the store (the marker,
// the probe's read checks).
func afterOpen(key string) bool {
	return key != "" && key != marker.Key && !strings.HasPrefix(key, "_stowage/")
}

// TestInspectInterruptedExits143: SIGTERM in the middle of any inspect
// subject exits 143, and inspect sessions does not report the session whose
// read the signal cut short as unreadable (on main: exit 0, "unreadable:
// ... context canceled").
func TestInspectInterruptedExits143(t *testing.T) {
	storeURL, id := inspectFixture(t)
	for _, c := range []struct {
		args []string
		trip func(string) bool
	}{
		// Mid-listing: the listing has started, the head read is cut.
		{[]string{"sessions"}, func(k string) bool { return k == session.HeadKey("s1") }},
		{[]string{"sessions", "--json"}, func(k string) bool { return k == session.HeadKey("s1") }},
		{[]string{"head", "s1"}, afterOpen},
		{[]string{"log", "s1"}, afterOpen},
		{[]string{"graph", "s1"}, afterOpen},
		{[]string{"refs", "s1"}, afterOpen},
		{[]string{"cat", "s1", id}, afterOpen},
	} {
		ctx, stop := exitcode.NotifyContext(t.Context())
		var out, errb bytes.Buffer
		e := &env{ctx: ctx, getenv: func(string) string { return "" }, stdout: &out, stderr: &errb,
			wrap: func(s objstore.Store) objstore.Store { return &tripStore{Store: s, ctx: ctx, trip: c.trip} }}
		code := e.run(append([]string{"inspect", "--store", storeURL}, c.args...))
		stop()
		if ctx.Err() == nil {
			t.Fatalf("inspect %q: the signal never landed", c.args)
		}
		if code != exitcode.Terminated {
			t.Errorf("inspect %q: exit %d, want %d\n%s%s", c.args, code, exitcode.Terminated, out.String(), errb.String())
		}
		if strings.Contains(out.String(), "unreadable") {
			t.Errorf("inspect %q reports an interrupted read as unreadable:\n%s", c.args, out.String())
		}
	}
}
