// Package objstoretest is the conformance suite of the objstore contract,
// which every backend runs, and a few helpers for tests of code built on a
// Store.
//
// # Running the suite
//
// A backend's test builds a Harness and calls Run. New must return a fresh,
// empty store per call and register its cleanup with t.Cleanup; the suite
// fails a case at once if the store it gets holds any object or upload, so it
// never runs where it could destroy data it did not write.
//
//	func TestConformance(t *testing.T) {
//		objstoretest.Run(t, objstoretest.Harness{
//			New: func(t *testing.T) objstore.Store {
//				s, err := fsstore.Open(t.TempDir(), nil)
//				if err != nil {
//					t.Fatal(err)
//				}
//				t.Cleanup(func() { s.Close() })
//				return s
//			},
//			Large: !testing.Short(),
//		})
//	}
//
// A store on a shared S3 bucket gives each test its own prefix, deletes what
// is left under it in its cleanup (objects with DeleteMany, incomplete uploads
// with AbortUpload), and declares the key length its prefix costs:
//
//	New: func(t *testing.T) objstore.Store {
//		s := objstore.WithPrefix(base, prefix) // prefix unique per call
//		t.Cleanup(func() { /* delete objects and abort uploads under prefix */ })
//		return s
//	},
//	MaxKeyLen: objstore.MaxKeyLen - len(prefix),
//	Large:     !testing.Short(),
//
// Knobs: AgeObject and AgeUpload (nil skips the aging cases) move an object's
// ModTime or an upload's Initiated back in time, for backends with an
// injectable clock or settable times; AgeObjectWith and AgeUploadWith build
// them for a store that implements Ager (memstore, fsstore), directly or
// under a prefix. Now is that clock; InMemory skips the heap bound of the
// large case for a store that keeps objects on the heap. CheckProbe checks
// that objstore.Probe confirms what a store claims.
//
// # Cases
//
// Every case is a subtest with a stable name (select them with -run):
// NotFound, RoundTrip, Range, GetIfNoneMatch, Delete, ZeroByte,
// CreateOnlyRace, CompareAndSwapRace, CompareAndSwapIncrements, StaleETag,
// IfMatchMissing, ConditionalDelete, Capabilities, OddKeys, InvalidKeys,
// InvalidArguments, ManyKeys, CancelledPut, CancelledUpload, UploadSmall,
// UploadMultipart, ConditionalUpload, ListUploads, AbortUpload, AgedUploads,
// AgedObjects and LargeStreamingUpload (256 MiB, only with Harness.Large and
// without -short).
//
// Where the contract leaves a detail open the suite pins S3's behaviour: a
// range running past the end of an object is truncated, and one starting at
// or past the end fails with ErrInvalidArgument (S3's 416).
//
// Errors are checked with errors.Is against the objstore sentinels only.
// Data is generated from seeds derived from the test name (see Seed), logged
// when a case fails. Nothing sleeps: races start behind a barrier (Race), and
// an upload in progress is held open by a body that blocks until released.
package objstoretest
