package sim

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// childEnv marks a child process of TestSimulation: it runs its range of
// seeds itself.
const childEnv = "STOWAGE_SIM_CHILD"

// simWorkers is how many processes share a run's seeds:
// STOWAGE_SIM_WORKERS, or GOMAXPROCS.
func simWorkers() int {
	if v, err := strconv.Atoi(os.Getenv("STOWAGE_SIM_WORKERS")); err == nil && v > 0 {
		return v
	}
	return runtime.GOMAXPROCS(0)
}

// runInChildren runs the n seeds from from in workers child processes of
// this test binary, each a contiguous range with GOMAXPROCS=1. Processes,
// not goroutines: a seed's bubble runs almost sequentially, and with more
// than one P its goroutines hop between them (2,000 seeds took 52 s in one
// process of two workers and 27 s in two processes, on 2 cores). The first
// failure stops the other children and is reported with its output (the
// seed and how to replay it).
func runInChildren(t *testing.T, from, n uint64, workers int) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	type result struct {
		lo, hi uint64
		out    []byte
		err    error
	}
	results := make(chan result, workers)
	for i := range uint64(workers) {
		lo, hi := from+n*i/uint64(workers), from+n*(i+1)/uint64(workers)
		go func() {
			out, err := runChild(ctx, t, lo, hi-lo)
			if err != nil {
				cancel()
			}
			results <- result{lo, hi, out, err}
		}()
	}
	var failed *result // a child that failed, preferably of its own test
	for range workers {
		r := <-results
		if r.err != nil && (failed == nil || failedItself(r.out) && !failedItself(failed.out)) {
			failed = &r
		}
	}
	if failed != nil {
		t.Fatalf("seeds %d-%d: %v\n%s", failed.lo, failed.hi-1, failed.err, failed.out)
	}
}

// failedItself reports whether a child's output says a test of its own
// failed (a child killed because another failed says not).
func failedItself(out []byte) bool { return bytes.Contains(out, []byte("--- FAIL")) }

// runChild runs TestSimulation on the n seeds from from in a child process
// and returns its output.
func runChild(ctx context.Context, t *testing.T, from, n uint64) ([]byte, error) {
	timeout := time.Duration(0)
	if d, ok := t.Deadline(); ok {
		timeout = max(time.Until(d), time.Second)
	}
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestSimulation$", "-test.count=1", "-test.timeout="+timeout.String())
	cmd.Env = append(os.Environ(), childEnv+"=1", "GOMAXPROCS=1",
		fmt.Sprintf("STOWAGE_SIM_FROM=%d", from), fmt.Sprintf("STOWAGE_SIM_SEEDS=%d", n))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if os.Getenv("STOWAGE_SIM_PROGRESS") != "" {
		cmd.Stderr = os.Stderr
	}
	err := cmd.Run()
	return out.Bytes(), err
}
