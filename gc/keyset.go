package gc

import (
	"hash/maphash"
)

// keySet is a set of keys that answers "may contain": exact while it holds
// at most exactLimit keys, then a Bloom filter of fixed size. It only ever
// errs towards "contains", and the sweeper uses it only as "may be
// referenced", so a false positive keeps an orphan one sweep longer and never
// deletes anything: memory stays bounded whatever the bucket size, and
// safety does not depend on the filter.
type keySet struct {
	exactLimit int
	exact      map[string]struct{}
	bloom      []uint64 // nil while exact
	seed       maphash.Seed
}

// bloomBits is the Bloom filter size once a set overflows: 2^29 bits = 64
// MiB, about 1% false positives at 56 million keys with 7 hashes.
const (
	bloomBits   = 1 << 29
	bloomHashes = 7
)

func newKeySet(exactLimit int) *keySet {
	return &keySet{exactLimit: exactLimit, exact: map[string]struct{}{}, seed: maphash.MakeSeed()}
}

// Add inserts key.
func (s *keySet) Add(key string) {
	if s.bloom == nil {
		s.exact[key] = struct{}{}
		if len(s.exact) > s.exactLimit {
			s.overflow()
		}
		return
	}
	s.bloomAdd(key)
}

// Has reports whether key may be in the set (exactly, while not overflowed).
func (s *keySet) Has(key string) bool {
	if s.bloom == nil {
		_, ok := s.exact[key]
		return ok
	}
	h1, h2 := s.hashes(key)
	for i := range uint64(bloomHashes) {
		b := (h1 + i*h2) % bloomBits
		if s.bloom[b/64]&(1<<(b%64)) == 0 {
			return false
		}
	}
	return true
}

// Len returns the number of keys added while exact (-1 once overflowed).
func (s *keySet) Len() int {
	if s.bloom != nil {
		return -1
	}
	return len(s.exact)
}

func (s *keySet) overflow() {
	s.bloom = make([]uint64, bloomBits/64)
	for k := range s.exact {
		s.bloomAdd(k)
	}
	s.exact = nil
}

func (s *keySet) bloomAdd(key string) {
	h1, h2 := s.hashes(key)
	for i := range uint64(bloomHashes) {
		b := (h1 + i*h2) % bloomBits
		s.bloom[b/64] |= 1 << (b % 64)
	}
}

func (s *keySet) hashes(key string) (uint64, uint64) {
	h1 := maphash.String(s.seed, key)
	h2 := maphash.String(s.seed, key+"\x00") | 1
	return h1, h2
}
