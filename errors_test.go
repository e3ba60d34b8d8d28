package stowage_test

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/stowage-dev/stowage"
	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/fence"
	"github.com/stowage-dev/stowage/gc"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore/memstore"
	"github.com/stowage-dev/stowage/session"
)

// layerPrefix is a package's prefix at the start of a message part.
var layerPrefix = regexp.MustCompile(`(?:^|: )([a-z0-9]+): `)

// TestErrorMessagesNameEachLayerOnce: representative errors of each layer
// read outside in, each layer's prefix once ("gc: probe: gc: root set ..."
// was the old form).
func TestErrorMessagesNameEachLayerOnce(t *testing.T) {
	ctx := context.Background()
	mem := memstore.New(nil)
	st, err := stowage.OpenStore(ctx, mem, stowage.Config{})
	if err != nil {
		t.Fatal(err)
	}
	zero := strings.Repeat("0", 64)
	a, err := attach.New(st.Manifest(), "s1", &attach.Options{MaxSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	sess, err := st.Session("s1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mem.Put(ctx, manifest.DataKey("01ORPHAN"), []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	errOf := func(_ any, err error) error { return err }
	_, _, getErr := a.Get(ctx, zero, nil)
	for _, c := range []struct {
		err  error
		want string
	}{
		{errOf((&gc.Sweeper{Store: mem, Grace: -1, Holder: "t"}).Run(ctx)), "gc: probe: root set is empty but blobs exist"},
		{fence.New(mem, nil).Protect(ctx, manifest.DataKey("01GONE")), `fence: protect "attach/data/01GONE": data is gone: data reclaimed`},
		{errOf(a.Put(ctx, bytes.NewReader([]byte("too big")), attach.PutOptions{})), "attach: put: attachment exceeds the maximum size of 1 bytes"},
		{getErr, "attach: get: attachment not found: " + zero},
		{errOf(sess.CommitRuntimeState(ctx, session.RuntimeCommit{SessionID: "s1", ExpectedHeadRevision: new(uint64(3))})),
			"session: head revision conflict: expected 3, actual 0"},
	} {
		if c.err == nil {
			t.Errorf("want %q, got no error", c.want)
			continue
		}
		if !strings.HasPrefix(c.err.Error(), c.want) {
			t.Errorf("got %q, want %q", c.err, c.want)
		}
		seen := map[string]bool{}
		for _, m := range layerPrefix.FindAllStringSubmatch(c.err.Error(), -1) {
			if seen[m[1]] {
				t.Errorf("%q names layer %q twice", c.err, m[1])
			}
			seen[m[1]] = true
		}
	}
}
