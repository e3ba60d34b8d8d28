package session_test

import (
	"testing"

	"github.com/stowage-dev/stowage/objstore/memstore"
	"github.com/stowage-dev/stowage/session"
)

// TestPlaceholderEndsNoIncarnation: a placeholder head (a sweep's, or an
// announcement's, where no head was) reports no incarnation, like no head,
// so a deletion's ForgetSession that reads it never takes the rows the
// first commit binds to incarnation 1 for rows of an ended incarnation.
func TestPlaceholderEndsNoIncarnation(t *testing.T) {
	ctx := t.Context()
	objs := memstore.New(nil)
	refs := session.HeadRefs{Store: objs}
	for name, make := range map[string]func(sid string) error{
		"sweep":    func(sid string) error { _, err := session.SweepHead(ctx, objs, sid, ""); return err },
		"announce": func(sid string) error { return refs.AnnounceTurn(ctx, sid, "t1", "") },
	} {
		if err := make(name); err != nil {
			t.Fatal(err)
		}
		info, err := session.ReadHead(ctx, objs, name)
		if err != nil || info == nil || !info.Placeholder {
			t.Fatalf("%s: not a placeholder: %+v, %v", name, info, err)
		}
		if inc, live, err := refs.Incarnation(ctx, name); err != nil || inc != 0 || live {
			t.Fatalf("%s: placeholder reports incarnation %d, live %v, %v; want 0, false", name, inc, live, err)
		}
	}
}
