package objstoretest

import (
	"testing"
	"time"

	"github.com/stowage-dev/stowage/objstore"
)

// Harness adapts one backend to the suite.
type Harness struct {
	// New returns a fresh, empty store for one test (a unique prefix or
	// directory). It registers its own cleanup with t.Cleanup. Required.
	New func(t *testing.T) objstore.Store

	// Large runs the 256 MiB streaming Upload case. Set it for every backend
	// unless testing.Short().
	Large bool

	// InMemory tells the suite that the store keeps object bytes on the Go
	// heap (memstore). The Large case then verifies content but cannot bound
	// heap growth, since the object itself lives there.
	InMemory bool

	// MaxKeyLen is the longest key the store can hold, if it is below
	// objstore.MaxKeyLen (a store that prefixes keys on a server with a
	// 1024-byte limit loses its prefix's length). 0 means objstore.MaxKeyLen.
	// Keys longer than objstore.MaxKeyLen are always required to fail with
	// ErrInvalidKey.
	MaxKeyLen int

	// AgeObject makes the object under key look age old (its ModTime, as
	// Head and List report it, moves back by age). Nil skips the aging cases.
	AgeObject func(t *testing.T, s objstore.Store, key string, age time.Duration)

	// AgeUpload makes the incomplete upload (key, uploadID) look age old (its
	// Initiated time moves back by age). Nil skips the aged-uploads case.
	AgeUpload func(t *testing.T, s objstore.Store, key, uploadID string, age time.Duration)

	// ReadsRaceOverwrites tells the suite that a Get racing an overwrite of
	// its key may fail with ErrUnavailable (the body was cut off or mixed
	// with the new version's, and the store noticed: see
	// s3compat.Quirks.OverwriteCorruptsReads). Such a read is retried by
	// the cases that race reads with writes; it must never return wrong
	// bytes.
	ReadsRaceOverwrites bool

	// Now is the store's clock, against which ModTime and Initiated are
	// checked. Nil means time.Now.
	Now func() time.Time
}

// timeSlack is how far a reported ModTime or Initiated time may stray from
// the window of the call that set it: servers keep whole seconds.
const timeSlack = 5 * time.Second

func (h *Harness) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Harness) maxKeyLen() int {
	if h.MaxKeyLen > 0 && h.MaxKeyLen < objstore.MaxKeyLen {
		return h.MaxKeyLen
	}
	return objstore.MaxKeyLen
}

// newStore returns a fresh store for t and refuses a non-empty one.
func (h *Harness) newStore(t *testing.T) objstore.Store {
	t.Helper()
	s := h.New(t)
	if s == nil {
		t.Fatal("objstoretest: Harness.New returned a nil store")
	}
	RequireEmpty(t, s)
	return s
}

// wantTime fails unless got lies within [from, to], widened by timeSlack.
func wantTime(t testing.TB, what string, got, from, to time.Time) {
	t.Helper()
	if got.IsZero() {
		t.Errorf("%s is zero", what)
		return
	}
	if got.Before(from.Add(-timeSlack)) || got.After(to.Add(timeSlack)) {
		t.Errorf("%s = %v, want within [%v, %v] (±%v)", what, got, from, to, timeSlack)
	}
}

type testCase struct {
	name string
	run  func(t *testing.T, h *Harness)
}

// cases is the suite, in order. Names are stable: backends may refer to them
// with -run.
var cases = []testCase{
	{"NotFound", testNotFound},
	{"RoundTrip", testRoundTrip},
	{"Range", testRange},
	{"GetIfNoneMatch", testGetIfNoneMatch},
	{"Delete", testDelete},
	{"ZeroByte", testZeroByte},
	{"CreateOnlyRace", testCreateOnlyRace},
	{"CompareAndSwapRace", testCASRace},
	{"CompareAndSwapIncrements", testCASIncrements},
	{"StaleETag", testStaleETag},
	{"IfMatchMissing", testIfMatchMissing},
	{"ConditionalDelete", testConditionalDelete},
	{"Capabilities", testCapabilities},
	{"OddKeys", testOddKeys},
	{"InvalidKeys", testInvalidKeys},
	{"InvalidArguments", testInvalidArguments},
	{"ManyKeys", testManyKeys},
	{"CancelledPut", testCancelledPut},
	{"CancelledUpload", testCancelledUpload},
	{"UploadReadError", testUploadReadError},
	{"UploadSmall", testUploadSmall},
	{"UploadMultipart", testUploadMultipart},
	{"ConditionalUpload", testConditionalUpload},
	{"ListUploads", testListUploads},
	{"AbortUpload", testAbortUpload},
	{"UploadSize", testUploadSize},
	{"AgedUploads", testAgedUploads},
	{"AgedObjects", testAgedObjects},
	{"LargeStreamingUpload", testLargeUpload},
}

// Run runs the conformance suite against the backend h describes, one named
// subtest per case. Each case gets its own store from h.New and fails at once
// if that store is not empty.
func Run(t *testing.T, h Harness) {
	if h.New == nil {
		t.Fatal("objstoretest: Harness.New is nil")
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, &h) })
	}
}
