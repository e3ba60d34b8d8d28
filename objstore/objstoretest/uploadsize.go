package objstoretest

import (
	"errors"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/objstore"
)

// testUploadSize: UploadSize of an incomplete upload held after two whole
// parts and one byte reaches the two parts' bytes (a backend that stores
// parts counts whole parts; one that streams counts what it wrote, at most
// the bytes read); an unknown id, another key's id, an aborted and a
// completed upload are ErrNotExist (invalid keys: testInvalidKeys).
func testUploadSize(t *testing.T, h *Harness) {
	s := h.newStore(t)
	ctx := t.Context()
	const key, other = "sized/object", "sized/other"
	p, u := startPending(t, h, s, key, Seed(t))
	size := waitPartsStored(t, s, key, u.UploadID)
	if size > pendingGate {
		t.Errorf("UploadSize = %d, more than the %d bytes read from the body", size, pendingGate)
	}
	t.Logf("UploadSize of an upload held after %d bytes: %d", pendingGate, size)

	missing := func(what, k, id string) {
		t.Helper()
		if n, err := s.UploadSize(ctx, k, id); !errors.Is(err, objstore.ErrNotExist) {
			t.Errorf("UploadSize of %s: (%d, %v), want ErrNotExist", what, n, err)
		}
	}
	missing("an unknown upload id", key, "no-such-upload")
	missing("another key's upload id", other, u.UploadID)
	if _, err := p.finish(); err != nil {
		t.Fatalf("upload after release: %v", err)
	}
	missing("a completed upload", key, u.UploadID)

	p2, u2 := startPending(t, h, s, other, Seed(t)+1)
	// No part in flight when it aborts: a part stored as the abort runs may
	// outlive it (seen once on versitygw, in CI on 2026-12-07: ListParts
	// listed a 5 MiB part after the abort returned; S3 documents that an
	// abort racing part uploads may have to be repeated).
	waitPartsStored(t, s, other, u2.UploadID)
	if err := s.AbortUpload(ctx, other, u2.UploadID); err != nil {
		t.Fatal(err)
	}
	missing("an aborted upload", other, u2.UploadID)
	if _, err := p2.finish(); err == nil {
		t.Errorf("upload completed although its multipart upload was aborted")
	}
}

// waitPartsStored waits until the held upload id of key holds its first two
// parts, none of them in flight any more, and returns its UploadSize.
func waitPartsStored(t *testing.T, s objstore.Store, key, id string) int64 {
	t.Helper()
	var size int64
	WaitFor(t, "the held upload's first two parts to be stored", 30*time.Second, func() (bool, error) {
		var err error
		size, err = s.UploadSize(t.Context(), key, id)
		return size >= 2*objstore.MinPartSize, err
	})
	return size
}
