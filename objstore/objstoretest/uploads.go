package objstoretest

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/objstore"
)

// pendingUpload is an Upload held open in the middle of its body, so that
// its incomplete multipart upload can be observed, aged and aborted.
type pendingUpload struct {
	key     string
	body    *Pattern
	gate    *gateReader
	started time.Time // store clock before the Upload began
	done    chan struct{}
	info    objstore.ObjectInfo
	err     error
}

// The gate sits after two full parts and one byte, with one part in flight:
// a store that bounds memory to PartSize x (Concurrency+1) must have
// initiated the multipart upload by then.
const (
	pendingGate = 2*objstore.MinPartSize + 1
	pendingSize = pendingGate + 4096
)

// startPending starts an Upload of key whose body blocks at pendingGate and
// waits until the store lists its incomplete upload.
func startPending(t *testing.T, h *Harness, s objstore.Store, key string, seed uint64) (*pendingUpload, objstore.UploadInfo) {
	t.Helper()
	p := &pendingUpload{key: key, body: PatternReader(seed, pendingSize), done: make(chan struct{}), started: h.now()}
	p.gate = newGateReader(t.Context(), p.body, pendingGate)
	go func() {
		defer close(p.done)
		p.info, p.err = s.Upload(t.Context(), key, p.gate, multipartOpts(1))
	}()
	t.Cleanup(func() { p.gate.open(); <-p.done })
	select {
	case <-p.gate.reached:
	case <-p.done:
		t.Fatalf("upload of %q ended before reading %d bytes: %v", key, pendingGate, p.err)
	}
	var found objstore.UploadInfo
	WaitFor(t, "the incomplete upload of "+key+" to be listed", 30*time.Second, func() (bool, error) {
		ups, err := ListAllUploads(t.Context(), s, key)
		for _, u := range ups {
			if u.Key == key {
				found = u
				return true, nil
			}
		}
		return false, err
	})
	return p, found
}

// finish releases the body and waits for the Upload to return.
func (p *pendingUpload) finish() (objstore.ObjectInfo, error) {
	p.gate.open()
	<-p.done
	return p.info, p.err
}

// uploadInitiated returns the listed Initiated time of upload u.
func uploadInitiated(ctx context.Context, s objstore.Store, u objstore.UploadInfo) (time.Time, error) {
	ups, err := ListAllUploads(ctx, s, u.Key)
	if err != nil {
		return time.Time{}, err
	}
	for _, x := range ups {
		if x.UploadID == u.UploadID {
			return x.Initiated, nil
		}
	}
	return time.Time{}, fmt.Errorf("upload %s of %q is no longer listed", u.UploadID, u.Key)
}

// uploadIDs returns the ids of the listed uploads of key.
func uploadIDs(t *testing.T, s objstore.Store, prefix, key string) []string {
	t.Helper()
	ups, err := ListAllUploads(t.Context(), s, prefix)
	if err != nil {
		t.Fatalf("list uploads %q: %v", prefix, err)
	}
	var ids []string
	for _, u := range ups {
		if u.Key == key {
			ids = append(ids, u.UploadID)
		}
	}
	return ids
}

// testListUploads: an Upload in progress is listed, with its initiation time,
// under its key, the empty prefix and its directory, and not under another
// prefix; once complete it is no longer listed.
func testListUploads(t *testing.T, h *Harness) {
	s := h.newStore(t)
	const key = "pending/dir/object"
	p, u := startPending(t, h, s, key, Seed(t))
	listed := h.now()
	if u.UploadID == "" {
		t.Errorf("listed upload has no id: %+v", u)
	}
	wantTime(t, "Initiated", u.Initiated, p.started, listed)
	for _, c := range []struct {
		name, prefix string
		want         bool
	}{
		{"EmptyPrefix", "", true},
		{"DirPrefix", "pending/", true},
		{"PartialPrefix", "pending/dir/obj", true},
		{"OtherPrefix", "pending/other", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			ids := uploadIDs(t, s, c.prefix, key)
			if got := slices.Contains(ids, u.UploadID); got != c.want {
				t.Errorf("upload %q listed under prefix %q: %v, want %v", u.UploadID, c.prefix, got, c.want)
			}
		})
	}
	info, err := p.finish()
	if err != nil {
		t.Fatalf("upload after release: %v", err)
	}
	if info.Size != pendingSize {
		t.Errorf("upload size %d, want %d", info.Size, pendingSize)
	}
	if sum, _ := MustHash(t, s, key); !bytes.Equal(sum, p.body.Sum()) {
		t.Errorf("completed upload holds the wrong body")
	}
	wantNoUploads(t, s, key)
}

