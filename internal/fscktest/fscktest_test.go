package fscktest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/fsck"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/memstore"
	"github.com/stowage-dev/stowage/session"
)

// recorder is a testing.TB that records errors instead of failing.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper()                   {}
func (r *recorder) Logf(string, ...any)       {}
func (r *recorder) Errorf(f string, a ...any) { r.errs = append(r.errs, fmt.Sprintf(f, a...)) }

// brokenStore returns a store holding one session whose head names a
// checkpoint blob that is gone.
func brokenStore(t *testing.T) objstore.Store {
	ctx := context.Background()
	objs := memstore.New(nil)
	s, err := session.New(session.Config{Store: objs, SessionID: "s1", Tuning: session.Tuning{InlineBlobMax: 1}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.CommitRuntimeState(ctx, session.RuntimeCommit{SessionID: "s1",
		Checkpoint: &session.HydratedCheckpoint{ToolState: []byte(`{"a large enough tool state":true}`)}})
	if err != nil {
		t.Fatal(err)
	}
	info, err := session.ReadHead(ctx, objs, "s1")
	if err != nil || len(info.Keys) == 0 {
		t.Fatalf("head %+v, %v: want a named blob", info, err)
	}
	if err := objs.Delete(ctx, info.Keys[0], nil); err != nil {
		t.Fatal(err)
	}
	return objs
}

func TestVerifyFailsOnAViolation(t *testing.T) {
	r := &recorder{}
	(&Checker{objs: brokenStore(t)}).verify(r)
	if len(r.errs) != 1 || !strings.Contains(r.errs[0], "but missing") {
		t.Fatalf("errors %q, want one naming the missing object", r.errs)
	}
}

func TestExpectations(t *testing.T) {
	objs := brokenStore(t)
	for _, c := range []struct {
		name   string
		expect func(c *Checker)
		fails  bool
	}{
		{"met", func(c *Checker) { c.Expect(fsck.InvNamed, "") }, false},
		{"other invariant", func(c *Checker) { c.Expect(fsck.InvHead, "") }, true},
		{"unmet", func(c *Checker) { c.Expect(fsck.InvNamed, ""); c.Expect(fsck.InvRef, "x") }, true},
		{"allowed", func(c *Checker) { c.Allow(fsck.InvNamed, "", "test"); c.Allow(fsck.InvRef, "x", "test") }, false},
	} {
		r := &recorder{}
		ch := &Checker{objs: objs, now: time.Now}
		c.expect(ch)
		ch.verify(r)
		if got := len(r.errs) > 0; got != c.fails {
			t.Errorf("%s: errors %q, want failure %v", c.name, r.errs, c.fails)
		}
	}
	if rep, err := Check(memstore.New(nil), nil); err != nil || !rep.Clean() {
		t.Fatalf("an empty store: %+v, %v", rep, err)
	}
}
