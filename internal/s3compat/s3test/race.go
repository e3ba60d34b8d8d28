package s3test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/internal/s3compat"
	"github.com/stowage-dev/stowage/internal/testenv"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/objstoretest"
)

// Sizes of the race checks: enough requests to show a race that a loaded
// CI machine showed once in a session test, few enough to take seconds a
// server.
const (
	raceWrites  = 2000            // at most, sequential If-Match overwrites the readers race
	raceBudget  = 5 * time.Second // and no more overwrites after this (MinIO: about 200)
	raceReaders = 4
	raceRounds  = 40 // rounds of racing If-Match PUTs on one ETag
	raceRacers  = 8
	raceBodyLen = 512 // about a session head
)

// burnCPU keeps one goroutine spinning until the test ends: the races
// below showed on a loaded machine, where a request's steps are spread
// further apart.
func burnCPU(t *testing.T) {
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for n := 0; !stop.Load(); n++ {
			_ = n
		}
	}()
	t.Cleanup(func() {
		stop.Store(true)
		<-done
	})
}

// versionBody is version v's distinct body.
func versionBody(v int) []byte {
	b := []byte(fmt.Sprintf("version %08d|", v))
	return append(b, objstoretest.PatternBytes(uint64(v), raceBodyLen-len(b))...)
}

func md5Hex(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

// readTally counts what GETs racing overwrites of one key returned. The
// writer registers each body's MD5 before sending it, so a body is
// classified by the version it is.
type readTally struct {
	mu       sync.Mutex
	versions map[string]int // MD5 of a written body -> its version
	gets     int
	bad      map[string]int // anomaly -> count
	example  map[string]string
	benign   map[string]int // refusals that are not anomalies -> count
}

func newReadTally() *readTally {
	return &readTally{versions: map[string]int{}, bad: map[string]int{}, example: map[string]string{}, benign: map[string]int{}}
}

// refused counts a GET that failed in a way that is no anomaly: what.
func (r *readTally) refused(what string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gets++
	r.benign[what]++
}

func (r *readTally) register(v int, body []byte) {
	r.mu.Lock()
	r.versions[md5Hex(body)] = v
	r.mu.Unlock()
}

// classify returns "" for a body that matches the ETag it came with, else
// what is wrong, and the detail to log.
func (r *readTally) classify(body []byte, etag string, err error) (anomaly, detail string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	etag = s3compat.UnquoteETag(etag)
	bodyV, known := r.versions[md5Hex(body)]
	etagV, etagKnown := r.versions[strings.ToLower(etag)]
	switch {
	case err != nil:
		return "failed", err.Error()
	case !known:
		return "torn body", fmt.Sprintf("%d bytes, MD5 %s, ETag %q", len(body), md5Hex(body), etag)
	case md5Hex(body) == strings.ToLower(etag):
		return "", ""
	case etag == "":
		return "no ETag", fmt.Sprintf("body of version %d", bodyV)
	case !etagKnown:
		return "foreign ETag", fmt.Sprintf("body of version %d, ETag %q", bodyV, etag)
	case etagV < bodyV:
		return "older version's ETag", fmt.Sprintf("body of version %d, ETag of version %d", bodyV, etagV)
	default:
		return "newer version's ETag", fmt.Sprintf("body of version %d, ETag of version %d", bodyV, etagV)
	}
}

func (r *readTally) count(anomaly, detail string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gets++
	if anomaly == "" {
		return
	}
	r.bad[anomaly]++
	if _, ok := r.example[anomaly]; !ok {
		r.example[anomaly] = detail
	}
}

func (r *readTally) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "%d GETs", r.gets)
	for a, n := range r.bad {
		fmt.Fprintf(&b, "; %d %s (e.g. %s)", n, a, r.example[a])
	}
	for a, n := range r.benign {
		fmt.Fprintf(&b, "; %d %s", n, a)
	}
	return b.String()
}

func (r *readTally) anomalies() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.bad {
		n += c
	}
	return n
}

