package fsck_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/fsck"
	"github.com/stowage-dev/stowage/gc"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/session"
)

// TestUnreadableIntentIsReportedAndSkipped: an upload intent that does not
// decode does not stop the check: it is a problem and listed unreadable,
// its data is not called an orphan, the rest is checked (another orphan is
// found), and the report needs attention.
func TestUnreadableIntentIsReportedAndSkipped(t *testing.T) {
	f := newFixture(t)
	id := "01KBZBR0KEN000000000000000"
	f.put(manifest.UploadKey(id), []byte("{not an envelope"))
	f.put(manifest.DataKey(id), []byte("bytes of a broken upload"))
	orphan := manifest.DataKey("01KBZ01D0RPHAN000000000000")
	f.put(orphan, []byte("left by a killed upload"))
	f.now = f.now.Add(2 * time.Hour)
	rep := f.check(nil)
	wantProblem(t, rep, fsck.InvUnreadable, manifest.UploadKey(id))
	if !slices.Equal(rep.Unreadable, []string{manifest.UploadKey(id)}) || !rep.NeedsAttention {
		t.Errorf("unreadable %q, needs attention %v", rep.Unreadable, rep.NeedsAttention)
	}
	var orphans []string
	for _, o := range rep.Orphans {
		orphans = append(orphans, o.Key)
	}
	if !slices.Equal(orphans, []string{orphan}) {
		t.Errorf("orphans %q, want only %s", orphans, orphan)
	}
}

// TestUnreadableRowMakesNoDataOrphan: while a row cannot be read, no data
// is called an orphan (the row may name it).
func TestUnreadableRowMakesNoDataOrphan(t *testing.T) {
	f := newFixture(t)
	row := manifest.RefKey(strings.Repeat("ab", 32), "s3")
	f.put(row, []byte("garbage"))
	f.put(manifest.DataKey("01KBZ01D0RPHAN000000000000"), []byte("left by a killed upload"))
	f.now = f.now.Add(2 * time.Hour)
	rep := f.check(nil)
	wantProblem(t, rep, fsck.InvUnreadable, row)
	if n := rep.OrphanCounts(false)[gc.KindAttachmentData]; n != 0 {
		t.Errorf("%d data orphans reported while a row cannot be read", n)
	}
}

// TestForeignKeyShapesAreUnknown: keys under a session and under
// attach/data/ that stowage never writes are listed unknown, not orphans.
func TestForeignKeyShapesAreUnknown(t *testing.T) {
	f := newFixture(t)
	foreign := []string{manifest.DataPrefix + "backup.tar", session.SessionPrefix("s1") + "seg/not-a-ulid"} // sorted
	for _, k := range foreign {
		f.put(k, []byte("not stowage's"))
	}
	f.now = f.now.Add(2 * time.Hour)
	rep := f.check(nil)
	if !slices.Equal(rep.Unknown, foreign) || !rep.NeedsAttention {
		t.Errorf("unknown %q, needs attention %v; want %q", rep.Unknown, rep.NeedsAttention, foreign)
	}
	for _, o := range rep.Orphans {
		if slices.Contains(foreign, o.Key) {
			t.Errorf("foreign key %s reported as an orphan", o.Key)
		}
	}
}
