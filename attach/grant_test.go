package attach_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stowage-dev/stowage"
	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/fsck"
	"github.com/stowage-dev/stowage/gc"
	"github.com/stowage-dev/stowage/internal/s3compat/s3test"
	"github.com/stowage-dev/stowage/internal/testenv"
	"github.com/stowage-dev/stowage/manifest/manifesttest"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/fsstore"
	"github.com/stowage-dev/stowage/objstore/memstore"
	"github.com/stowage-dev/stowage/session"
)

// Direct transfer (grant.go) runs against the real servers with a plain
// net/http client, as a browser or curl would send the presigned requests:
// no SDK on the client side.

// grantEnv is one prefixed store on a server, with a stowage.Store on it.
type grantEnv struct {
	t    *testing.T
	ctx  context.Context
	objs objstore.Store
	st   *stowage.Store
	now  time.Time
}

func newGrantEnv(t *testing.T, base objstore.Store, now time.Time) *grantEnv {
	objs := s3test.Prefixed(t, base)
	st, err := stowage.OpenStore(t.Context(), objs, stowage.Config{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return &grantEnv{t: t, ctx: t.Context(), objs: objs, st: st, now: now}
}

func (e *grantEnv) attach(sid string) *attach.Store {
	a, err := attach.New(e.st.Manifest(), sid, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

// send sends a presigned request with body (nil for none) and extra
// headers, and returns the status and body.
func send(t *testing.T, req objstore.PresignedRequest, body []byte, extra http.Header) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	r, err := http.NewRequestWithContext(t.Context(), req.Method, req.URL, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range req.Header {
		if strings.EqualFold(k, "Content-Length") {
			continue // net/http sends the body's length
		}
		r.Header[k] = v
	}
	for k, v := range extra {
		r.Header[k] = v
	}
	if body != nil {
		r.ContentLength = int64(len(body))
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func randomBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	r.Read(b)
	return b
}

func digestOf(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// commit commits one node naming ids in a fresh session sid.
func (e *grantEnv) commit(sid string, ids ...string) {
	e.t.Helper()
	s, err := e.st.Session(sid)
	if err != nil {
		e.t.Fatal(err)
	}
	var rev uint64
	_, err = s.CommitRuntimeState(e.ctx, session.RuntimeCommit{
		SessionID: sid, ExpectedHeadRevision: &rev,
		Graph: session.GraphDelta{Kind: session.DeltaAppend, Leaf: "n1",
			Nodes: []session.NodeRecord{{NodeID: "n1", Timestamp: "2026-01-01T00:00:00Z", Kind: session.PayloadEvent, Event: []byte(`{}`)}}},
		CommittedAttachmentIDs: ids,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	s.WaitCompaction() // the stamp lands before the test looks at the store
}

// listing returns every key and ETag under the env's prefix.
func (e *grantEnv) listing() []string {
	var out []string
	for info, err := range e.objs.List(e.ctx, "", nil) {
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, info.Key+" "+info.ETag)
	}
	return out
}

// uploadParts sends a multipart grant's parts from 4 goroutines; part
// retry is sent twice (a client retrying after a lost response).
func uploadParts(t *testing.T, g attach.UploadGrant, data []byte, retry int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(g.Parts)+1)
	next := make(chan int)
	for range 4 {
		wg.Go(func() {
			for i := range next {
				part := data[int64(i)*g.PartSize : min(int64(i+1)*g.PartSize, int64(len(data)))]
				for range 1 + boolInt(i == retry) {
					if code, body := send(t, g.Parts[i], part, nil); code != http.StatusOK {
						errs <- fmt.Errorf("part %d: %d %s", i+1, code, body)
					}
				}
			}
		})
	}
	for i := range g.Parts {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestGrant runs direct transfer on every server. miniostore cannot
// presign (docs/objstore.md): it must refuse with ErrNoPresign.
func TestGrant(t *testing.T) {
	manifesttest.ForEachS3(t, func(t *testing.T, base objstore.Store) {
		if _, ok := objstore.FindPresigner(base); !ok {
			e := newGrantEnv(t, base, time.Now())
			_, err := e.attach("s").GrantPut(e.ctx, attach.GrantPutOptions{SHA256: digestOf(nil)})
			if !errors.Is(err, attach.ErrNoPresign) || !errors.Is(err, objstore.ErrNotSupported) {
				t.Fatalf("GrantPut on a store that cannot presign: %v, want ErrNoPresign", err)
			}
			return
		}
		for _, c := range []struct {
			name string
			fn   func(*testing.T, objstore.Store)
		}{
			{"MultipartRoundTrip", testGrantMultipartRoundTrip},
			{"SinglePut", testGrantSinglePut},
			{"Tampered", testGrantTampered},
			{"TamperedMultipart", testGrantTamperedMultipart},
			{"WrongSize", testGrantWrongSize},
			{"Expired", testGrantExpired},
			{"ReplayAfterSeal", testGrantReplay},
			{"OtherKey", testGrantOtherKey},
			{"GetGrantIsolation", testGrantGetIsolation},
			{"AbandonedMultipart", testGrantAbandoned},
		} {
			t.Run(c.name, func(t *testing.T) { c.fn(t, base) })
		}
	})
}

// TestGrantNeedsPresign: memstore and fsstore refuse direct transfer, after
// checking the arguments (a malformed id is refused as on S3).
func TestGrantNeedsPresign(t *testing.T) {
	fs, err := fsstore.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	for _, obj := range []objstore.Store{memstore.New(nil), fs} {
		st, err := stowage.OpenStore(t.Context(), obj, stowage.Config{})
		if err != nil {
			t.Fatal(err)
		}
		a, _ := attach.New(st.Manifest(), "s", nil)
		if _, err := a.GrantPut(t.Context(), attach.GrantPutOptions{SHA256: digestOf(nil)}); !errors.Is(err, attach.ErrNoPresign) {
			t.Errorf("%s: GrantPut: %v, want ErrNoPresign", obj.Capabilities().Provider, err)
		}
		if _, err := a.GrantGet(t.Context(), digestOf(nil), attach.GrantGetOptions{}); !errors.Is(err, attach.ErrNoPresign) {
			t.Errorf("%s: GrantGet: %v, want ErrNoPresign", obj.Capabilities().Provider, err)
		}
		if _, err := a.Seal(t.Context(), attach.UploadGrant{UploadID: "01JAAAAAAAAAAAAAAAAAAAAAAB"}); !errors.Is(err, attach.ErrNoPresign) {
			t.Errorf("%s: Seal: %v, want ErrNoPresign", obj.Capabilities().Provider, err)
		}
		// Arguments are checked first, as on a store that presigns.
		const bad = "../not-an-id"
		if _, err := a.GrantGet(t.Context(), bad, attach.GrantGetOptions{}); !errors.Is(err, attach.ErrInvalidID) {
			t.Errorf("%s: GrantGet of a malformed id: %v, want ErrInvalidID", obj.Capabilities().Provider, err)
		}
		if _, err := a.GrantPut(t.Context(), attach.GrantPutOptions{SHA256: bad}); !errors.Is(err, attach.ErrInvalidID) {
			t.Errorf("%s: GrantPut of a malformed digest: %v, want ErrInvalidID", obj.Capabilities().Provider, err)
		}
		if _, err := a.GrantPut(t.Context(), attach.GrantPutOptions{SHA256: digestOf(nil), Size: -1}); !errors.Is(err, objstore.ErrInvalidArgument) {
			t.Errorf("%s: GrantPut of size -1: %v, want ErrInvalidArgument", obj.Capabilities().Provider, err)
		}
		if _, err := a.Seal(t.Context(), attach.UploadGrant{UploadID: bad}); !errors.Is(err, attach.ErrNotFound) {
			t.Errorf("%s: Seal of a malformed grant: %v, want ErrNotFound", obj.Capabilities().Provider, err)
		}
	}
}

func testGrantMultipartRoundTrip(t *testing.T, base objstore.Store) {
	e := newGrantEnv(t, base, time.Now())
	size := 200 << 20
	if testenv.Short() {
		size = 24 << 20
	}
	data := randomBytes(1, size)
	id := digestOf(data)
	a := e.attach("s")
	g, err := a.GrantPut(e.ctx, attach.GrantPutOptions{
		SHA256: id, Size: int64(size), PutOptions: attach.PutOptions{MediaType: "video/webm", Label: "recording"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if g.Put != nil || len(g.Parts) < 2 {
		t.Fatalf("grant of %d bytes: put %v, %d parts; want multipart", size, g.Put, len(g.Parts))
	}
	uploadParts(t, g, data, 2)
	ref, err := a.Seal(e.ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	if ref.ID != id || ref.Size != int64(size) || ref.MediaType != "video/webm" {
		t.Fatalf("sealed ref %+v", ref)
	}
	if _, err := a.GrantGet(e.ctx, id, attach.GrantGetOptions{}); !errors.Is(err, attach.ErrNotCommitted) {
		t.Fatalf("GrantGet before a commit: %v, want ErrNotCommitted", err)
	}
	e.commit("s", id)
	get, err := a.GrantGet(e.ctx, id, attach.GrantGetOptions{Filename: "screen recording.webm"})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := http.NewRequestWithContext(e.ctx, get.Method, get.URL, nil)
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || n != int64(size) || hex.EncodeToString(h.Sum(nil)) != id {
		t.Fatalf("download: %d, %d bytes, %v; digest match %v", resp.StatusCode, n, err, hex.EncodeToString(h.Sum(nil)) == id)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "video/webm" {
		t.Errorf("Content-Type %q", ct)
	}
	if cd := resp.Header.Get("Content-Disposition"); !strings.Contains(cd, "attachment") || !strings.Contains(cd, "screen recording.webm") {
		t.Errorf("Content-Disposition %q", cd)
	}
	code, part := send(t, get, nil, http.Header{"Range": {"bytes=1000-1999"}})
	if code != http.StatusPartialContent || !bytes.Equal(part, data[1000:2000]) {
		t.Fatalf("ranged download: %d, %d bytes", code, len(part))
	}
	e.fsckClean()
}

func testGrantSinglePut(t *testing.T, base objstore.Store) {
	e := newGrantEnv(t, base, time.Now())
	data := randomBytes(2, 1<<20+17)
	id := digestOf(data)
	a := e.attach("s")
	g, err := a.GrantPut(e.ctx, attach.GrantPutOptions{SHA256: id, Size: int64(len(data))})
	if err != nil {
		t.Fatal(err)
	}
	if g.Put == nil || len(g.Parts) != 0 {
		t.Fatalf("small grant is not one PUT: %+v", g)
	}
	if code, body := send(t, *g.Put, data, nil); code != http.StatusOK {
		t.Fatalf("PUT: %d %s", code, body)
	}
	if _, err := a.Seal(e.ctx, g); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Seal(e.ctx, g); !errors.Is(err, attach.ErrNotFound) {
		t.Fatalf("second Seal: %v, want ErrNotFound", err)
	}
	rc, _, err := a.Get(e.ctx, id, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get after seal: %v", err)
	}
}

// refused checks that nothing of a grant became a ref or stayed stored.
func (e *grantEnv) refused(a *attach.Store, g attach.UploadGrant, sealErr error, want ...error) {
	e.t.Helper()
	if sealErr == nil || !slices.ContainsFunc(want, func(w error) bool { return errors.Is(sealErr, w) }) {
		e.t.Fatalf("Seal: %v, want one of %v", sealErr, want)
	}
	if _, err := a.Stat(e.ctx, g.ID); !errors.Is(err, attach.ErrNotFound) {
		e.t.Fatalf("Stat after a refused seal: %v, want ErrNotFound", err)
	}
	for _, k := range e.listing() {
		if strings.HasPrefix(k, "attach/data/") || strings.HasPrefix(k, "attach/refs/") {
			e.t.Fatalf("a refused grant left %s", k)
		}
	}
}

func testGrantTampered(t *testing.T, base objstore.Store) {
	e := newGrantEnv(t, base, time.Now())
	data := randomBytes(3, 4096)
	a := e.attach("s")
	g, err := a.GrantPut(e.ctx, attach.GrantPutOptions{SHA256: digestOf(data), Size: int64(len(data))})
	if err != nil {
		t.Fatal(err)
	}
	bad := slices.Clone(data)
	bad[100] ^= 1
	code, _ := send(t, *g.Put, bad, nil)
	_, err = a.Seal(e.ctx, g)
	if code == http.StatusOK {
		e.refused(a, g, err, attach.ErrChecksum) // the server ignored the checksum: Seal reads back
	} else {
		e.refused(a, g, err, attach.ErrNotUploaded) // the server verified the signed checksum
	}
}

func testGrantTamperedMultipart(t *testing.T, base objstore.Store) {
	e := newGrantEnv(t, base, time.Now())
	data := randomBytes(4, 11<<20)
	a := e.attach("s")
	g, err := a.GrantPut(e.ctx, attach.GrantPutOptions{SHA256: digestOf(data), Size: int64(len(data)), MultipartThreshold: 1 << 20, PartSize: 5 << 20})
	if err != nil {
		t.Fatal(err)
	}
	bad := slices.Clone(data)
	bad[len(bad)-1] ^= 1
	uploadParts(t, g, bad, -1)
	_, err = a.Seal(e.ctx, g)
	e.refused(a, g, err, attach.ErrChecksum)
}

func testGrantWrongSize(t *testing.T, base objstore.Store) {
	e := newGrantEnv(t, base, time.Now())
	data := randomBytes(5, 4096)
	a := e.attach("s")
	g, err := a.GrantPut(e.ctx, attach.GrantPutOptions{SHA256: digestOf(data), Size: int64(len(data))})
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range [][]byte{append(slices.Clone(data), 'x'), data[:100]} {
		if code, _ := send(t, *g.Put, body, nil); code == http.StatusOK {
			t.Fatalf("a PUT of %d bytes through a grant of %d was accepted", len(body), len(data))
		}
	}
	_, err = a.Seal(e.ctx, g)
	e.refused(a, g, err, attach.ErrNotUploaded)
}

func testGrantExpired(t *testing.T, base objstore.Store) {
	e := newGrantEnv(t, base, time.Now().Add(-2*time.Hour)) // signed two hours ago
	data := randomBytes(6, 4096)
	a := e.attach("s")
	g, err := a.GrantPut(e.ctx, attach.GrantPutOptions{SHA256: digestOf(data), Size: int64(len(data)), Expires: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := send(t, *g.Put, data, nil); code != http.StatusForbidden {
		t.Fatalf("PUT through an expired grant: %d, want 403", code)
	}
	_, err = a.Seal(e.ctx, g)
	e.refused(a, g, err, attach.ErrNotUploaded)
}

func testGrantReplay(t *testing.T, base objstore.Store) {
	e := newGrantEnv(t, base, time.Now())
	data := randomBytes(7, 4096)
	a := e.attach("s")
	g, err := a.GrantPut(e.ctx, attach.GrantPutOptions{SHA256: digestOf(data), Size: int64(len(data))})
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := send(t, *g.Put, data, nil); code != http.StatusOK {
		t.Fatalf("PUT: %d", code)
	}
	if _, err := a.Seal(e.ctx, g); err != nil {
		t.Fatal(err)
	}
	before := e.listing()
	if code, _ := send(t, *g.Put, data, nil); code != http.StatusPreconditionFailed {
		t.Fatalf("replayed PUT after seal: %d, want 412", code)
	}
	if after := e.listing(); !slices.Equal(before, after) {
		t.Fatalf("a replayed PUT changed the store:\n%v\n%v", before, after)
	}
}

// testGrantOtherKey: a grant's URL, pointed at any other key, is refused.
func testGrantOtherKey(t *testing.T, base objstore.Store) {
	e := newGrantEnv(t, base, time.Now())
	victim := randomBytes(8, 4096)
	va := e.attach("victim")
	if _, err := va.PutKnown(e.ctx, digestOf(victim), int64(len(victim)), func() (io.Reader, error) { return bytes.NewReader(victim), nil }, attach.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	e.commit("victim", digestOf(victim))
	before := e.listing()
	data := randomBytes(9, 4096)
	g, err := e.attach("s").GrantPut(e.ctx, attach.GrantPutOptions{SHA256: digestOf(data), Size: int64(len(data))})
	if err != nil {
		t.Fatal(err)
	}
	dataKey := "attach/data/" + g.UploadID
	var targets []string
	for _, k := range before {
		targets = append(targets, strings.Fields(k)[0])
	}
	targets = append(targets, "attach/data/01AAAAAAAAAAAAAAAAAAAAAAAA", "sessions/s/head", "attach/uploads/"+g.UploadID)
	for _, k := range targets {
		u := strings.Replace(g.Put.URL, dataKey, k, 1)
		if u == g.Put.URL {
			t.Fatalf("grant URL %s does not name %s", g.Put.URL, dataKey)
		}
		for _, m := range []string{http.MethodPut, http.MethodGet, http.MethodDelete} {
			req := *g.Put
			req.URL, req.Method = u, m
			var body []byte
			if m == http.MethodPut {
				body = data
			}
			if code, _ := send(t, req, body, nil); code < 400 {
				t.Fatalf("%s %s through a grant for %s: %d", m, k, dataKey, code)
			}
		}
	}
	after := e.listing()
	after = slices.DeleteFunc(after, func(k string) bool { return strings.HasPrefix(k, "attach/uploads/"+g.UploadID+" ") })
	if !slices.Equal(before, after) {
		t.Fatalf("the store changed:\n%v\n%v", before, after)
	}
}

// testGrantGetIsolation: session B cannot get a download grant for A's
// attachment, and the refusal is the one for an id nobody holds.
func testGrantGetIsolation(t *testing.T, base objstore.Store) {
	e := newGrantEnv(t, base, time.Now())
	data := randomBytes(10, 4096)
	id := digestOf(data)
	if _, err := e.attach("a").PutKnown(e.ctx, id, int64(len(data)), func() (io.Reader, error) { return bytes.NewReader(data), nil }, attach.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	e.commit("a", id)
	b := e.attach("b")
	_, errA := b.GrantGet(e.ctx, id, attach.GrantGetOptions{})
	_, errNone := b.GrantGet(e.ctx, digestOf([]byte("nobody has this")), attach.GrantGetOptions{})
	if !errors.Is(errA, attach.ErrNotFound) || !errors.Is(errNone, attach.ErrNotFound) {
		t.Fatalf("B's GrantGet of A's attachment: %v; of a missing one: %v; want ErrNotFound for both", errA, errNone)
	}
	if strings.ReplaceAll(errA.Error(), id, "ID") != strings.ReplaceAll(errNone.Error(), digestOf([]byte("nobody has this")), "ID") {
		t.Fatalf("the errors tell the cases apart:\n%v\n%v", errA, errNone)
	}
}

// testGrantAbandoned: a client that sent one part and vanished. The
// sweeper leaves the upload alone until the grant expired and the grace
// passed, then aborts it and forgets the intent; fsck is clean.
func testGrantAbandoned(t *testing.T, base objstore.Store) {
	e := newGrantEnv(t, base, time.Now())
	data := randomBytes(11, 11<<20)
	a := e.attach("s")
	g, err := a.GrantPut(e.ctx, attach.GrantPutOptions{SHA256: digestOf(data), Size: int64(len(data)),
		MultipartThreshold: 1 << 20, PartSize: 5 << 20, Expires: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if code, body := send(t, g.Parts[0], data[:5<<20], nil); code != http.StatusOK {
		t.Fatalf("part 1: %d %s", code, body)
	}
	uploads := func() int {
		n := 0
		for u, err := range e.objs.ListUploads(e.ctx, "") {
			if err != nil {
				t.Fatal(err)
			}
			if u.Key == "attach/data/"+g.UploadID {
				n++
			}
		}
		return n
	}
	grace := 10 * time.Minute
	for _, c := range []struct {
		at   time.Time
		left int
	}{
		{time.Now().Add(grace + time.Minute), 1}, // aged, but the grant has not expired
		{g.Expires.Add(grace + time.Minute), 0},  // expired and aged
	} {
		sw := &gc.Sweeper{Store: e.objs, Clock: func() time.Time { return c.at }, Grace: grace,
			Heads: gc.SessionHeads{SweepFunc: session.SweepHead}, HeadRefs: session.HeadRefs{Store: e.objs}, ForgetDeadIntents: true}
		if _, err := sw.Run(e.ctx); err != nil {
			t.Fatal(err)
		}
		if got := uploads(); got != c.left {
			t.Fatalf("after a sweep at %v: %d uploads of the grant left, want %d", c.at, got, c.left)
		}
	}
	if _, err := a.Seal(e.ctx, g); !errors.Is(err, attach.ErrNotFound) {
		t.Fatalf("Seal of a reclaimed grant: %v, want ErrNotFound", err)
	}
	e.fsckClean()
}

func (e *grantEnv) fsckClean() {
	e.t.Helper()
	rep, err := fsck.Check(e.ctx, e.st, &fsck.Options{Now: func() time.Time { return e.now }})
	if err != nil {
		e.t.Fatal(err)
	}
	if !rep.Clean() {
		e.t.Fatalf("fsck: %+v", rep.Problems)
	}
}
