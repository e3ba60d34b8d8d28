package manifest_test

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/manifest/manifesttest"
	"github.com/stowage-dev/stowage/objstore/memstore"
)

// TestReadsWaitForStampsInFlight: while a stamp begun with BeginStamps is
// in flight, the Store's reads of that session's rows and its store-wide
// reads wait, and return the stamped row once it is done; a read of
// another session does not wait. (synctest: a read is blocked exactly when
// it is durably blocked in the bubble.)
func TestReadsWaitForStampsInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		objs := memstore.New(nil)
		m := manifest.New(objs, nil)
		id := manifesttest.ID("tool output")
		key := manifest.DataKey(m.NewUploadID())
		if _, err := objs.Put(ctx, key, []byte("tool output"), nil); err != nil {
			t.Fatal(err)
		}
		for _, sid := range []string{"s1", "s2"} {
			if _, err := m.RecordRef(ctx, manifest.Intent{SessionID: sid, AttachmentID: id}, manifest.Info{},
				func(*manifest.Row) (manifest.Data, error) {
					return manifest.Data{Key: key, Size: 11, StoredSize: 11}, nil
				}); err != nil {
				t.Fatal(err)
			}
		}
		done := m.BeginStamps("s1")
		reads := map[string]func() bool{
			"Row(s1)": func() bool { row, _, _ := m.Row(ctx, "s1", id); return row.Committed() },
			"ListUncommitted": func() bool {
				un, _ := m.ListUncommitted(ctx, m.Now())
				return len(un) == 1 // s2's row only
			},
		}
		got := map[string]chan bool{}
		for name, read := range reads {
			got[name] = make(chan bool, 1)
			go func() { got[name] <- read() }()
		}
		other := make(chan struct{})
		go func() { _, _, _ = m.Row(ctx, "s2", id); close(other) }()
		synctest.Wait()
		select {
		case <-other:
		default:
			t.Fatal("a read of another session waited for s1's stamp")
		}
		for name, c := range got {
			select {
			case <-c:
				t.Fatalf("%s returned while s1's stamp was in flight", name)
			default:
			}
		}
		if err := m.FinishCommit(ctx, "s1", []string{id}, m.Now()); err != nil {
			t.Fatal(err)
		}
		done()
		for name, c := range got {
			if !<-c {
				t.Errorf("%s after the stamp: not the stamped rows", name)
			}
		}
	})
}
