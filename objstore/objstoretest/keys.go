package objstoretest

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stowage-dev/stowage/objstore"
)

// oddKeys are valid keys that path-based or URL-based backends get wrong.
func oddKeys(maxLen int) []struct{ name, key string } {
	return []struct{ name, key string }{
		{"unicode", "日本語/キー"},
		{"emoji", "emoji-😀"},
		{"space", "a b c"},
		{"dir-child", "dir/x"},
		{"percent-2F", "%2F"},
		{"percent-in-path", "a%2Fb%25"},
		{"plus", "a+b"},
		{"url-chars", "q?x=1&y=2#frag;~*'()!$,@:"},
		{"backslash", `back\slash`},
		{"dots-inside", "a..b/.hidden/x.y"},
		{"long", longKey(maxLen)},
		// Keys a path-cleaning backend might confuse with others.
		{"alias-of-dotdot", "b"},
		{"alias-of-dot", "a/b"},
		{"alias-of-slash", "x"},
	}
}

// longKey returns a key of exactly n bytes, in segments short enough for
// servers that store keys as file paths.
func longKey(n int) string {
	var b strings.Builder
	for b.Len() < n {
		if b.Len() > 0 && b.Len()%100 == 99 {
			b.WriteByte('/')
		} else {
			b.WriteByte('k')
		}
	}
	s := b.String()
	if strings.HasSuffix(s, "/") {
		s = s[:len(s)-1] + "k"
	}
	return s
}

// testOddKeys: odd but valid keys round-trip, list back exactly, roll up by
// delimiter like any other key, and delete.
func testOddKeys(t *testing.T, h *Harness) {
	s := h.newStore(t)
	ctx := t.Context()
	keys := oddKeys(h.maxKeyLen())
	stored := make(map[string]bool) // keys whose Put succeeded
	for _, k := range keys {
		t.Run(k.name, func(t *testing.T) {
			body := []byte("content of " + k.key)
			put := MustPut(t, s, k.key, body, &objstore.PutOptions{Metadata: map[string]string{"name": k.name}})
			stored[k.key] = true
			info := wantContent(t, s, k.key, body)
			if info.Key != k.key || info.ETag != put.ETag {
				t.Errorf("get: key %q etag %q, want %q %q", info.Key, info.ETag, k.key, put.ETag)
			}
			head, err := s.Head(ctx, k.key)
			if err != nil {
				t.Fatalf("head: %v", err)
			}
			if head.Key != k.key || head.Size != int64(len(body)) || head.Metadata["name"] != k.name {
				t.Errorf("head: key %q size %d metadata %v", head.Key, head.Size, head.Metadata)
			}
		})
	}
	// The listings expect the keys that could be stored, so that a key the
	// backend failed to store is reported once, above, and not again here.
	var want []string
	for _, k := range keys {
		if stored[k.key] {
			want = append(want, k.key)
		}
	}
	slices.Sort(want)
	t.Run("List", func(t *testing.T) {
		if got := ListKeys(t, s, "", nil); !slices.Equal(got, want) {
			missing, extra := diffKeys(got, want)
			t.Errorf("list: not listed %s; listed but never written %s (a key escaped or was rewritten)", shortKeys(missing), shortKeys(extra))
		}
		listOddKeysByPrefix(t, s, keys, stored)
	})
	t.Run("NoAliasing", func(t *testing.T) {
		// Every key still holds its own body once all are written: no two
		// keys share storage.
		for _, k := range keys {
			if stored[k.key] {
				wantContent(t, s, k.key, []byte("content of "+k.key))
			}
		}
	})
	t.Run("Delete", func(t *testing.T) {
		for _, k := range keys {
			if err := s.Delete(ctx, k.key, nil); err != nil {
				t.Errorf("delete %q: %v", k.key, err)
			}
		}
		if got := ListKeys(t, s, "", nil); len(got) != 0 {
			t.Errorf("after deleting every key: %q remain", got)
		}
	})
}

