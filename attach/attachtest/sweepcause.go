package attachtest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/gc"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/manifest/manifesttest"
)

// errRegistryDown is the failure of the test's process registry.
var errRegistryDown = errors.New("process registry down")

// failingRegistry is a process registry whose every lookup fails.
type failingRegistry struct{}

func (failingRegistry) HasProcess(context.Context, string) (bool, error) {
	return false, &registryError{err: errRegistryDown}
}

// registryError is a typed cause, to show errors.As reaches it.
type registryError struct{ err error }

func (e *registryError) Error() string { return "registry: " + e.err.Error() }
func (e *registryError) Unwrap() error { return e.err }

// testSweepFailureCause: when a sweep cannot finish because a root source
// (here the process registry that judges process-owned intents) fails, the
// error Run returns is ErrIncomplete and carries that cause, for errors.Is
// and errors.As, and the report names it.
func testSweepFailureCause(t *testing.T, e *env) {
	me := manifesttest.NewEnv(t, e.Obj, &manifest.Options{Processes: failingRegistry{}})
	me.WithData("s1", manifesttest.ID("proc"), manifest.ProcessOwner("p1"), "proc")
	me.Clock.Advance(2 * time.Hour)
	sw := gc.Sweeper{Store: e.Obj, Manifest: me.M, Clock: me.Clock.Now, Grace: time.Hour, ForgetDeadIntents: true}
	rep, err := sw.Run(e.Ctx)
	var re *registryError
	if !errors.Is(err, gc.ErrIncomplete) || !errors.Is(err, errRegistryDown) || !errors.As(err, &re) {
		t.Fatalf("sweep error %v: want ErrIncomplete carrying the registry's failure", err)
	}
	if len(rep.FailureCauses) == 0 {
		t.Fatalf("report %+v names no failure cause", rep)
	}
	if !me.Holds("s1", manifesttest.ID("proc")) {
		t.Fatal("a row whose owner could not be judged was forgotten")
	}
}
