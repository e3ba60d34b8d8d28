package sim

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore"
)

// rewriter is a store decorator's rewrite of one released request (see
// Store.Rewrite).
type rewriter = func(ctx context.Context, op, key string, put *objstore.PutOptions, del *objstore.DeleteOptions) (bool, error)

// mutant is a broken protocol rule, applied by one role's store decorator:
// product code has no mutation hooks.
type mutant struct {
	name, rule, role string
	rewrite          func(raw objstore.Store) rewriter
}

func isHead(key string) bool {
	return strings.HasPrefix(key, "sessions/") && strings.HasSuffix(key, "/head")
}

// mutants: one per safety rule of docs/protocol.md. Each must be caught.
var mutants = []*mutant{
	{name: "commit-cas-dropped", rule: "session commits: the head PUT is a compare-and-swap", role: "writer",
		rewrite: func(objstore.Store) rewriter {
			return func(_ context.Context, op, key string, put *objstore.PutOptions, _ *objstore.DeleteOptions) (bool, error) {
				if op == "put" && isHead(key) {
					put.IfMatch, put.IfNoneMatch = "", false
				}
				return false, nil
			}
		}},
	{name: "head-fence-unconditional", rule: "head fence (W1, W2): SweepHead publishes by CAS on the head it read", role: "sweeper",
		rewrite: func(objstore.Store) rewriter {
			return func(_ context.Context, op, key string, put *objstore.PutOptions, _ *objstore.DeleteOptions) (bool, error) {
				if op == "put" && isHead(key) {
					put.IfMatch, put.IfNoneMatch = "", false
				}
				return false, nil
			}
		}},
	{name: "protect-skipped", rule: "A2: Protect reads the deletion fence before relying on data", role: "writer",
		rewrite: func(objstore.Store) rewriter {
			return func(_ context.Context, op, key string, _ *objstore.PutOptions, _ *objstore.DeleteOptions) (bool, error) {
				if (op == "get" || op == "head") && strings.HasPrefix(key, "gc/fence/") {
					return true, fmt.Errorf("%w: mutant: no fence", objstore.ErrNotExist)
				}
				return false, nil
			}
		}},
	{name: "existence-recheck-skipped", rule: "A2: Protect re-checks that the data still exists after reading the fence", role: "writer",
		rewrite: func(objstore.Store) rewriter {
			return func(_ context.Context, op, key string, _ *objstore.PutOptions, _ *objstore.DeleteOptions) (bool, error) {
				if op == "head" && strings.HasPrefix(key, manifest.DataPrefix) {
					return true, nil // "it exists"
				}
				return false, nil
			}
		}},
	{name: "row-removal-unconditional", rule: "Deletion: rows are removed only at the ETag judged", role: "deleter",
		rewrite: func(objstore.Store) rewriter {
			return func(_ context.Context, op, key string, put *objstore.PutOptions, del *objstore.DeleteOptions) (bool, error) {
				if strings.HasPrefix(key, manifest.RefPrefix) {
					if del != nil {
						del.IfMatch = ""
					}
					if put != nil {
						put.IfMatch = ""
					}
				}
				return false, nil
			}
		}},
}

// TestSimulationCatchesMutants runs each mutant until a seed catches it,
// within 300 seeds.
func TestSimulationCatchesMutants(t *testing.T) {
	for _, m := range mutants {
		t.Run(m.name, func(t *testing.T) {
			const limit = 300
			for seed := range uint64(limit) {
				if failure, _ := run(t, seed, m); failure != "" {
					t.Logf("mutant %s (%s) caught by seed %d (%d seeds): %s", m.name, m.rule, seed, seed+1, failure)
					return
				}
			}
			t.Fatalf("mutant %s (%s) survived %d seeds", m.name, m.rule, limit)
		})
	}
}

// TestReadersCatchMutants: with only the readers' findings counted, the
// readers alone catch, within 300 seeds, every mutant that loses a row or
// the bytes of an attachment that an acknowledged, published commit names.
// Not head-fence-unconditional: it loses whole commits (a sweeper's head
// overwrites them), which no read can tell from commits never made; the
// scheduler's observation catches it.
func TestReadersCatchMutants(t *testing.T) {
	for _, m := range mutants {
		if m.name == "head-fence-unconditional" {
			continue
		}
		t.Run(m.name, func(t *testing.T) {
			const limit = 300
			for seed := range uint64(limit) {
				failure, _ := runWorld(t, seed, m, true)
				if failure == "" {
					continue
				}
				if !strings.HasPrefix(failure, "r0: ") && !strings.HasPrefix(failure, "r1: ") {
					t.Fatalf("seed %d: not a reader's finding: %s", seed, failure)
				}
				t.Logf("mutant %s caught by a reader at seed %d (%d seeds): %s", m.name, seed, seed+1, failure)
				return
			}
			t.Fatalf("mutant %s survived the readers for %d seeds", m.name, limit)
		})
	}
}
