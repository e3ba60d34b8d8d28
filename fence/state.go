package fence

import (
	"fmt"
	"hash/fnv"
	"slices"

	"github.com/stowage-dev/stowage/internal/codec"
)

// Shards is the number of fence shards. It is part of the bucket format:
// writers and sweepers must agree on it, so it never changes.
const Shards = 64

// MaxKeys bounds the keys one epoch may condemn, so that a fence object stays
// small (about 40 bytes a key) for the writers that revalidate it.
const MaxKeys = 4096

// keyPrefix is where the fence objects live.
const keyPrefix = "gc/fence/"

// schema is the envelope of a fence object (package codec). A reader that
// finds an unknown version fails rather than guess.
var schema = codec.Schema{Kind: "FNCE", Current: 1, Min: 1}

// ShardOf returns the fence shard of a data key: FNV-1a (32 bit) of the key
// modulo Shards.
func ShardOf(dataKey string) int {
	h := fnv.New32a()
	h.Write([]byte(dataKey))
	return int(h.Sum32() % Shards)
}

// Key returns the object key of shard's fence.
func Key(shard int) string { return fmt.Sprintf("%s%02d", keyPrefix, shard) }

// Prefix is the key prefix under which all fence objects live.
const Prefix = keyPrefix

// Phase is the phase of a fence shard.
type Phase string

// Phases.
const (
	// Idle: no sweep holds the shard.
	Idle Phase = "idle"
	// Marking: a sweep condemned State.Keys; writers may revoke them.
	Marking Phase = "marking"
	// Deleting: a sweep armed State.Keys; they will be deleted.
	Deleting Phase = "deleting"
)

// Holder names the sweep holding a shard: the lease it holds (a key in the
// store), that lease's fencing token, and a free-form id for logs.
type Holder struct {
	Lease string `json:"lease,omitempty"`
	Token uint64 `json:"token,omitempty"`
	ID    string `json:"id,omitempty"`
}

// IsZero reports whether h names nobody.
func (h Holder) IsZero() bool { return h == Holder{} }

// State is the content of a fence object.
type State struct {
	// Epoch counts sweeps of the shard; Release increments it.
	Epoch uint64 `json:"epoch"`
	// Phase is Idle, Marking or Deleting.
	Phase Phase `json:"phase"`
	// Holder is the sweep holding the shard (zero when Idle).
	Holder Holder `json:"holder,omitzero"`
	// Keys are sorted and distinct: the candidates while Marking, the armed
	// keys while Deleting, empty when Idle.
	Keys []string `json:"keys,omitempty"`
	// Revoked are the candidates writers revoked (sorted; Marking only).
	Revoked []string `json:"revoked,omitempty"`
}

// Condemned reports whether key is a candidate not yet revoked (Marking).
func (s *State) Condemned(key string) bool {
	return s.Phase == Marking && contains(s.Keys, key) && !contains(s.Revoked, key)
}

// Armed reports whether key is armed for deletion (Deleting).
func (s *State) Armed(key string) bool {
	return s.Phase == Deleting && contains(s.Keys, key)
}

func contains(sorted []string, key string) bool {
	_, ok := slices.BinarySearch(sorted, key)
	return ok
}

// insert returns sorted with key added (sorted stays sorted and distinct).
func insert(sorted []string, key string) []string {
	i, ok := slices.BinarySearch(sorted, key)
	if ok {
		return sorted
	}
	return slices.Insert(slices.Clone(sorted), i, key)
}

func (s *State) validate() error {
	switch s.Phase {
	case Idle:
		if len(s.Keys) != 0 || len(s.Revoked) != 0 {
			return fmt.Errorf("idle fence holds %d keys", len(s.Keys)+len(s.Revoked))
		}
	case Marking, Deleting:
		if s.Phase == Deleting && len(s.Revoked) != 0 {
			return fmt.Errorf("deleting fence holds revocations")
		}
	default:
		return fmt.Errorf("unknown phase %q", s.Phase)
	}
	if !isSortedSet(s.Keys) || !isSortedSet(s.Revoked) {
		return fmt.Errorf("fence key lists are not sorted sets")
	}
	return nil
}

func isSortedSet(keys []string) bool {
	for i := 1; i < len(keys); i++ {
		if keys[i-1] >= keys[i] {
			return false
		}
	}
	return true
}

func encodeState(s State) ([]byte, error) {
	if err := s.validate(); err != nil {
		return nil, errorf("encode: %w", err)
	}
	return codec.Encode(schema, s)
}

func decodeState(data []byte) (State, error) {
	var s State
	if _, err := codec.Decode(schema, data, &s); err != nil {
		return State{}, errorf("decode: %w", err)
	}
	if err := s.validate(); err != nil {
		return State{}, errorf("decode: %w", err)
	}
	return s, nil
}
