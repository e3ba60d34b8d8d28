package soak

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stowage-dev/stowage"
	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/fsck"
	"github.com/stowage-dev/stowage/gc"
	"github.com/stowage-dev/stowage/objstore/openurl"
	"github.com/stowage-dev/stowage/session"
)

// The crash test's child protocol: the parent re-executes the test binary
// with these variables set; TestMain runs crashChild instead of the tests.
const (
	envChild   = "STOWAGE_CRASH_CHILD" // the store directory
	envSeed    = "STOWAGE_CRASH_CHILD_SEED"
	envAt      = "STOWAGE_CRASH_CHILD_AT"
	crashSID   = "crash-session"
	crashTurns = 6   // turns a child writes if it is not killed first
	maxPoint   = 130 // crash points are drawn from [1, maxPoint]
)

func TestMain(m *testing.M) {
	if os.Getenv(envChild) != "" {
		os.Exit(crashChild())
	}
	os.Exit(m.Run())
}

// crashChild is the writer process: it resumes the session and commits
// turns with attachments, printing "ack <json>" after each acknowledged
// turn, until crash point number $STOWAGE_CRASH_CHILD_AT, where it prints
// "halt <point> <what>" and waits for the parent's SIGKILL.
func crashChild() int {
	ctx := context.Background()
	seed, _ := strconv.ParseUint(os.Getenv(envSeed), 10, 64)
	at, _ := strconv.Atoi(os.Getenv(envAt))
	objs, err := openurl.Open(ctx, "file://"+os.Getenv(envChild), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	hs := &haltStore{Store: objs, at: at, halt: func(point int, desc string) {
		fmt.Printf("halt %d %s\n", point, desc)
		time.Sleep(time.Hour) // the parent kills us now
	}}
	// Tiny segments, so that segment flushes and merges are crash points too.
	st, err := stowage.OpenStore(ctx, hs, stowage.Config{Session: session.Tuning{FlushDeltas: 2}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	a, err := crashAgent(st)
	if err == nil {
		err = a.Resume(ctx)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	rng := rand.New(rand.NewPCG(seed, 1))
	for i := range crashTurns {
		ack, err := a.Turn(ctx, randomTurn(rng, fmt.Sprintf("w%d-t%d", seed, i)))
		if err != nil {
			fmt.Fprintln(os.Stderr, "child: turn:", err)
			return 1
		}
		js, _ := json.Marshal(ack)
		fmt.Printf("ack %s\n", js)
	}
	// The last commit's background work (a flushed tail, a merge) has
	// crash points too: wait for it, so that a halt there keeps the process
	// alive for the parent's SIGKILL instead of racing its exit.
	a.Session.WaitCompaction()
	fmt.Println("done")
	return 0
}

func crashAgent(st *stowage.Store) (*Agent, error) {
	sess, err := st.Session(crashSID)
	if err != nil {
		return nil, err
	}
	att, err := attach.New(st.Manifest(), crashSID, &attach.Options{PartSize: 5 << 20, Concurrency: 2})
	if err != nil {
		return nil, err
	}
	return NewAgent(sess, att), nil
}

// randomTurn draws a turn: 1-4 nodes of up to 2 KB, 0-2 attachments, most
// small, one in ten a multipart upload of 5-11 MiB, some repeating earlier
// content (deduplication).
func randomTurn(rng *rand.Rand, turnID string) TurnSpec {
	spec := TurnSpec{TurnID: turnID, Nodes: 1 + rng.IntN(4), NodeBytes: 100 + rng.IntN(1900)}
	for range rng.IntN(3) {
		var size int64
		switch p := rng.IntN(10); {
		case p == 0:
			size = 5<<20 + rng.Int64N(6<<20)
		case p < 3:
			size = 64<<10 + rng.Int64N(2<<20)
		default:
			size = rng.Int64N(64 << 10)
		}
		seed := rng.Uint64()
		if rng.IntN(10) == 0 {
			seed, size = 42, 1000 // the same bytes again
		}
		spec.Attachments = append(spec.Attachments, AttachmentSpec{Size: size, Seed: seed})
	}
	return spec
}

// crashResult is what one crash run did.
type crashResult struct {
	killedAt  string // "" if the child finished
	acked     int
	extra     bool // an unacknowledged turn landed
	orphans   int  // stale orphans fsck found before the sweep
	reclaimed int64
}

// crashRun runs one writer with seed in dir, kills it at its crash point,
// and recovers: reopen, verify every acknowledged turn, commit a recovery
// turn, sweep, fsck.
func crashRun(ctx context.Context, seed uint64, dir string) (crashResult, error) {
	var res crashResult
	at := 1 + rand.New(rand.NewPCG(seed, 2)).IntN(maxPoint)
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChild+"="+dir, envSeed+"="+strconv.FormatUint(seed, 10), envAt+"="+strconv.Itoa(at))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return res, err
	}
	if err := cmd.Start(); err != nil {
		return res, err
	}
	var acked []Ack
	done := false
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		verb, rest, _ := strings.Cut(sc.Text(), " ")
		switch verb {
		case "ack":
			var a Ack
			if err := json.Unmarshal([]byte(rest), &a); err != nil {
				return res, fmt.Errorf("child said %q: %w", sc.Text(), err)
			}
			acked = append(acked, a)
		case "halt":
			_, res.killedAt, _ = strings.Cut(rest, " ")
			_ = cmd.Process.Kill() // SIGKILL
		case "done":
			done = true
		}
	}
	werr := cmd.Wait()
	switch {
	case res.killedAt == "" && !done:
		return res, fmt.Errorf("child failed: %v: %s", werr, stderr.String())
	case res.killedAt != "" && werr == nil:
		return res, fmt.Errorf("child was not killed")
	}
	res.acked = len(acked)
	return res, recoverCrash(ctx, dir, seed, acked, &res)
}

// recoverCrash is what a new process does after a writer died.
func recoverCrash(ctx context.Context, dir string, seed uint64, acked []Ack, res *crashResult) error {
	st, err := stowage.Open(ctx, "file://"+dir, stowage.Config{})
	if err != nil {
		return err
	}
	defer st.Close()
	a, err := crashAgent(st)
	if err != nil {
		return err
	}
	got, err := Verify(ctx, a.Session, a.Attach, acked, true)
	if err != nil {
		return fmt.Errorf("after the crash: %w", err)
	}
	var last uint64
	if len(acked) > 0 {
		last = acked[len(acked)-1].Revision
	}
	res.extra = got.Revision > last // the killed turn landed, unacknowledged
	if err := a.Resume(ctx); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(seed, 3))
	spec := randomTurn(rng, fmt.Sprintf("r%d", seed))
	spec.Attachments = append(spec.Attachments, AttachmentSpec{Size: 3000, Seed: seed})
	if _, err := a.Turn(ctx, spec); err != nil {
		return fmt.Errorf("recovery turn: %w", err)
	}
	// Its flush and merges run in the background: wait for them, or the
	// sweep would find a segment written after fsck listed the session.
	a.Session.WaitCompaction()
	// Sweep an hour later with a minute of grace: everything the dead
	// writer left is aged, and its turn is dead (a later turn committed).
	later := func() time.Time { return time.Now().Add(time.Hour) }
	opts := &fsck.Options{Now: later, Grace: time.Minute, Deep: true}
	before, err := fsck.Check(ctx, st, opts)
	if err != nil {
		return err
	}
	if !before.Clean() {
		return fmt.Errorf("fsck before the sweep: %v", before.Problems)
	}
	res.orphans = before.StaleOrphans()
	// No writer runs now: forgetting dead intents cannot race an adoption.
	sw := &gc.Sweeper{Store: st.Objects(), Manifest: st.Manifest(), Clock: later, Grace: time.Minute, ForgetDeadIntents: true}
	rep, err := sw.Run(ctx)
	if err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	res.reclaimed = rep.Total()
	after, err := fsck.Check(ctx, st, opts)
	if err != nil {
		return err
	}
	switch {
	case !after.Clean():
		return fmt.Errorf("fsck after the sweep: %v", after.Problems)
	case after.StaleOrphans() > 0:
		return fmt.Errorf("stale orphans after the sweep: %v (sweep: %+v)", after.Orphans, rep)
	case rep.Total() != int64(res.orphans):
		return fmt.Errorf("fsck found %d orphans (%v), the sweep reclaimed %d (%v)",
			res.orphans, before.OrphanCounts(true), rep.Total(), rep.Reclaimed)
	}
	if _, err := Verify(ctx, a.Session, a.Attach, a.Acked(), true); err != nil {
		return fmt.Errorf("after the sweep: %w", err)
	}
	_, err = Verify(ctx, a.Session, a.Attach, acked, true)
	return err
}

