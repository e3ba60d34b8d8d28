package gc

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/manifest"
)

// TestSweepDeletesOnlyStowageKeyShapes (rule 0): aged keys under a
// session's seg/, idx/ and blob/ and under attach/data/ that do not parse
// exactly as stowage writes them (a ULID where a ULID goes) are reported as
// unknown and never deleted, with the fence in place; the one that does
// parse is reclaimed.
func TestSweepDeletesOnlyStowageKeyShapes(t *testing.T) {
	e := newEnv(t)
	e.fsck.Expect("head", "head does not decode") // simulated heads
	e.attach("s1", []byte("kept"))
	_, unnamed, _ := e.sessionObjects("s1")
	ulid := "01KBZF0REIGN00000000000000"
	foreign := []string{
		blobKeyOf("s1", "not-a-ulid"),
		blobKeyOf("s1", strings.ToLower(ulid)),
		blobKeyOf("s1", ulid+".bak"),
		"sessions/s1/seg/" + ulid + "/x",
		"sessions/s1/idx/x",
		manifest.DataPrefix + "backup.tar",
		manifest.DataPrefix + strings.ToLower(ulid),
	}
	for _, k := range foreign {
		if _, err := e.store.Put(e.ctx, k, []byte("not stowage's"), nil); err != nil {
			t.Fatal(err)
		}
	}
	e.advance(48 * time.Hour)
	sw := e.sweeper()
	ids := 0
	sw.Heads = simHeads{ids: func() string { ids++; return fmt.Sprint("sweep", ids) }}
	rep, err := sw.Run(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range foreign {
		if !e.exists(k) {
			t.Errorf("%s was deleted: it is not of stowage's key shape", k)
		}
		if !slices.Contains(rep.Unknown, k) {
			t.Errorf("%s not reported as unknown (unknown: %q)", k, rep.Unknown)
		}
	}
	if e.exists(unnamed) {
		t.Errorf("the unnamed session object of stowage's shape was kept")
	}
	if !rep.NeedsAttention {
		t.Errorf("report does not say it needs a look: %+v", rep)
	}
}

// TestSweepSkipsUnreadableUploadIntent: an upload intent that does not
// decode is reported and kept, the data its key implies is kept, and the
// rest of the sweep proceeds (another orphan is reclaimed), with or
// without forgetting dead intents.
func TestSweepSkipsUnreadableUploadIntent(t *testing.T) {
	for _, forget := range []bool{false, true} {
		t.Run(fmt.Sprint("forget=", forget), func(t *testing.T) {
			e := newEnv(t)
			e.fsck.Expect("unreadable", "upload intent cannot be read") // on purpose
			e.attach("s1", []byte("kept"))
			id := "01KBZBR0KEN000000000000000"
			intent, data := manifest.UploadKey(id), manifest.DataKey(id)
			for k, v := range map[string]string{intent: "{not an envelope", data: "bytes of a broken upload"} {
				if _, err := e.store.Put(e.ctx, k, []byte(v), nil); err != nil {
					t.Fatal(err)
				}
			}
			orphan := e.orphan()
			e.advance(48 * time.Hour)
			sw := e.sweeper()
			sw.ForgetDeadIntents = forget
			rep, err := sw.Run(e.ctx)
			if err != nil {
				t.Fatalf("one unreadable intent stopped the sweep: %v", err)
			}
			if !e.exists(intent) || !e.exists(data) {
				t.Errorf("unreadable intent kept %v, its data kept %v; want both", e.exists(intent), e.exists(data))
			}
			if e.exists(orphan) {
				t.Errorf("the rest of the sweep did not run: orphan %s kept", orphan)
			}
			if rep.Unreadable != 1 || !slices.Equal(rep.UnreadableKeys, []string{intent}) || !rep.NeedsAttention {
				t.Errorf("report: unreadable %d %q, needs attention %v", rep.Unreadable, rep.UnreadableKeys, rep.NeedsAttention)
			}
		})
	}
}

// TestSweepUnreadableRowKeepsAllData: a manifest row that does not decode
// may name any data, so no attachment data is deleted while it is there;
// the row is reported and the rest of the sweep (session objects) goes on.
func TestSweepUnreadableRowKeepsAllData(t *testing.T) {
	e := newEnv(t)
	e.fsck.Expect("head", "head does not decode")      // simulated heads
	e.fsck.Expect("unreadable", "row does not decode") // on purpose
	e.attach("s1", []byte("kept"))
	_, unnamed, _ := e.sessionObjects("s2")
	row := manifest.RefKey(strings.Repeat("ab", 32), "s3")
	if _, err := e.store.Put(e.ctx, row, []byte("garbage"), nil); err != nil {
		t.Fatal(err)
	}
	orphan := e.orphan()
	e.advance(48 * time.Hour)
	sw := e.sweeper()
	ids := 0
	sw.Heads = simHeads{ids: func() string { ids++; return fmt.Sprint("sweep", ids) }}
	rep, err := sw.Run(e.ctx)
	if err != nil {
		t.Fatalf("one unreadable row stopped the sweep: %v", err)
	}
	if !e.exists(orphan) || !e.exists(row) {
		t.Errorf("orphan kept %v, row kept %v; want both while a row cannot be read", e.exists(orphan), e.exists(row))
	}
	if e.exists(unnamed) {
		t.Errorf("session objects were not swept")
	}
	if rep.Unreadable != 1 || !rep.NeedsAttention {
		t.Errorf("report: unreadable %d %q, needs attention %v", rep.Unreadable, rep.UnreadableKeys, rep.NeedsAttention)
	}
}