// listOddKeysByPrefix: odd keys list under their prefixes, with and without
// a delimiter, like any other key. A listing whose prefix covers a key the
// backend failed to store is not checked (that key was reported already).
func listOddKeysByPrefix(t *testing.T, s objstore.Store, keys []struct{ name, key string }, stored map[string]bool) {
cases:
	for _, c := range []struct {
		prefix, delim string
		want          []string
	}{
		{"dir", "/", []string{"dir/"}},
		{"dir/", "/", []string{"dir/x"}},
		{"dir/", "", []string{"dir/x"}},
		{"a", "", []string{"a b c", "a%2Fb%25", "a+b", "a..b/.hidden/x.y", "a/b"}},
		{"a/", "/", []string{"a/b"}},
		{"%", "", []string{"%2F"}},
		{"日本語/", "", []string{"日本語/キー"}},
	} {
		for _, k := range keys {
			if strings.HasPrefix(k.key, c.prefix) && !stored[k.key] {
				t.Logf("list %q delimiter %q: not checked, %q was not stored", c.prefix, c.delim, k.key)
				continue cases
			}
		}
		infos, err := ListAll(t.Context(), s, c.prefix, &objstore.ListOptions{Delimiter: c.delim})
		if err != nil {
			t.Errorf("list %q delimiter %q: %v", c.prefix, c.delim, err)
			continue
		}
		var got []string
		for _, info := range infos {
			got = append(got, info.Key)
			if info.IsPrefix != (c.delim != "" && strings.HasSuffix(info.Key, c.delim) && info.Key != c.prefix) {
				t.Errorf("list %q delimiter %q: %q has IsPrefix=%v", c.prefix, c.delim, info.Key, info.IsPrefix)
			}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("list %q delimiter %q: got %q, want %q", c.prefix, c.delim, got, c.want)
		}
	}
}

// invalidKeys are keys every method must refuse with ErrInvalidKey.
var invalidKeys = []struct{ name, key string }{
	{"empty", ""},
	{"too-long", strings.Repeat("k", objstore.MaxKeyLen+1)},
	{"invalid-utf8", "bad\xff\xfe"},
	{"truncated-utf8", "bad\xe6\x97"},
	{"newline", "a\nb"},
	{"carriage-return", "a\rb"},
	{"tab", "a\tb"},
	{"del", "a\x7fb"},
	{"nul", "a\x00b"},
	{"dotdot-first", "../x"},
	{"dotdot-middle", "a/../b"},
	{"dot-middle", "a/./b"},
	{"dot", "."},
	{"trailing-slash", "trailing/"},
	{"leading-slash", "/x"},
	{"double-slash", "a//b"},
}

// testInvalidKeys: every keyed method refuses invalid keys with
// ErrInvalidKey and writes nothing.
func testInvalidKeys(t *testing.T, h *Harness) {
	s := h.newStore(t)
	ctx := t.Context()
	for _, k := range invalidKeys {
		t.Run(k.name, func(t *testing.T) {
			checkInvalidKey(t, ctx, s, k.key)
		})
	}
	if got := ListKeys(t, s, "", nil); len(got) != 0 {
		t.Errorf("invalid keys wrote %q", got)
	}
	if ups, err := ListAllUploads(ctx, s, ""); err != nil || len(ups) != 0 {
		t.Errorf("after invalid keys: uploads %+v, %v; want none", ups, err)
	}
}

