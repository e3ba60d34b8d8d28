package manifesttest

import (
	"slices"
	"strings"
	"testing"

	"github.com/stowage-dev/stowage/ids"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore"
)

// Turn ids are text ids of any UTF-8 (encoded where they become keys) and
// compared as bytes: NFC and NFD twins and case twins are distinct turns,
// and a row owned by one is adopted by that turn alone.
func testTurnIDsAreBytes(t *testing.T, e *Env) {
	turns := []string{"caf\u00e9", "cafe\u0301", "T1", "t1", "a/b", "..", "x y", strings.Repeat("\u00fc", 100), strings.Repeat("z", ids.MaxTextLen)}
	rows := map[string]string{}
	for _, turn := range turns {
		id := ID("turn-row-" + turn)
		e.WithData("s1", id, manifest.TurnOwner(turn), "turn-row-"+turn)
		rows[turn] = id
	}
	for _, turn := range turns {
		prep, err := e.M.PrepareCommit(e.Ctx, "s1", 1, turn, nil)
		e.Must(err)
		got := prep.Stamp
		if want := []string{rows[turn]}; !slices.Equal(got, want) {
			t.Fatalf("PrepareCommit(turn %+q) = %v, want %v", turn, short(got), short(want))
		}
	}
	for k, err := range e.Obj.List(e.Ctx, manifest.TurnPrefix, nil) {
		e.Must(err)
		seg := strings.Split(strings.TrimPrefix(k.Key, manifest.TurnPrefix), "/")
		if len(seg) != 3 || seg[0] != "s1" || !ids.ValidKeySegment(seg[1]) || len(k.Key) > 512 {
			t.Fatalf("turn marker key %q is not attach/turns/<sid>/<encoded turn>/<id>", k.Key)
		}
	}
}

// Turn markers written by the first format (the raw turn id as the key
// segment) are still read: a turn's rows put before an upgrade are adopted
// by its commit after it.
func testPrepareCommitLegacyTurnMarkers(t *testing.T, e *Env) {
	x, y := ID("legacy-x"), ID("legacy-y")
	e.WithData("s1", x, manifest.TurnOwner("t-old"), "legacy-x")
	e.WithData("s1", y, manifest.TurnOwner("t-old"), "legacy-y")
	// Rewrite x's marker the way the first format wrote it.
	var current []string
	for k, err := range e.Obj.List(e.Ctx, manifest.TurnPrefix+"s1/", nil) {
		e.Must(err)
		if strings.HasSuffix(k.Key, "/"+x) {
			current = append(current, k.Key)
		}
	}
	if len(current) != 1 {
		t.Fatalf("markers of x: %v", current)
	}
	e.Must(e.Obj.Delete(e.Ctx, current[0], nil))
	_, err := e.Obj.Put(e.Ctx, manifest.TurnPrefix+"s1/t-old/"+x, nil, &objstore.PutOptions{})
	e.Must(err)
	prep, err := e.M.PrepareCommit(e.Ctx, "s1", 1, "t-old", nil)
	e.Must(err)
	got := prep.Stamp
	if want := sorted(x, y); !slices.Equal(got, want) {
		t.Fatalf("PrepareCommit over a legacy marker = %v, want %v", short(got), short(want))
	}
	e.Must(e.M.FinishCommit(e.Ctx, "s1", got, e.Clock.Now()))
	for k, err := range e.Obj.List(e.Ctx, manifest.TurnPrefix+"s1/", nil) {
		e.Must(err)
		t.Errorf("turn marker %q left after the commit", k.Key)
	}
}