// testAbortUpload: AbortUpload ends exactly that upload, is idempotent, and
// the Upload it interrupted fails without creating the object.
func testAbortUpload(t *testing.T, h *Harness) {
	s := h.newStore(t)
	ctx := t.Context()
	const key = "aborted"
	p, u := startPending(t, h, s, key, Seed(t))
	for i := range 2 {
		if err := s.AbortUpload(ctx, key, u.UploadID); err != nil {
			t.Errorf("abort #%d: %v", i+1, err)
		}
	}
	if ids := uploadIDs(t, s, key, key); slices.Contains(ids, u.UploadID) {
		t.Errorf("aborted upload %q still listed", u.UploadID)
	}
	if _, err := p.finish(); err == nil {
		t.Errorf("upload completed although its multipart upload was aborted")
	}
	wantMissing(t, s, key)
	wantNoUploads(t, s, key)
	if err := s.AbortUpload(ctx, "never-started", "no-such-upload"); err != nil {
		t.Errorf("abort of an unknown upload: %v, want nil", err)
	}
}

// waitPastInitiated waits until the server clock has passed the listed
// Initiated of upload u for good.
func waitPastInitiated(t *testing.T, s objstore.Store, u objstore.UploadInfo) {
	ctx := t.Context()
	// versitygw reports an upload's last activity as Initiated (the
	// mtime of the upload's directory): it moves while parts land, and
	// under load once more after the part's answer (seen in CI: the
	// young upload then listed the old one's second). So wait until
	// two readings taken after the server clock passed the old
	// upload's listed second agree.
	var last time.Time
	passed := 0 // readings equal to last taken after its second
	WaitFor(t, "the server clock to pass the old upload's settled Initiated", 30*time.Second, func() (bool, error) {
		cur, err := uploadInitiated(ctx, s, u)
		if err != nil {
			return false, err
		}
		if !cur.Equal(last) {
			last, passed = cur, 0
		}
		if _, err := s.Put(ctx, "aged-marker", nil, nil); err != nil {
			return false, err
		}
		info, err := s.Head(ctx, "aged-marker") // a PUT's answer has no time
		if err != nil {
			return false, err
		}
		// Listed times may have whole-second precision while ModTime
		// has finer: wait for the server clock's next whole second, so
		// an upload started now cannot list the old one's second.
		if info.ModTime.Truncate(time.Second).After(cur) {
			passed++
		}
		return passed >= 2, nil
	})
}

// testAgedUploads: a sweep that aborts the uploads initiated before a cutoff
// (by key and id) ends the aged upload and leaves the young one to complete.
//
// A store that cannot be aged (a real server: Initiated is the server's
// clock) is tested by order instead: the young upload is started once the
// server's clock has passed the old one's Initiated (observed through a
// marker object's ModTime), and the cutoff is the young one's Initiated.
func testAgedUploads(t *testing.T, h *Harness) {
	s := h.newStore(t)
	ctx := t.Context()
	seed := Seed(t)
	oldP, oldU := startPending(t, h, s, "aged/old", seed)
	var cutoff time.Time
	if h.AgeUpload == nil {
		waitPastInitiated(t, s, oldU)
	}
	youngP, youngU := startPending(t, h, s, "aged/young", seed+1)
	if h.AgeUpload == nil {
		cutoff = youngU.Initiated
		old, err := uploadInitiated(ctx, s, oldU)
		if err != nil {
			t.Fatal(err)
		}
		if !old.Before(cutoff) {
			t.Fatalf("young upload initiated at %v, not after the old one's %v", youngU.Initiated, old)
		}
	} else {
		h.AgeUpload(t, s, oldU.Key, oldU.UploadID, 2*time.Hour)
		cutoff = h.now().Add(-time.Hour)
	}
	ups, err := ListAllUploads(ctx, s, "")
	if err != nil {
		t.Fatalf("list uploads: %v", err)
	}
	var aborted []string
	for _, u := range ups {
		if u.Initiated.Before(cutoff) {
			if err := s.AbortUpload(ctx, u.Key, u.UploadID); err != nil {
				t.Errorf("abort %q %q: %v", u.Key, u.UploadID, err)
			}
			aborted = append(aborted, u.Key)
		}
		switch {
		case h.AgeUpload == nil:
		case u.UploadID == oldU.UploadID:
			aged := oldU.Initiated.Add(-2 * time.Hour)
			wantTime(t, "aged upload's Initiated", u.Initiated, aged, aged)
		case u.UploadID == youngU.UploadID:
			wantTime(t, "young upload's Initiated", u.Initiated, youngU.Initiated, youngU.Initiated)
		}
	}
	if !slices.Equal(aborted, []string{"aged/old"}) {
		t.Errorf("uploads initiated before the cutoff: %q, want [aged/old] (listed %+v)", aborted, ups)
	}
	if ids := uploadIDs(t, s, youngU.Key, youngU.Key); !slices.Contains(ids, youngU.UploadID) {
		t.Errorf("young upload %q no longer listed", youngU.UploadID)
	}
	if _, err := youngP.finish(); err != nil {
		t.Errorf("young upload: %v", err)
	} else if sum, _ := MustHash(t, s, youngU.Key); !bytes.Equal(sum, youngP.body.Sum()) {
		t.Errorf("young upload holds the wrong body")
	}
	if _, err := oldP.finish(); err == nil {
		t.Errorf("aged upload completed although it was aborted")
	}
	wantMissing(t, s, oldU.Key)
	wantNoUploads(t, s, oldU.Key)
}
