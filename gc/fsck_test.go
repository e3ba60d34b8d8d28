package gc_test

import (
	"testing"
	"time"

	"github.com/stowage-dev/stowage/gc"
	"github.com/stowage-dev/stowage/internal/fscktest"
	"github.com/stowage-dev/stowage/objstore"
)

// Every newEnv case of package gc ends with a deep fsck of its bucket.
func init() {
	gc.CheckAtCleanup = func(t *testing.T, objs objstore.Store, now func() time.Time) gc.InvariantCheck {
		return fscktest.AtCleanup(t, objs, now)
	}
}
