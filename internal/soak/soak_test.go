package soak

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stowage-dev/stowage"
	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/fsck"
	"github.com/stowage-dev/stowage/gc"
	"github.com/stowage-dev/stowage/internal/faultnet"
	"github.com/stowage-dev/stowage/internal/testenv"
	"github.com/stowage-dev/stowage/internal/testenv/s3env"
	"github.com/stowage-dev/stowage/objstore/openurl"
	"github.com/stowage-dev/stowage/objstore/retry"
)

// soakConfig sizes a soak run.
type soakConfig struct {
	agents     int
	turns      int           // turns per agent (short run)
	duration   time.Duration // how long agents keep committing (long run); overrides turns
	grace      time.Duration // the sweepers' grace period
	sweepEvery time.Duration
	bigEvery   int // one attachment in bigEvery is a multipart upload (5-9 MiB)
}

func soakConfigFromEnv() soakConfig {
	c := soakConfig{agents: 32, turns: 3, grace: 2 * time.Second, sweepEvery: 100 * time.Millisecond, bigEvery: 40}
	if os.Getenv("STOWAGE_TEST_LONG") != "" {
		c.duration, c.sweepEvery, c.bigEvery = 2*time.Minute, time.Second, 15
		if d, err := time.ParseDuration(os.Getenv("STOWAGE_SOAK_DURATION")); err == nil {
			c.duration = d
		}
	}
	return c
}

// faultRules inject about 20% faults while enabled: 503 SlowDown, connection
// resets, latency, and responses lost after the server applied the request.
func faultRules(enabled *atomic.Bool) []faultnet.Rule {
	on := func(*http.Request) bool { return enabled.Load() }
	return []faultnet.Rule{
		{Name: "slowdown", Fault: faultnet.SlowDown, Rate: 0.06, Match: on},
		{Name: "reset", Fault: faultnet.Reset, Rate: 0.06, Match: on},
		{Name: "latency", Fault: faultnet.Latency, Rate: 0.05, Delay: 20 * time.Millisecond, Match: on},
		{Name: "lost-response", Fault: faultnet.LoseResponse, Rate: 0.05, Match: on},
	}
}

// soakStats counts what the agents and sweepers did.
type soakStats struct {
	mu          sync.Mutex
	turns       int
	attachments int
	bytes       int64
	giveUps     map[string]int // turns abandoned, by cause
	retries     map[string]int // retries by the agents and the store's retry layer, by op
	warnings    map[string]int // stowage's warnings, by message
	sweeps      int
	sweepErrs   map[string]int
	reclaimed   map[gc.Kind]int64
	whileRef    int64
	// lastRetries are the store's most recent retries (at most
	// keptRetries), when and why, for the report of a check that failed
	// with the faults off: whether a read that gave up failed the same
	// way at every attempt, and over how long.
	lastRetries []string
}

// keptRetries is how many of the store's retries soakStats keeps.
const keptRetries = 16

func newSoakStats() *soakStats {
	return &soakStats{warnings: map[string]int{}, giveUps: map[string]int{}, retries: map[string]int{}, sweepErrs: map[string]int{}, reclaimed: map[gc.Kind]int64{}}
}

func (s *soakStats) add(fn func(*soakStats)) {
	s.mu.Lock()
	fn(s)
	s.mu.Unlock()
}

// TestSoakSimulation runs 32 simulated agents (turns with attachments,
// retries, turn receipts) and repeated, sometimes concurrent, sweeps against
// each local server through a proxy injecting about 20% faults. At the end,
// with faults off: every acknowledged turn is in its session exactly once
// and in order, every acknowledged attachment reads back with its digest
// checked, fsck finds the bucket clean, and after a final sweep no orphan
// older than the grace period is left. Short in `go test`; with
// STOWAGE_TEST_LONG=1 (make soak) agents run for minutes
// (STOWAGE_SOAK_DURATION) and the operation and fault counts are printed.
func TestSoakSimulation(t *testing.T) {
	cfg := soakConfigFromEnv()
	testenv.ForEachServer(t, func(t *testing.T, srv testenv.Server) {
		s3env.Env(t, srv)
		seed := uint64(time.Now().UnixNano())
		if v := os.Getenv("STOWAGE_SOAK_SEED"); v != "" {
			seed, _ = strconv.ParseUint(v, 10, 64)
		}
		t.Logf("seed %d (STOWAGE_SOAK_SEED)", seed)
		soak(t, srv, cfg, seed)
	})
}

