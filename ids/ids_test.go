package ids_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stowage-dev/stowage/ids"
)

func TestGrammars(t *testing.T) {
	for _, c := range []struct {
		name  string
		check func(string) error
		good  []string
		bad   []string
	}{
		{"Session", ids.Session,
			[]string{"s", "a.b", "..a", "~!@#$%^&*()_+-=[]{}|;:'\",<>?", strings.Repeat("z", 128)},
			[]string{"", ".", "..", "a/b", "a\\b", "a b", "a\x00", "\x7f", "é", strings.Repeat("z", 129)}},
		{"Attachment", ids.Attachment,
			[]string{strings.Repeat("0", 64), strings.Repeat("af", 32)},
			[]string{"", strings.Repeat("A", 64), strings.Repeat("0", 63), strings.Repeat("0", 65), "../" + strings.Repeat("0", 61)}},
		{"Upload", ids.Upload,
			[]string{"01JAAAAAAAAAAAAAAAAAAAAAAA", "7ZZZZZZZZZZZZZZZZZZZZZZZZZ"},
			[]string{"", "01jaaaaaaaaaaaaaaaaaaaaaaa", "8ZZZZZZZZZZZZZZZZZZZZZZZZZ", "01JAAAAAAAAAAAAAAAAAAAAAAU", "../AAAAAAAAAAAAAAAAAAAAAAA"}},
		{"Turn", ids.Turn,
			[]string{"t", "a/b", "café", "..", "x y", strings.Repeat("é", 256)},
			[]string{"", "a\x00", "line\nbreak", "\xff\xfe", "del\x7f", "c1\u0085", strings.Repeat("n", 513)}},
	} {
		for _, id := range c.good {
			if err := c.check(id); err != nil {
				t.Errorf("%s(%.40q) = %v, want nil", c.name, id, err)
			}
		}
		for _, id := range c.bad {
			if err := c.check(id); !errors.Is(err, ids.ErrInvalidID) {
				t.Errorf("%s(%.40q) = %v, want ErrInvalidID", c.name, id, err)
			}
		}
	}
}

// KeySegment is injective on bytes and yields one safe key segment.
func TestKeySegment(t *testing.T) {
	twins := []string{"caf\u00e9", "cafe\u0301", "T1", "t1", "a/b", "a", "aa", "..", ".", "x y",
		strings.Repeat("é", 64), strings.Repeat("é", 65), strings.Repeat("z", 512), strings.Repeat("z", 511)}
	seen := map[string]string{}
	for _, id := range twins {
		seg := ids.KeySegment(id)
		if prev, dup := seen[seg]; dup {
			t.Fatalf("KeySegment(%.20q) = KeySegment(%.20q) = %q", id, prev, seg)
		}
		seen[seg] = id
		if seg == "" || seg == "." || seg == ".." || strings.ContainsAny(seg, "/\\ ") || len(seg) > 205 || !ids.ValidKeySegment(seg) {
			t.Fatalf("KeySegment(%.20q) = %q: not a safe key segment", id, seg)
		}
		if back, ok := ids.ParseKeySegment(seg); len(id) <= 128 && (!ok || back != id) {
			t.Fatalf("ParseKeySegment(%q) = %q, %v; want %.20q", seg, back, ok, id)
		}
		if strings.Trim(seg, "abcdefghijklmnopqrstuvwxyz-0123456789") != "" {
			t.Fatalf("KeySegment(%.20q) = %q holds other bytes", id, seg)
		}
	}
	for _, seg := range []string{"", "A", "a=", "sha256-xyz", "a/b"} {
		if ids.ValidKeySegment(seg) {
			t.Errorf("ValidKeySegment(%q) = true", seg)
		}
	}
}