func checkInvalidKey(t *testing.T, ctx context.Context, s objstore.Store, key string) {
	_, err := s.Put(ctx, key, []byte("x"), nil)
	wantErr(t, "put", err, objstore.ErrInvalidKey)
	_, err = s.Put(ctx, key, []byte("x"), &objstore.PutOptions{IfNoneMatch: true})
	wantErr(t, "create-only put", err, objstore.ErrInvalidKey)
	_, err = s.Upload(ctx, key, OnlyReader(bytes.NewReader([]byte("x"))), nil)
	wantErr(t, "upload", err, objstore.ErrInvalidKey)
	wantErr(t, "get", getErr(ctx, s, key, nil), objstore.ErrInvalidKey)
	_, err = s.Head(ctx, key)
	wantErr(t, "head", err, objstore.ErrInvalidKey)
	wantErr(t, "delete", s.Delete(ctx, key, nil), objstore.ErrInvalidKey)
	wantErr(t, "delete many", s.DeleteMany(ctx, []string{"valid", key}), objstore.ErrInvalidKey)
	wantErr(t, "abort upload", s.AbortUpload(ctx, key, "some-upload-id"), objstore.ErrInvalidKey)
	_, err = s.UploadSize(ctx, key, "some-upload-id")
	wantErr(t, "upload size", err, objstore.ErrInvalidKey)
	if objstore.ValidatePrefix(key) != nil { // "" and "x/" are valid prefixes
		_, err = ListAll(ctx, s, key, nil)
		wantErr(t, "list with the key as prefix", err, objstore.ErrInvalidKey)
		_, err = ListAllUploads(ctx, s, key)
		wantErr(t, "list uploads with the key as prefix", err, objstore.ErrInvalidKey)
	}
}

// testInvalidArguments: invalid metadata and contradictory conditions fail
// with ErrInvalidArgument and write nothing.
func testInvalidArguments(t *testing.T, h *Harness) {
	s := h.newStore(t)
	ctx := t.Context()
	const key = "invalid/args"
	bad := []struct {
		name string
		opts objstore.PutOptions
	}{
		{"metadata-uppercase-key", objstore.PutOptions{Metadata: map[string]string{"Owner": "x"}}},
		{"metadata-underscore-key", objstore.PutOptions{Metadata: map[string]string{"a_b": "x"}}},
		{"metadata-empty-key", objstore.PutOptions{Metadata: map[string]string{"": "x"}}},
		{"metadata-long-key", objstore.PutOptions{Metadata: map[string]string{strings.Repeat("k", 65): "x"}}},
		{"metadata-non-ascii-value", objstore.PutOptions{Metadata: map[string]string{"owner": "zoë"}}},
		{"metadata-newline-value", objstore.PutOptions{Metadata: map[string]string{"owner": "a\nb"}}},
		{"metadata-too-large", objstore.PutOptions{Metadata: map[string]string{"big": strings.Repeat("x", objstore.MaxMetadataSize)}}},
		{"both-conditions", objstore.PutOptions{IfNoneMatch: true, IfMatch: "0123456789abcdef0123456789abcdef"}},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.Put(ctx, key, []byte("x"), &c.opts)
			wantErr(t, "put", err, objstore.ErrInvalidArgument)
			_, err = s.Upload(ctx, key, OnlyReader(bytes.NewReader([]byte("x"))), &objstore.UploadOptions{PutOptions: c.opts})
			wantErr(t, "upload", err, objstore.ErrInvalidArgument)
			wantMissing(t, s, key)
		})
	}
	wantNoUploads(t, s, key)
}

// diffKeys returns the keys of want missing from got and those of got not
// in want; both are sorted.
func diffKeys(got, want []string) (missing, extra []string) {
	for _, k := range want {
		if _, ok := slices.BinarySearch(got, k); !ok {
			missing = append(missing, k)
		}
	}
	for _, k := range got {
		if _, ok := slices.BinarySearch(want, k); !ok {
			extra = append(extra, k)
		}
	}
	return missing, extra
}

// shortKeys renders keys for a message, abbreviating long ones.
func shortKeys(keys []string) string {
	out := make([]string, len(keys))
	for i, k := range keys {
		if len(k) > 40 {
			k = fmt.Sprintf("%s...(%d bytes)", k[:20], len(k))
		}
		out[i] = strconv.Quote(k)
	}
	return "[" + strings.Join(out, " ") + "]"
}