func soak(t *testing.T, srv testenv.Server, cfg soakConfig, seed uint64) {
	ctx := t.Context()
	var faultsOn atomic.Bool
	tr := &faultnet.Transport{Rules: faultRules(&faultsOn), Seed: seed}
	px, err := faultnet.NewProxy(srv.Endpoint, tr)
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()
	stats := newSoakStats()
	q := url.Values{"endpoint": {px.URL()}, "region": {srv.Region}, "quirks": {srv.Name}}
	raw := "s3://" + srv.Bucket + "/" + strings.TrimSuffix(testenv.UniquePrefix(t), "/") + "?" + q.Encode()
	st, err := stowage.Open(ctx, raw, stowage.Config{Logger: slog.New(warnCounter{stats}), URL: &openurl.Options{Retry: retryCounter(stats)}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	before := tr.Stats()
	faultsOn.Store(true)

	agents := make([]*Agent, cfg.agents)
	for i := range agents {
		sid := fmt.Sprintf("agent-%02d", i)
		a, err := soakAgent(st, sid, stats)
		if err != nil {
			t.Fatal(err)
		}
		agents[i] = a
	}
	gaveUp := runAgents(t, st, agents, cfg, seed, stats)

	// Faults off: every agent closes with one more turn (so the owners of
	// any intents its abandoned turns left are dead), then the checks.
	faultsOn.Store(false)
	during := tr.Stats()
	for k, v := range before.Faults {
		during.Faults[k] -= v
	}
	during.Requests -= before.Requests
	verified, check := closeAndCheck(t, st, agents, gaveUp, cfg, stats)
	t.Log("summary: " + soakSummary(srv.Name, verified, stats, during, check))
}

// runAgents runs the agents' turns, with sweeps racing them, until each
// has done cfg.turns turns (or cfg.duration is up), and returns which
// agents abandoned a turn.
func runAgents(t *testing.T, st *stowage.Store, agents []*Agent, cfg soakConfig, seed uint64, stats *soakStats) []bool {
	ctx := t.Context()
	stopSweeps := make(chan struct{})
	var sweepers sync.WaitGroup
	sweepers.Add(1)
	go func() {
		defer sweepers.Done()
		sweepLoop(ctx, st, cfg, seed, stats, stopSweeps)
	}()
	deadline := time.Now().Add(cfg.duration)
	var wg sync.WaitGroup
	errs := make(chan error, len(agents))
	gaveUp := make([]bool, len(agents))
	for i, a := range agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if gaveUp[i], err = agentTurns(ctx, a, rand.New(rand.NewPCG(seed, uint64(i))), cfg, deadline, stats); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(stopSweeps)
	sweepers.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return gaveUp
}

// agentTurns runs one agent's turns; it reports whether the agent gave up
// a turn (and resumed), or an error that ends the soak.
func agentTurns(ctx context.Context, a *Agent, rng *rand.Rand, cfg soakConfig, deadline time.Time, stats *soakStats) (gaveUp bool, _ error) {
	for n := 0; ; n++ {
		if cfg.duration > 0 && time.Now().After(deadline) || cfg.duration == 0 && n >= cfg.turns {
			return gaveUp, nil
		}
		spec := soakTurn(rng, fmt.Sprintf("t%d", n), cfg)
		ack, err := a.Turn(ctx, spec)
		if err != nil {
			if ctx.Err() != nil {
				return gaveUp, err
			}
			gaveUp = true
			stats.add(func(s *soakStats) { s.giveUps[giveUpCause(err)]++ })
			// A runtime that lost track of its head reloads it.
			if err := a.retry(ctx, "resume", func() error { return a.Resume(ctx) }); err != nil {
				return gaveUp, fmt.Errorf("%s: resume: %w", a.Session.SessionID(), err)
			}
			continue
		}
		stats.add(func(s *soakStats) {
			s.turns++
			s.attachments += len(ack.Attachments)
			for _, r := range ack.Attachments {
				s.bytes += r.Size
			}
		})
	}
}

// closeAndCheck gives every agent a closing turn, verifies what each
// acknowledged, runs a final sweep with no writer and a deep fsck, and
// verifies again. It returns the number of turns verified and the fsck
// report.
func closeAndCheck(t *testing.T, st *stowage.Store, agents []*Agent, gaveUp []bool, cfg soakConfig, stats *soakStats) (int, *fsck.Report) {
	ctx := t.Context()
	for _, a := range agents {
		if _, err := a.Turn(ctx, TurnSpec{TurnID: "closing", Nodes: 1, NodeBytes: 50}); err != nil {
			t.Fatalf("%s: closing turn: %v", a.Session.SessionID(), err)
		}
	}
	verified := 0
	for i, a := range agents {
		// An abandoned turn may have landed unacknowledged.
		if _, err := Verify(ctx, a.Session, a.Attach, a.Acked(), gaveUp[i]); err != nil {
			t.Errorf("%v (at %s; the store's last retries, the faults off since before the closing turns:\n%s)",
				err, time.Now().Format("15:04:05.000000"), stats.recentRetries())
		}
		verified += len(a.Acked())
	}
	t0 := time.Now()
	at := func() time.Time { return t0 }
	// The final sweep runs with no writer, so it may forget dead intents
	// (off while writers run: not yet fenced against adoption, see gc).
	sw := &gc.Sweeper{Store: st.Objects(), Manifest: st.Manifest(), Clock: at, Grace: cfg.grace, MaxDeletes: -1,
		Holder: "final", ForgetDeadIntents: true}
	rep, err := sw.Run(ctx)
	if err != nil {
		t.Fatalf("final sweep: %v", err)
	}
	stats.add(func(s *soakStats) { s.addReport(rep) })
	check, err := fsck.Check(ctx, st, &fsck.Options{Now: at, Grace: cfg.grace, Deep: true})
	if err != nil {
		t.Fatal(err)
	}
	if !check.Clean() {
		t.Errorf("fsck: %d problems: %v", len(check.Problems), check.Problems)
	}
	if n := check.StaleOrphans(); n > 0 {
		t.Errorf("%d orphans older than the grace period after the final sweep: %v", n, check.OrphanCounts(true))
	}
	for _, a := range agents {
		if _, err := Verify(ctx, a.Session, a.Attach, a.Acked(), true); err != nil {
			t.Errorf("after the final sweep: %v", err)
		}
	}
	return verified, check
}

func soakAgent(st *stowage.Store, sid string, stats *soakStats) (*Agent, error) {
	sess, err := st.Session(sid)
	if err != nil {
		return nil, err
	}
	att, err := attach.New(st.Manifest(), sid, &attach.Options{PartSize: 5 << 20, Concurrency: 2})
	if err != nil {
		return nil, err
	}
	a := NewAgent(sess, att)
	a.MaxAttempts = 8
	a.OnRetry = func(op string, err error) { stats.add(func(s *soakStats) { s.retries["agent "+op]++ }) }
	return a, nil
}

// soakTurn draws a turn: 1-3 nodes, 0-2 attachments (mostly small, some
// shared content, now and then a multipart upload).
func soakTurn(rng *rand.Rand, turnID string, cfg soakConfig) TurnSpec {
	spec := TurnSpec{TurnID: turnID, Nodes: 1 + rng.IntN(3), NodeBytes: 50 + rng.IntN(3000)}
	for range rng.IntN(3) {
		size, seed := rng.Int64N(256<<10), rng.Uint64()
		switch {
		case rng.IntN(cfg.bigEvery) == 0:
			size = 5<<20 + rng.Int64N(4<<20)
		case rng.IntN(8) == 0:
			seed, size = 7, 4096 // identical bytes across agents: deduplication
		}
		spec.Attachments = append(spec.Attachments, AttachmentSpec{Size: size, Seed: seed})
	}
	return spec
}

func giveUpCause(err error) string {
	switch {
	case Retryable(err):
		return "transient"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	msg := err.Error()
	if len(msg) > 60 {
		msg = msg[:60]
	}
	return msg
}

func retryCounter(stats *soakStats) retry.Options {
	return retry.Options{OnRetry: func(op string, attempt int, err error) {
		at := time.Now().Format("15:04:05.000000")
		stats.add(func(s *soakStats) {
			s.retries["store "+op]++
			if len(s.lastRetries) == keptRetries {
				s.lastRetries = s.lastRetries[1:]
			}
			s.lastRetries = append(s.lastRetries, fmt.Sprintf("%s %s, attempt %d: %v", at, op, attempt, err))
		})
	}}
}

// recentRetries lists the store's last retries, one a line.
func (s *soakStats) recentRetries() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.lastRetries, "\n")
}

// sweepLoop sweeps every cfg.sweepEvery until stop, now and then with a
// second sweeper racing the first for the lease.
func sweepLoop(ctx context.Context, st *stowage.Store, cfg soakConfig, seed uint64, stats *soakStats, stop <-chan struct{}) {
	rng := rand.New(rand.NewPCG(seed, 77))
	tick := time.NewTicker(cfg.sweepEvery)
	defer tick.Stop()
	for n := 0; ; n++ {
		if n > 0 {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
		sweepers := 1
		if rng.IntN(4) == 0 {
			sweepers = 2
		}
		var wg sync.WaitGroup
		for i := range sweepers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sw := &gc.Sweeper{Store: st.Objects(), Manifest: st.Manifest(), Grace: cfg.grace,
					Holder: fmt.Sprintf("sweeper-%d-%d", n, i), LeaseTTL: 30 * time.Second}
				rep, err := sw.Run(ctx)
				stats.add(func(s *soakStats) {
					s.sweeps++
					s.addReport(rep)
					switch {
					case err == nil:
					case errors.Is(err, gc.ErrLeaseHeld):
						s.sweepErrs["lease held"]++
					case errors.Is(err, gc.ErrIncomplete):
						s.sweepErrs["incomplete"]++
					default:
						s.sweepErrs["failed"]++
					}
				})
			}()
		}
		wg.Wait()
	}
}

