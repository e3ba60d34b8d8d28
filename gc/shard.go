package gc

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/stowage-dev/stowage/fence"
	"github.com/stowage-dev/stowage/objstore"
)

// Shard is the part of the bucket one sweeper owns: shard Index of Count
// (`--shard i/n`). Data keys belong to the fence shards f with f%Count ==
// Index, so a sweeper alone owns the fence objects it drives; sessions (and
// their refs and objects) belong by the same hash of the session id. The zero
// value is the whole bucket (0 of 1).
type Shard struct {
	Index int
	Count int
}

// ParseShard parses "i/n".
func ParseShard(s string) (Shard, error) {
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil {
		return Shard{}, errorf("shard %q: want i/n: %w", s, objstore.ErrInvalidArgument)
	}
	sh := Shard{Index: i, Count: n}
	if n < 1 {
		return Shard{}, errorf("shard %q: count must be at least 1: %w", s, objstore.ErrInvalidArgument)
	}
	if err := sh.Validate(); err != nil {
		return Shard{}, err
	}
	return sh, nil
}

func (s Shard) norm() Shard {
	if s.Count == 0 && s.Index == 0 {
		return Shard{Index: 0, Count: 1}
	}
	return s
}

// Validate checks 0 <= Index < Count <= fence.Shards.
func (s Shard) Validate() error {
	s = s.norm()
	if s.Count < 1 || s.Count > fence.Shards || s.Index < 0 || s.Index >= s.Count {
		return errorf("shard %d/%d: want 0 <= i < n <= %d: %w", s.Index, s.Count, fence.Shards, objstore.ErrInvalidArgument)
	}
	return nil
}

// String returns "i/n".
func (s Shard) String() string {
	s = s.norm()
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}

// Label returns "i-of-n": the shard in logs (key "shard"), lease keys and
// the sweeper's metrics.
func (s Shard) Label() string {
	s = s.norm()
	return fmt.Sprintf("%d-of-%d", s.Index, s.Count)
}

// ownsFence reports whether fence shard f belongs to s.
func (s Shard) ownsFence(f int) bool {
	s = s.norm()
	return f%s.Count == s.Index
}

// ownsKey reports whether a data key (or any key hashed the same way, such
// as a session id) belongs to s.
func (s Shard) ownsKey(key string) bool { return s.ownsFence(fence.ShardOf(key)) }

// fenceShards lists the fence shards of s.
func (s Shard) fenceShards() []int {
	var out []int
	for f := range fence.Shards {
		if s.ownsFence(f) {
			out = append(out, f)
		}
	}
	return out
}
