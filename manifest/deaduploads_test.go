package manifest_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/internal/testclock"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore/memstore"
)

// registry holds the processes "here"; a lookup of "flaky" fails.
type registry struct{}

var errLookup = errors.New("registry unavailable")

func (registry) HasProcess(_ context.Context, id string) (bool, error) {
	if id == "flaky" {
		return false, errLookup
	}
	return id == "here", nil
}

// TestDeadUploadsIsWhatForgetAgedUploadsForgets: over upload intents of
// every kind (aborted aged and young, ownerless, process owners alive, dead
// and unknown, grants expired and not), DeadUploads names exactly the
// intents ForgetAgedUploads then deletes, writes nothing, and returns the
// owner lookup that failed as ForgetAgedUploads does.
func TestDeadUploadsIsWhatForgetAgedUploadsForgets(t *testing.T) {
	ctx := context.Background()
	clock := testclock.New()
	objs := memstore.New(&memstore.Options{Clock: clock.Now})
	m := manifest.New(objs, &manifest.Options{Now: clock.Now, Processes: registry{}})
	id := strings.Repeat("ab", 32)
	want := map[string]string{} // upload id -> what it is, for the dead ones
	begin := func(what string, dead bool, owner manifest.Owner) manifest.Upload {
		u, err := m.BeginUpload(ctx, "s1", owner, "")
		if err != nil {
			t.Fatal(err)
		}
		if dead {
			want[u.ID] = what
		}
		return u
	}
	abort := func(u manifest.Upload) {
		if err := m.AbandonUpload(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	abort(begin("aborted", true, manifest.ProcessOwner("here")))
	begin("ownerless", true, manifest.Owner{})
	begin("process gone", true, manifest.ProcessOwner("gone"))
	begin("process alive", false, manifest.ProcessOwner("here"))
	begin("process unknown", false, manifest.ProcessOwner("flaky"))
	for i, expires := range []time.Duration{time.Minute, 2 * time.Hour} {
		g, err := m.BeginGrant(ctx, "s1", manifest.ProcessOwner("here"), id, 4, clock.Now().Add(expires))
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			want[g.ID] = "grant expired"
		}
	}
	clock.Advance(time.Hour)
	abort(begin("aborted young", false, manifest.Owner{}))
	cutoff := clock.Now().Add(-time.Second)

	intents := func() []string {
		var ids []string
		for u, err := range m.Uploads(ctx) {
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, fmt.Sprintf("%s %s", u.ID, u.State))
		}
		return ids
	}
	before := intents()
	dead, err := m.DeadUploads(ctx, cutoff)
	if !errors.Is(err, errLookup) {
		t.Errorf("DeadUploads: %v, want the failed lookup", err)
	}
	got := map[string]string{}
	for _, u := range dead {
		got[u.ID] = want[u.ID]
	}
	if len(got) != len(want) || len(dead) != len(want) {
		t.Errorf("DeadUploads named %v, want %v", got, want)
	}
	if after := intents(); !slices.Equal(before, after) {
		t.Fatalf("DeadUploads wrote: %q, then %q", before, after)
	}
	n, err := m.ForgetAgedUploads(ctx, cutoff)
	if !errors.Is(err, errLookup) || n != len(want) {
		t.Errorf("ForgetAgedUploads: %d, %v; want %d and the failed lookup", n, err, len(want))
	}
	for _, u := range dead {
		if _, ok, err := m.LoadUpload(ctx, u.ID); err != nil || ok {
			t.Errorf("%s (%s) after ForgetAgedUploads: %v, %v; want forgotten", u.ID, want[u.ID], ok, err)
		}
	}
	if left := intents(); len(left) != len(before)-len(want) {
		t.Errorf("left %q of %q, want %d forgotten", left, before, len(want))
	}
}
