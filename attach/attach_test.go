package attach_test

import (
	"testing"

	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/attach/attachtest"
	"github.com/stowage-dev/stowage/internal/s3compat/s3test"
	"github.com/stowage-dev/stowage/internal/testenv"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/manifest/manifesttest"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/fsstore"
	"github.com/stowage-dev/stowage/objstore/memstore"
)

func TestMemstore(t *testing.T) {
	attachtest.Run(t, attachtest.Harness{
		New: func(*testing.T) objstore.Store { return memstore.New(nil) },
	})
}

func TestFsstore(t *testing.T) {
	dirs := map[objstore.Store]string{}
	open := func(t *testing.T, dir string) objstore.Store {
		s, err := fsstore.Open(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		dirs[s] = dir
		return s
	}
	attachtest.Run(t, attachtest.Harness{
		New:    func(t *testing.T) objstore.Store { return open(t, t.TempDir()) },
		Reopen: func(t *testing.T, s objstore.Store) objstore.Store { return open(t, dirs[s]) },
		Large:  !testenv.Short(),
	})
}

func TestS3(t *testing.T) {
	manifesttest.ForEachS3(t, func(t *testing.T, base objstore.Store) {
		attachtest.Run(t, attachtest.Harness{
			New: func(t *testing.T) objstore.Store { return s3test.Prefixed(t, base) },
		})
	})
}

// TestDurable checks that the declared persistence follows the store.
func TestDurable(t *testing.T) {
	fs, err := fsstore.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	for _, c := range []struct {
		obj  objstore.Store
		want bool
	}{{memstore.New(nil), false}, {fs, true}} {
		a, err := attach.New(manifest.New(c.obj, nil), "s1", nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := a.Durable(); got != c.want {
			t.Errorf("%s: Durable() = %v, want %v", c.obj.Capabilities().Provider, got, c.want)
		}
	}
}