// liveOverwriteReads: GETs racing a chain of If-Match overwrites of one
// small key, under CPU load. Through a store without
// OverwriteCorruptsReads (raw), every body must match the MD5 ETag it came
// with, unless the profile has the quirk; through the store with the
// profile, every body that is returned must match its ETag.
func liveOverwriteReads(t *testing.T, open Opener, srv testenv.Server, q s3compat.Quirks) {
	raw := q
	raw.OverwriteCorruptsReads = false
	prefix := testenv.UniquePrefix(t)
	rawStore := open(t, srv, raw, nil)
	t.Cleanup(func() { Clean(t, rawStore, prefix) })
	stores := []objstore.Store{objstore.WithPrefix(rawStore, prefix), objstore.WithPrefix(open(t, srv, q, nil), prefix)}
	ctx := t.Context()
	const key = "overwritten"
	tally, guarded := newReadTally(), newReadTally()
	tally.register(0, versionBody(0))
	guarded.register(0, versionBody(0))
	base := objstoretest.MustPut(t, stores[0], key, versionBody(0), nil)
	burnCPU(t)

	var stop atomic.Bool
	var wg sync.WaitGroup
	for i := range raceReaders {
		wg.Go(func() {
			s, tl := stores[i%2], []*readTally{tally, guarded}[i%2]
			for !stop.Load() {
				body, info, err := objstoretest.ReadAll(ctx, s, key, nil)
				switch {
				case errors.Is(err, objstore.ErrThrottled):
					tl.refused("throttled")
				case i%2 == 1 && q.OverwriteCorruptsReads && errors.Is(err, objstore.ErrUnavailable):
					tl.refused("refused by the store (the retry decorator retries them)")
				default:
					tl.count(tl.classify(body, info.ETag, err))
				}
			}
		})
	}
	writes, putErr := overwriteChain(ctx, stores[0], key, base.ETag, func(v int, body []byte) {
		tally.register(v, body)
		guarded.register(v, body)
	})
	stop.Store(true)
	wg.Wait()
	if putErr != nil {
		t.Error(putErr)
	}
	t.Logf("%d overwrites; raw store: %s", writes, tally)
	t.Logf("store with profile %s: %s", q.Name, guarded)
	if tally.anomalies() > 0 && !q.OverwriteCorruptsReads {
		t.Errorf("GETs racing overwrites returned bodies that do not match their ETags (%s); profile %s has no OverwriteCorruptsReads", tally, q.Name)
	}
	if guarded.anomalies() > 0 {
		t.Errorf("store with profile %s returned bodies that do not match their ETags: %s", q.Name, guarded)
	}
}

// overwriteChain overwrites key up to raceWrites times within raceBudget,
// each PUT conditional on the ETag the previous PUT answered (a 412 means
// that ETag is not the one the server compares with), and returns how many
// overwrites it made.
func overwriteChain(ctx context.Context, s objstore.Store, key, etag string, register func(v int, body []byte)) (int, error) {
	end := time.Now().Add(raceBudget)
	v := 1
	for ; v <= raceWrites && time.Now().Before(end); v++ {
		body := versionBody(v)
		register(v, body)
		info, err := s.Put(ctx, key, body, &objstore.PutOptions{IfMatch: etag})
		if err != nil {
			return v - 1, fmt.Errorf("overwrite %d, If-Match the ETag %q the previous PUT answered: %w", v, etag, err)
		}
		etag = info.ETag
	}
	return v - 1, nil
}

// liveIfMatchRounds: raceRounds rounds, each of raceRacers goroutines
// PUTting distinct bodies If-Match the same current ETag, under CPU load.
// Exactly one wins each round (more would be a lost update), and its PUT's
// ETag is the ETag HEAD and GET then report, with its body.
func liveIfMatchRounds(t *testing.T, s objstore.Store) {
	ctx := t.Context()
	const key = "cas"
	etag := objstoretest.MustPut(t, s, key, versionBody(0), nil).ETag
	burnCPU(t)
	for round := range raceRounds {
		infos := make([]objstore.ObjectInfo, raceRacers)
		errs := objstoretest.Race(raceRacers, func(i int) (err error) {
			infos[i], err = s.Put(ctx, key, versionBody(1+round*raceRacers+i), &objstore.PutOptions{IfMatch: etag})
			return err
		})
		var winners []int
		for i, err := range errs {
			switch {
			case err == nil:
				winners = append(winners, i)
			case !errors.Is(err, objstore.ErrPreconditionFailed) && !errors.Is(err, objstore.ErrConflict):
				t.Fatalf("round %d, racer %d: %v, want success, ErrPreconditionFailed or ErrConflict", round, i, err)
			}
		}
		if len(winners) != 1 {
			t.Fatalf("round %d: %d of %d If-Match PUTs on ETag %q succeeded (%v), want exactly one", round, len(winners), raceRacers, etag, winners)
		}
		w := winners[0]
		etag = infos[w].ETag
		checkStored(t, s, key, versionBody(1+round*raceRacers+w), etag)
	}
	t.Logf("%d rounds of %d racing If-Match PUTs: one winner each, its ETag read back", raceRounds, raceRacers)
}

// checkStored: HEAD and GET of key report the ETag etag that the PUT of
// body answered, and GET returns body.
func checkStored(t *testing.T, s objstore.Store, key string, body []byte, etag string) {
	t.Helper()
	info, err := s.Head(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	if info.ETag != etag {
		t.Fatalf("HEAD after a PUT: ETag %q, the PUT answered %q", info.ETag, etag)
	}
	got, info, err := objstoretest.ReadAll(t.Context(), s, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	if info.ETag != etag || string(got) != string(body) {
		t.Fatalf("GET after a PUT: ETag %q and %d bytes (%q...), the PUT answered %q for %q...", info.ETag, len(got), got[:min(16, len(got))], etag, body[:16])
	}
}
