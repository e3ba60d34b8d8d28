package session_test

import (
	"testing"
	"time"

	"github.com/stowage-dev/stowage/objstore/fsstore"
	"github.com/stowage-dev/stowage/objstore/memstore"
	"github.com/stowage-dev/stowage/session/sessiontest"
)

func TestConformanceMemstore(t *testing.T) {
	sessiontest.Run(t, sessiontest.Harness{
		New: func(t testing.TB, now func() time.Time) sessiontest.Env {
			return sessiontest.Env{Store: memstore.New(&memstore.Options{Clock: now})}
		},
	})
}

func TestConformanceFsstore(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	sessiontest.Run(t, sessiontest.Harness{
		New: func(t testing.TB, now func() time.Time) sessiontest.Env {
			st, err := fsstore.Open(t.TempDir(), &fsstore.Options{Clock: now})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return realManifestEnv(st, now)
		},
	})
}
