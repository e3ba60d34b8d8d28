package attach_test

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/memstore"
)

// dataGets counts the whole GETs of attachment data, with and without
// GetOptions.Immutable.
type dataGets struct {
	objstore.Store
	with, not int
}

func (s *dataGets) Get(ctx context.Context, key string, opts *objstore.GetOptions) (io.ReadCloser, objstore.ObjectInfo, error) {
	if _, ok := manifest.ParseDataKey(key); ok && (opts == nil || opts.Range == nil) {
		if opts != nil && opts.Immutable {
			s.with++
		} else {
			s.not++
		}
	}
	return s.Store.Get(ctx, key, opts)
}

// rawAndCompressed are two attachments: one stored raw, one stored
// zstd-seekable.
var rawAndCompressed = []struct{ body, mediaType string }{
	{"\x00\x01 raw bytes", "application/octet-stream"},
	{strings.Repeat("compressible text ", 4096), "text/plain"},
}

// sessionOver opens session s1's attachments over objs, with defaults.
func sessionOver(t *testing.T, objs objstore.Store) *attach.Store {
	t.Helper()
	a, err := attach.New(manifest.New(objs, nil), "s1", nil)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestWholeGetsSayDataIsImmutable: a whole read of an attachment, raw or
// compressed, says its data object is written once (GetOptions.Immutable:
// the SHA-256 check of the read replaces a server body check).
func TestWholeGetsSayDataIsImmutable(t *testing.T) {
	ctx := context.Background()
	objs := &dataGets{Store: memstore.New(nil)}
	a := sessionOver(t, objs)
	for _, c := range rawAndCompressed {
		body := c.body
		ref, err := a.Put(ctx, strings.NewReader(body), attach.PutOptions{MediaType: c.mediaType})
		if err != nil {
			t.Fatal(err)
		}
		rc, _, err := a.Get(ctx, ref.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || string(got) != body {
			t.Fatalf("read back %d bytes, %v", len(got), err)
		}
	}
	if objs.with < 2 || objs.not != 0 {
		t.Errorf("whole data reads: %d immutable, %d not; want every one of at least 2", objs.with, objs.not)
	}
}

// dataUploads counts the uploads of attachment data, create-only
// (PutOptions.IfNoneMatch) or not.
type dataUploads struct {
	objstore.Store
	createOnly, not int
}

func (s *dataUploads) Upload(ctx context.Context, key string, body io.Reader, opts *objstore.UploadOptions) (objstore.ObjectInfo, error) {
	if _, ok := manifest.ParseDataKey(key); ok {
		if opts != nil && opts.IfNoneMatch {
			s.createOnly++
		} else {
			s.not++
		}
	}
	return s.Store.Upload(ctx, key, body, opts)
}

// TestDataIsWrittenCreateOnly: the upload of an attachment's data, raw or
// compressed, is create-only, so that a retried PUT whose response was
// lost cannot write the object a second time under a reader that relies
// on it being written once (TestWholeGetsSayDataIsImmutable).
func TestDataIsWrittenCreateOnly(t *testing.T) {
	ctx := context.Background()
	objs := &dataUploads{Store: memstore.New(nil)}
	a := sessionOver(t, objs)
	for _, c := range rawAndCompressed {
		if _, err := a.Put(ctx, strings.NewReader(c.body), attach.PutOptions{MediaType: c.mediaType}); err != nil {
			t.Fatal(err)
		}
	}
	if objs.createOnly != 2 || objs.not != 0 {
		t.Errorf("data uploads: %d create-only, %d not; want 2 and 0", objs.createOnly, objs.not)
	}
}
