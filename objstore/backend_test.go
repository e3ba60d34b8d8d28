package objstore

import (
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestValidateUpload(t *testing.T) {
	opts, err := ValidateUpload("k", strings.NewReader(""), nil)
	if err != nil || opts == nil || opts.Conditional() || opts.PartSize != 0 || opts.Concurrency != 0 {
		t.Fatalf("nil options: %+v, %v", opts, err)
	}
	given := &UploadOptions{PartSize: MinPartSize}
	if opts, err := ValidateUpload("k", strings.NewReader(""), given); err != nil || opts != given {
		t.Fatalf("options: %p, %v; want %p", opts, err, given)
	}
	for _, tc := range []struct {
		name string
		key  string
		body io.Reader
		opts *UploadOptions
		want error
	}{
		{"invalid key", "a//b", strings.NewReader("x"), nil, ErrInvalidKey},
		{"nil body", "k", nil, nil, ErrInvalidArgument},
		{"both conditions", "k", strings.NewReader("x"), &UploadOptions{PutOptions: PutOptions{IfNoneMatch: true, IfMatch: "e"}}, ErrInvalidArgument},
		{"bad metadata", "k", strings.NewReader("x"), &UploadOptions{PutOptions: PutOptions{Metadata: map[string]string{"A": "v"}}}, ErrInvalidArgument},
	} {
		if _, err := ValidateUpload(tc.key, tc.body, tc.opts); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestCheckCondition(t *testing.T) {
	for _, tc := range []struct {
		exists      bool
		etag        string
		ifNoneMatch bool
		ifMatch     string
		ok          bool
	}{
		{false, "", false, "", true},
		{true, "e1", false, "", true},
		{false, "", true, "", true},
		{true, "e1", true, "", false},
		{true, "e1", false, "e1", true},
		{true, "e1", false, "e2", false},
		{false, "", false, "e1", false},
	} {
		err := CheckCondition(tc.exists, tc.etag, tc.ifNoneMatch, tc.ifMatch)
		if tc.ok && err != nil || !tc.ok && !errors.Is(err, ErrPreconditionFailed) {
			t.Errorf("CheckCondition(%v, %q, %v, %q) = %v, want ok=%v", tc.exists, tc.etag, tc.ifNoneMatch, tc.ifMatch, err, tc.ok)
		}
	}
}

func TestResolveRange(t *testing.T) {
	for _, tc := range []struct {
		r       *Range
		size    int64
		off, n  int64
		invalid bool
	}{
		{nil, 10, 0, 10, false},
		{nil, 0, 0, 0, false},
		{&Range{0, -1}, 10, 0, 10, false},
		{&Range{2, 3}, 10, 2, 3, false},
		{&Range{7, 100}, 10, 7, 3, false},
		{&Range{4, 0}, 10, 4, 0, false},
		{&Range{9, -5}, 10, 9, 1, false},
		{&Range{-1, 1}, 10, 0, 0, true},
		{&Range{10, -1}, 10, 0, 0, true},
		{&Range{11, 1}, 10, 0, 0, true},
		{&Range{0, 1}, 0, 0, 0, true},
	} {
		off, n, err := ResolveRange(tc.r, tc.size)
		switch {
		case tc.invalid && !errors.Is(err, ErrInvalidArgument):
			t.Errorf("range %+v of %d: %v, want ErrInvalidArgument", tc.r, tc.size, err)
		case !tc.invalid && (err != nil || off != tc.off || n != tc.n):
			t.Errorf("range %+v of %d = %d, %d, %v; want %d, %d", tc.r, tc.size, off, n, err, tc.off, tc.n)
		}
	}
}

func TestRollUp(t *testing.T) {
	for _, tc := range []struct {
		key, prefix, delim string
		cp                 string
		ok                 bool
	}{
		{"a/b/c", "", "/", "a/", true},
		{"a/b/c", "a/", "/", "a/b/", true},
		{"a/b/c", "a/b/", "/", "", false},
		{"a/b/c", "", "", "", false},
		{"a//b", "a", "//", "a//", true},
		{"xaxb", "x", "x", "xax", true},
		{"日本/語", "日", "/", "日本/", true},
	} {
		cp, ok := RollUp(tc.key, tc.prefix, tc.delim)
		if cp != tc.cp || ok != tc.ok {
			t.Errorf("RollUp(%q, %q, %q) = %q, %v; want %q, %v", tc.key, tc.prefix, tc.delim, cp, ok, tc.cp, tc.ok)
		}
	}
}

func TestSortUploads(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	want := []UploadInfo{
		{Key: "a", UploadID: "z", Initiated: t0},
		{Key: "b", UploadID: "y", Initiated: t0},
		{Key: "b", UploadID: "x", Initiated: t0.Add(time.Second)},
		{Key: "b", UploadID: "z", Initiated: t0.Add(time.Second)},
	}
	got := []UploadInfo{want[3], want[1], want[0], want[2]}
	SortUploads(got)
	if !slices.Equal(got, want) {
		t.Fatalf("sorted = %+v\nwant %+v", got, want)
	}
}

func TestDeleteEach(t *testing.T) {
	boom := errors.New("boom")
	var deleted []string
	err := DeleteEach("test", []string{"a", "", "b", "c"}, func(key string) error {
		if key == "b" {
			return boom
		}
		deleted = append(deleted, key)
		return nil
	})
	if !slices.Equal(deleted, []string{"a", "c"}) {
		t.Fatalf("deleted %q, want [a c]", deleted)
	}
	var dme *DeleteManyError
	if !errors.As(err, &dme) || len(dme.Failed) != 2 || !errors.Is(dme.Failed[""], ErrInvalidKey) || !errors.Is(dme.Failed["b"], boom) {
		t.Fatalf("err = %v", err)
	}
	var oe *OpError
	if !errors.As(dme.Failed["b"], &oe) || oe.Backend != "test" || oe.Op != OpDeleteMany || oe.Key != "b" {
		t.Fatalf("failure of b = %#v", dme.Failed["b"])
	}
	if err := DeleteEach("test", []string{"a"}, func(string) error { return nil }); err != nil {
		t.Fatalf("no failures: %v", err)
	}
}