// TestCrash kills a writer process with SIGKILL at a seeded random point
// of its commits and uploads, then reopens the store, verifies every
// acknowledged turn, commits a recovery turn, sweeps and runs fsck: 100
// runs on a file store, 1,000 with STOWAGE_TEST_LONG=1. STOWAGE_CRASH_SEED
// fixes the base seed; STOWAGE_CRASH_ONLY=<seed> runs one run.
func TestCrash(t *testing.T) {
	runs := 100
	if os.Getenv("STOWAGE_TEST_LONG") != "" {
		runs = 1000
	}
	base := uint64(time.Now().UnixNano())
	if v := os.Getenv("STOWAGE_CRASH_SEED"); v != "" {
		base, _ = strconv.ParseUint(v, 10, 64)
	}
	seeds := make([]uint64, runs)
	for i := range seeds {
		seeds[i] = base + uint64(i)
	}
	if v := os.Getenv("STOWAGE_CRASH_ONLY"); v != "" {
		s, _ := strconv.ParseUint(v, 10, 64)
		seeds = []uint64{s}
	}
	ctx := context.Background()
	root := crashRoot(t)
	var (
		mu      sync.Mutex
		results []crashResult
		failed  []string
		wg      sync.WaitGroup
		next    = make(chan uint64)
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seed := range next {
				dir, err := os.MkdirTemp(root, "run")
				var res crashResult
				if err == nil {
					res, err = crashRun(ctx, seed, dir)
					os.RemoveAll(dir)
				}
				mu.Lock()
				if err != nil {
					failed = append(failed, fmt.Sprintf("seed %d (killed at %q): %v", seed, res.killedAt, err))
				}
				results = append(results, res)
				mu.Unlock()
			}
		}()
	}
	for _, s := range seeds {
		next <- s
	}
	close(next)
	wg.Wait()
	sort.Strings(failed)
	for _, f := range failed {
		t.Errorf("%s\n\treproduce: STOWAGE_CRASH_ONLY=<seed> go test ./internal/soak -run TestCrash", f)
	}
	t.Log("summary: " + crashSummary(base, results, len(failed)))
}

