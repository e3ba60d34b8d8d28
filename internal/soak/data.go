package soak

import (
	"encoding/binary"
	"io"
	"math/rand/v2"
)

// Stream returns a reader of size pseudo-random, incompressible bytes that
// hides its size (no Len, Seek or WriterTo: a "stream of unknown size").
// Streams of distinct seeds differ in every block, so they never
// deduplicate. It costs a memory copy per byte: a 4 MiB random block is
// repeated with the block number and seed stamped into every 4 KiB.
func Stream(seed uint64, size int64) io.Reader {
	const block = 4 << 20
	b := make([]byte, block)
	rng := rand.New(rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), 7}))
	for i := 0; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], rng.Uint64())
	}
	return &stream{seed: seed, left: size, block: b}
}

type stream struct {
	seed  uint64
	left  int64
	block []byte
	cur   []byte
	n     uint64
}

func (s *stream) Read(p []byte) (int, error) {
	if s.left <= 0 {
		return 0, io.EOF
	}
	if len(s.cur) == 0 {
		s.cur = s.block
		s.n++
		for i := 0; i < len(s.cur); i += 4096 {
			binary.LittleEndian.PutUint64(s.cur[i:], s.n^s.seed<<32)
			binary.LittleEndian.PutUint64(s.cur[i+8:], uint64(i))
		}
	}
	n := copy(p, s.cur[:min(int64(len(s.cur)), s.left)])
	s.cur = s.cur[n:]
	s.left -= int64(n)
	return n, nil
}

// Text returns n bytes of JSON-safe filler text: a JSON string body, so
// a session node's event can carry it.
func Text(seed uint64, n int) []byte {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789 "
	rng := rand.New(rand.NewPCG(seed, 99))
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return b
}
