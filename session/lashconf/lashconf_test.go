package lashconf_test

import (
	"testing"
	"time"

	"github.com/stowage-dev/stowage/internal/testenv/s3env"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/fsstore"
	"github.com/stowage-dev/stowage/objstore/memstore"
	"github.com/stowage-dev/stowage/session/lashconf"
)

func TestLashMemstore(t *testing.T) {
	lashconf.Run(t, lashconf.Harness{Open: func(t testing.TB, now func() time.Time) objstore.Store {
		return memstore.New(&memstore.Options{Clock: now})
	}})
}

func TestLashFsstore(t *testing.T) {
	lashconf.Run(t, lashconf.Harness{Open: func(t testing.TB, now func() time.Time) objstore.Store {
		st, err := fsstore.Open(t.TempDir(), &fsstore.Options{Clock: now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}})
}

// TestLashS3 runs the suite through the composed stack (openurl: s3store or
// miniostore, retry, metrics, prefix) against each local server, each case
// under a fresh prefix.
func TestLashS3(t *testing.T) {
	s3env.ForEachClient(t, func(t *testing.T, open s3env.Open) {
		lashconf.Run(t, lashconf.Harness{Open: open})
	})
}
