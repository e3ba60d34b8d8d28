// Package attachtest is the conformance suite of package attach on a
// backend: round trips (raw, compressed, ranged), deduplication, isolation,
// owners, crashes at each step of a put, size limits, failing readers,
// concurrent identical puts, the deletion fence, and a streamed 1 GiB
// attachment under a heap bound. Each backend runs it with a one-screen
// harness.
package attachtest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/internal/fscktest"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/manifest/manifesttest"
	"github.com/stowage-dev/stowage/objstore"
)

// Harness adapts one backend to the suite.
type Harness struct {
	// New returns a fresh, empty store for one test and registers its own
	// cleanup. Required.
	New func(t *testing.T) objstore.Store
	// Reopen returns a new handle on the data of s, as another process
	// would open it; nil means s itself.
	Reopen func(t *testing.T, s objstore.Store) objstore.Store
	// Large runs the 1 GiB streaming case with its heap bound. Set it only
	// for a backend that keeps bytes off the Go heap (not memstore), and
	// not under testing.Short().
	Large bool
}

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	for _, c := range []struct {
		name string
		fn   func(*testing.T, *env)
	}{
		{"RoundTrip", testRoundTrip},
		{"RoundTripMultipart", testRoundTripMultipart},
		{"Compression", testCompression},
		{"Ranges", testRanges},
		{"ZeroBytes", testZeroBytes},
		{"Dedup", testDedup},
		{"Isolation", testIsolation},
		{"IdempotentDelete", testIdempotentDelete},
		{"OwnerByTurn", testOwnerByTurn},
		{"CrashBetweenIntentAndBytes", testCrashBeforeBytes},
		{"CrashBetweenBytesAndRef", testCrashBeforeRef},
		{"Reopen", testReopen},
		{"MaxSize", testMaxSize},
		{"FailingReader", testFailingReader},
		{"ReaderScribblesAfterRead", testReaderScribblesAfterRead},
		{"HostileIDs", testHostileIDs},
		{"Checksum", testChecksum},
		{"CopyStreams", testCopyStreams},
		{"PutKnown", testPutKnown},
		{"PutKnownNeedsPossession", testPutKnownNeedsPossession},
		{"ReclaimedData", testReclaimedData},
		{"FenceRevokes", testFenceRevokes},
		{"FenceArmed", testFenceArmed},
		{"ConcurrentIdenticalPuts", testConcurrentIdentical},
		{"SweepFailureCause", testSweepFailureCause},
		{"RepointedDuringGet", testRepointedDuringGet},
		{"CommittedRowKeepsItsData", testCommittedRowKeepsItsData},
	} {
		t.Run(c.name, func(t *testing.T) { c.fn(t, newEnv(t, h, h.New(t))) })
	}
	t.Run("Large", func(t *testing.T) {
		if !h.Large {
			t.Skip("attachtest: Harness.Large not set")
		}
		testLarge(t, newEnv(t, h, h.New(t)))
	})
}

// env is a manifest over a fresh store plus session stores on it.
type env struct {
	*manifesttest.Env
	h Harness
}

func newEnv(t *testing.T, h Harness, obj objstore.Store) *env {
	e := &env{Env: manifesttest.NewEnv(t, obj, nil), h: h}
	e.Fsck = fscktest.AtCleanup(t, obj, e.Clock.Now)
	return e
}

// session returns session sid's attachment store.
func (e *env) session(sid string, opts *attach.Options) *attach.Store {
	e.T.Helper()
	a, err := attach.New(e.M, sid, opts)
	e.Must(err)
	return a
}

// put stores body and checks the returned ref.
func (e *env) put(a *attach.Store, body []byte, opts attach.PutOptions) attach.Ref {
	e.T.Helper()
	ref, err := a.Put(e.Ctx, bytes.NewReader(body), opts)
	e.Must(err)
	if ref.ID != digest(body) || ref.Size != int64(len(body)) || ref.MediaType != opts.MediaType {
		e.T.Fatalf("Put returned %+v for %d bytes of %s", ref, len(body), digest(body)[:8])
	}
	return ref
}

// get reads id (or a range of it) whole.
func (e *env) get(a *attach.Store, id string, rng *attach.Range) ([]byte, error) {
	e.T.Helper()
	rc, _, err := a.Get(e.Ctx, id, rng)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// mustGet reads id whole and compares it with want.
func (e *env) mustGet(a *attach.Store, id string, want []byte) {
	e.T.Helper()
	got, err := e.get(a, id, nil)
	e.Must(err)
	if !bytes.Equal(got, want) {
		e.T.Fatalf("Get(%s) returned %d bytes, want %d (equal prefix %d)", id[:8], len(got), len(want), commonPrefix(got, want))
	}
}

// keys returns the keys under prefix.
func (e *env) keys(prefix string) []string {
	e.T.Helper()
	var out []string
	for info, err := range e.Obj.List(e.Ctx, prefix, nil) {
		e.Must(err)
		out = append(out, info.Key)
	}
	return out
}

// uploads returns the upload intents.
func (e *env) uploads() []manifest.Upload {
	e.T.Helper()
	var out []manifest.Upload
	for u, err := range e.M.Uploads(e.Ctx) {
		e.Must(err)
		out = append(out, u)
	}
	return out
}

// incomplete returns the incomplete multipart uploads under the data prefix.
func (e *env) incomplete() []objstore.UploadInfo {
	e.T.Helper()
	var out []objstore.UploadInfo
	for u, err := range e.Obj.ListUploads(e.Ctx, manifest.DataPrefix) {
		e.Must(err)
		out = append(out, u)
	}
	return out
}

// row returns sid's row for id.
func (e *env) row(sid, id string) manifest.Row { return e.Row(sid, id) }

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// random returns n pseudo-random bytes from seed.
func random(seed uint64, n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 1})
	r.Read(b)
	return b
}

// text returns n bytes of compressible text from seed.
func text(seed uint64, n int) []byte {
	words := []string{"attachment ", "session ", "commit ", "object ", "storage ", "sweeper ", "fence ", "\n"}
	r := rand.New(rand.NewPCG(seed, 7))
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(words[r.IntN(len(words))])
	}
	return b.Bytes()[:n]
}

func commonPrefix(a, b []byte) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got %v, want %v", what, err, target)
	}
}

func sortedCopy(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
