package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/stowage-dev/stowage/internal/codec"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore"
)

// rewriter is a store decorator's rewrite of one released request (see
// Store.Rewrite).
type rewriter = func(ctx context.Context, op, key string, body []byte, put *objstore.PutOptions, del *objstore.DeleteOptions) (bool, error)

// mutant is a broken protocol rule, applied by one role's store decorator:
// product code has no mutation hooks.
type mutant struct {
	name, rule, role string
	rewrite          func(raw objstore.Store) rewriter
}

// headFields are the fields of a head that tell an announcement (a head
// write that keeps the revision and adds to attach_turns) from a commit.
type headFields struct {
	Revision    uint64   `json:"revision"`
	Placeholder bool     `json:"placeholder"`
	AttachTurns []string `json:"attach_turns"`
}

func decodeHeadFields(data []byte) (headFields, bool) {
	var h headFields
	_, err := codec.Decode(codec.Schema{Kind: "HEAD", Current: 7, Min: 1}, data, &h)
	return h, err == nil
}

// isAnnouncement reports whether body, put at key, announces a turn: it
// keeps the stored head's revision (or is a placeholder where there is no
// head) and announces more turns.
func isAnnouncement(ctx context.Context, raw objstore.Store, key string, body []byte) bool {
	next, ok := decodeHeadFields(body)
	if !ok {
		return false
	}
	var cur headFields
	if rc, _, err := raw.Get(ctx, key, nil); err == nil {
		data, _ := io.ReadAll(rc)
		rc.Close()
		if cur, ok = decodeHeadFields(data); !ok {
			return false
		}
	} else if !next.Placeholder {
		return false
	}
	return next.Revision == cur.Revision && len(next.AttachTurns) > len(cur.AttachTurns)
}

func isHead(key string) bool {
	return strings.HasPrefix(key, "sessions/") && strings.HasSuffix(key, "/head")
}

// headSweepGen returns the sweep generation of the head encoded in body,
// and its payload.
func headSweepGen(body []byte) (uint64, map[string]json.RawMessage, bool) {
	payload, _, err := codec.DecodeRaw(codec.Schema{Kind: "HEAD", Current: 7, Min: 1}, body)
	if err != nil {
		return 0, nil, false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(payload, &m) != nil {
		return 0, nil, false
	}
	var gen uint64
	if raw, ok := m["sweep_gen"]; ok && json.Unmarshal(raw, &gen) != nil {
		return 0, nil, false
	}
	return gen, m, true
}

// keepGeneration is the rewrite of the fence-keeps-generation mutant: a
// head PUT that advances the stored head's sweep generation is written
// with the stored generation instead (still by compare-and-swap).
func keepGeneration(raw objstore.Store) rewriter {
	return func(ctx context.Context, op, key string, body []byte, put *objstore.PutOptions, _ *objstore.DeleteOptions) (bool, error) {
		if op != "put" || !isHead(key) {
			return false, nil
		}
		rc, _, err := raw.Get(ctx, key, nil)
		if err != nil {
			return false, nil
		}
		stored, _ := io.ReadAll(rc)
		rc.Close()
		old, _, ok1 := headSweepGen(stored)
		gen, m, ok2 := headSweepGen(body)
		if !ok1 || !ok2 || gen <= old {
			return false, nil
		}
		m["sweep_gen"], _ = json.Marshal(old)
		payload, _ := json.Marshal(m)
		data, err := codec.EncodeRaw(codec.Schema{Kind: "HEAD", Current: 7, Min: 1}, payload)
		if err != nil {
			return false, nil
		}
		_, err = raw.Put(ctx, key, data, put)
		return true, err
	}
}

// mutants: one per safety rule of docs/protocol.md. Each must be caught.
var mutants = []*mutant{
	{name: "commit-cas-dropped", rule: "session commits: the head PUT is a compare-and-swap", role: "writer",
		rewrite: func(objstore.Store) rewriter {
			return func(_ context.Context, op, key string, _ []byte, put *objstore.PutOptions, _ *objstore.DeleteOptions) (bool, error) {
				if op == "put" && isHead(key) {
					put.IfMatch, put.IfNoneMatch = "", false
				}
				return false, nil
			}
		}},
	{name: "head-fence-unconditional", rule: "head fence (W1, W2): SweepHead publishes by CAS on the head it read", role: "sweeper",
		rewrite: func(objstore.Store) rewriter {
			return func(_ context.Context, op, key string, _ []byte, put *objstore.PutOptions, _ *objstore.DeleteOptions) (bool, error) {
				if op == "put" && isHead(key) {
					put.IfMatch, put.IfNoneMatch = "", false
				}
				return false, nil
			}
		}},
	{name: "protect-skipped", rule: "A2: Protect reads the deletion fence before relying on data", role: "writer",
		rewrite: func(objstore.Store) rewriter {
			return func(_ context.Context, op, key string, _ []byte, _ *objstore.PutOptions, _ *objstore.DeleteOptions) (bool, error) {
				if (op == "get" || op == "head") && strings.HasPrefix(key, "gc/fence/") {
					return true, fmt.Errorf("%w: mutant: no fence", objstore.ErrNotExist)
				}
				return false, nil
			}
		}},
	{name: "existence-recheck-skipped", rule: "A2: Protect re-checks that the data still exists after reading the fence", role: "writer",
		rewrite: func(objstore.Store) rewriter {
			return func(_ context.Context, op, key string, _ []byte, _ *objstore.PutOptions, _ *objstore.DeleteOptions) (bool, error) {
				if op == "head" && strings.HasPrefix(key, manifest.DataPrefix) {
					return true, nil // "it exists"
				}
				return false, nil
			}
		}},
	{name: "announce-skipped", rule: "A3: a turn's attachment put announces the turn in the head before its row", role: "writer",
		rewrite: func(raw objstore.Store) rewriter {
			return func(ctx context.Context, op, key string, body []byte, _ *objstore.PutOptions, _ *objstore.DeleteOptions) (bool, error) {
				return op == "put" && isHead(key) && isAnnouncement(ctx, raw, key, body), nil
			}
		}},
	{name: "fence-keeps-generation", rule: "a head fence advances the sweep generation (W1, W2, adoption without a request)", role: "sweeper",
		rewrite: keepGeneration},
	{name: "row-removal-unconditional", rule: "Deletion: rows are removed only at the ETag judged", role: "deleter",
		rewrite: func(objstore.Store) rewriter {
			return func(_ context.Context, op, key string, _ []byte, put *objstore.PutOptions, del *objstore.DeleteOptions) (bool, error) {
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
// scheduler's observation catches it. Nor announce-skipped: a turn's commit
// then adopts none of its rows, so nothing it acknowledges is lost (the
// rows are reclaimed later as dead intents), which no read can tell from a
// turn that put nothing; the scheduler's check at publication catches it.
func TestReadersCatchMutants(t *testing.T) {
	for _, m := range mutants {
		if m.name == "head-fence-unconditional" || m.name == "announce-skipped" {
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
