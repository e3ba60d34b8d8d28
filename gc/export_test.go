package gc

import (
	"testing"
	"time"

	"github.com/stowage-dev/stowage/objstore"
)

// InvariantCheck is the deep fsck that every newEnv case runs when it ends
// (internal/fscktest). Package gc's own tests cannot import fsck, which
// imports gc; the external test package installs it (fsck_test.go).
type InvariantCheck interface {
	Expect(invariant, detail string)
	Skip(reason string)
}

// CheckAtCleanup is set by the external test package: it registers the
// check of objs in t's cleanup.
var CheckAtCleanup func(t *testing.T, objs objstore.Store, now func() time.Time) InvariantCheck

// noCheck stands in if no check was installed (it always is: the external
// test package is part of every test binary of gc).
type noCheck struct{}

func (noCheck) Expect(string, string) {}
func (noCheck) Skip(string)           {}