// crashRoot returns a directory for the runs' stores: on tmpfs where there
// is one (a killed process loses no page cache, so fsync buys nothing here
// and costs most of a run's time), else the test's temporary directory.
func crashRoot(t *testing.T) string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if dir, err := os.MkdirTemp("/dev/shm", "stowage-crash-"); err == nil {
			t.Cleanup(func() { os.RemoveAll(dir) })
			return dir
		}
	}
	return t.TempDir()
}

// crashSummary is the one-line report of the runs.
func crashSummary(base uint64, rs []crashResult, failed int) string {
	var killed, turns, extra, orphans int
	var reclaimed int64
	where := map[string]int{}
	for _, r := range rs {
		turns += r.acked
		orphans += r.orphans
		reclaimed += r.reclaimed
		if r.extra {
			extra++
		}
		if r.killedAt != "" {
			killed++
			where[pointKind(r.killedAt)]++
		}
	}
	kinds := make([]string, 0, len(where))
	for k, n := range where {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(kinds)
	return fmt.Sprintf("crash: %d runs (base seed %d): %d killed, %d finished; %d acknowledged turns verified, %d unacknowledged turns landed; %d orphans found, %d reclaimed; %d runs failed; kill points: %s",
		len(rs), base, killed, len(rs)-killed, turns, extra, orphans, reclaimed, failed, strings.Join(kinds, ", "))
}

// pointKind names a crash point by phase and object kind: "before put
// head", "mid-upload data", ...
func pointKind(desc string) string {
	phase, key, _ := strings.Cut(desc, " ")
	if phase == "before" || phase == "after" {
		var op string
		op, key, _ = strings.Cut(key, " ")
		phase += " " + op
	}
	var kind string
	switch {
	case strings.HasSuffix(key, "/head"):
		kind = "head"
	case strings.HasPrefix(key, "sessions/"):
		kind = "segment"
	case strings.HasPrefix(key, "attach/uploads/"):
		kind = "intent"
	case strings.HasPrefix(key, "attach/data/"):
		kind = "data"
	case strings.HasPrefix(key, "attach/refs/"):
		kind = "row"
	case strings.HasPrefix(key, "attach/blobs/"):
		kind = "pointer"
	case strings.HasPrefix(key, "attach/"):
		kind = "marker"
	case strings.HasPrefix(key, "gc/"):
		kind = "fence"
	case key == "":
		return phase
	default:
		kind = "other"
	}
	return phase + " " + kind
}
