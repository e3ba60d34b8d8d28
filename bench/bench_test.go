package bench

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stowage-dev/stowage/internal/soak"
)

func TestJudge(t *testing.T) {
	for _, c := range []struct {
		f    Figure
		want bool
	}{
		{Figure{Stowage: 1.2, Baseline: 1, Check: RatioAtMost, Target: 1.3}, true},
		{Figure{Stowage: 1.4, Baseline: 1, Check: RatioAtMost, Target: 1.3}, false},
		{Figure{Stowage: 90, Baseline: 100, Check: RatioAtLeast, Target: 0.9}, true},
		{Figure{Stowage: 80, Baseline: 100, Check: RatioAtLeast, Target: 0.9}, false},
		{Figure{Stowage: 150, Baseline: 10, Check: ValueAtMost, Target: 160}, true},
		{Figure{Stowage: 170, Baseline: 500, Check: ValueAtMost, Target: 160}, false},
	} {
		c.f.judge()
		if c.f.Met != c.want || c.f.Ratio != c.f.Stowage/c.f.Baseline {
			t.Errorf("%+v: met %v, want %v", c.f, c.f.Met, c.want)
		}
	}
}

func TestQuantile(t *testing.T) {
	var s samples
	for _, ms := range []int{5, 1, 4, 2, 3} {
		s = append(s, time.Duration(ms)*time.Millisecond)
	}
	if s.p50() != 3*time.Millisecond || s.quantile(0.99) != 5*time.Millisecond || s.quantile(0) != time.Millisecond {
		t.Fatalf("p50 %v p99 %v p0 %v", s.p50(), s.quantile(0.99), s.quantile(0))
	}
	if (samples{}).p50() != 0 {
		t.Fatal("p50 of no samples")
	}
}

func TestTables(t *testing.T) {
	r := &Result{Store: "file:///x", Provider: "fsstore", Baseline: "os", Figures: []Figure{
		{Name: CommitP50, Unit: "ms", Stowage: 2, Baseline: 1, Check: RatioAtMost, Target: 1.3, Note: "a note",
			Bound: 1.25, BoundOp: "the requests replayed"},
		{Name: Sweep, Unit: "orphans/s", Stowage: 600, Baseline: 1000, Check: RatioAtLeast, Target: 0.5},
	}}
	for i := range r.Figures {
		r.Figures[i].judge()
	}
	var text, md bytes.Buffer
	if err := WriteText(&text, r); err != nil {
		t.Fatal(err)
	}
	if err := WriteMarkdown(&md, []*Result{r, r}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"commit_p50", "MISSED", "met", "a note; bound 1.25: the requests replayed", "1.250"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text table lacks %q:\n%s", want, text.String())
		}
	}
	for _, want := range []string{"| `commit_p50` (ms) | ratio <= 1.3 | 2.00 | 1.00 | 2.00 **missed** | 2.00 |", "a note; bound 1.25: the requests replayed", "| `sweep` (orphans/s) | ratio >= 0.5 | 600 | 1000 | 0.60 |"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
}

func TestNoBaselineForMemory(t *testing.T) {
	if _, err := Run(context.Background(), Config{URL: "mem://"}); err == nil || !strings.Contains(err.Error(), "no raw baseline") {
		t.Fatalf("bench on mem://: %v", err)
	}
}

// TestFileBaseline checks the os baseline's conditional write and
// revalidation semantics.
func TestFileBaseline(t *testing.T) {
	ctx := context.Background()
	r, err := OpenRaw(ctx, "file://"+t.TempDir(), "raw", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	v1, err := r.PutIfMatch(ctx, "k", []byte("one"), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.PutIfMatch(ctx, "k", []byte("two"), ""); err == nil {
		t.Fatal("create-only put over an existing key succeeded")
	}
	v2, err := r.PutIfMatch(ctx, "k", []byte("three"), v1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.PutIfMatch(ctx, "k", []byte("four"), v1); err == nil {
		t.Fatal("compare-and-swap on a stale version succeeded")
	}
	if nm, err := r.GetIfNoneMatch(ctx, "k", v2); err != nil || !nm {
		t.Fatalf("revalidation of the current version: %v %v", nm, err)
	}
	n, err := r.Upload(ctx, "big", soak.Stream(1, 3<<20+5), 1<<20, 2)
	if err != nil || n != 3<<20+5 {
		t.Fatalf("upload: %d %v", n, err)
	}
	var got bytes.Buffer
	if n, err := r.Get(ctx, "big", &got); err != nil || n != 3<<20+5 {
		t.Fatalf("get: %d %v", n, err)
	}
	want, _ := io.ReadAll(soak.Stream(1, 3<<20+5))
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatal("get returned other bytes than the upload's")
	}
	if _, err := r.PutIfMatch(ctx, "gone", []byte("x"), ""); err != nil {
		t.Fatal(err)
	}
	if err := r.Delete(ctx, []string{"gone", "never"}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := r.Get(ctx, "gone", io.Discard); err == nil {
		t.Fatal("a deleted key reads back")
	}
	if n, err := r.ListDelete(ctx, ""); err != nil || n != 2 {
		t.Fatalf("list-delete: %d %v", n, err)
	}
	if err := r.Cleanup(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestStreamHidesSize: the attachment stream has no length a reader could
// peek at, and equal seeds give equal bytes.
func TestStreamHidesSize(t *testing.T) {
	s := soak.Stream(7, 10<<20)
	if _, ok := s.(interface{ Len() int }); ok {
		t.Fatal("stream has a Len")
	}
	if _, ok := s.(io.Seeker); ok {
		t.Fatal("stream is a Seeker")
	}
	a, _ := io.ReadAll(soak.Stream(7, 5<<20))
	b, _ := io.ReadAll(soak.Stream(7, 5<<20))
	c, _ := io.ReadAll(soak.Stream(8, 5<<20))
	if !bytes.Equal(a, b) || bytes.Equal(a, c) || len(a) != 5<<20 {
		t.Fatal("streams are not determined by their seed")
	}
}

// TestHashAheadReadsEverything: the hashed GET's bound reads every byte,
// across chunk boundaries, and reports a failed read.
func TestHashAheadReadsEverything(t *testing.T) {
	for _, size := range []int{0, 1, 1 << 20, 5<<20 + 3} {
		n, err := hashAhead{}.ReadFrom(soak.Stream(2, int64(size)))
		if err != nil || n != int64(size) {
			t.Errorf("%d bytes: read %d, %v", size, n, err)
		}
	}
	boom := errors.New("boom")
	if _, err := (hashAhead{}).ReadFrom(io.MultiReader(soak.Stream(3, 3<<20), iotest.ErrReader(boom))); !errors.Is(err, boom) {
		t.Errorf("a failed read: %v", err)
	}
}