func (s *soakStats) addReport(rep gc.Report) {
	for k, v := range rep.Reclaimed {
		s.reclaimed[k] += v
	}
	s.whileRef += rep.DeletedWhileReferenced
}

// soakSummary is the one-line report of a soak run.
func soakSummary(server string, verified int, s *soakStats, f faultnet.Stats, check *fsck.Report) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("soak %s: %d turns under faults, %d acknowledged turns verified (%d attachments, %.1f MB), turns abandoned: %s; retries: %s; "+
		"stowage warnings: %s; %d sweeps (%s), reclaimed: %s, deleted-while-referenced %d; %d requests under faults, faults: %s; fsck: %d problems, %d stale orphans",
		server, s.turns, verified, s.attachments, float64(s.bytes)/1e6, counts(s.giveUps), counts(s.retries), counts(s.warnings),
		s.sweeps, counts(s.sweepErrs), counts(s.reclaimed), s.whileRef,
		f.Requests, counts(f.Faults), len(check.Problems), check.StaleOrphans())
}

// warnCounter is a slog.Handler that counts stowage's warnings and errors
// by message.
type warnCounter struct{ stats *soakStats }

func (w warnCounter) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (w warnCounter) Handle(_ context.Context, r slog.Record) error {
	w.stats.add(func(s *soakStats) { s.warnings[r.Message]++ })
	return nil
}
func (w warnCounter) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w warnCounter) WithGroup(string) slog.Handler      { return w }

// counts formats a map as "k1 n1, k2 n2" in key order ("none" if empty).
func counts[K comparable, V int | int64](m map[K]V) string {
	parts := make([]string, 0, len(m))
	for k, v := range m {
		if v != 0 {
			parts = append(parts, fmt.Sprintf("%v %d", k, v))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}
